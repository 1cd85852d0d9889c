"""The training input pipeline: seeded, per-epoch reshuffled, augmented clips of each track, each
process's rows of one global batch, resumable iterators, stored flow cut with the clip."""
import jax
import numpy as np
import pytest

from emojax.data import pipeline
from emojax.data.video import fixed_interval_indices
from emojax.evaluate import views

from conftest import random_source, tiny_config


def _config(**kw):
  """4 frames of 16 pixels from 20-pixel crops: a crop margin of 0.25 resizes nothing."""
  settings = {'num_frames': 4, 'image_size': 16, 'batch_size': 2, 'eval_batch_size': 4,
              'augment.crop_margin': 0.25, **kw}
  return tiny_config(**settings)


def test_train_batches_shapes_and_dtypes():
  config = _config()
  it = iter(pipeline.train_dataset(random_source(), np.arange(10), config, seed=0))
  batch = next(it)
  assert batch['clip'].shape == (2, 4, 16, 16, 3) and batch['clip'].dtype == np.uint8
  assert batch['label'].dtype == np.int32


NO_AUGMENT = {'augment.random_crop': False, 'augment.flip': False, 'augment.brightness': 0.0,
              'augment.contrast': 0.0, 'augment.temporal_jitter': 0}


def _identities(source, indices, config, seed, num_batches):
  """Which source example each training clip is, for `num_batches` batches (no augmentation)."""
  crops = {views.video_views(source[i], config)['clip'][0].tobytes(): i
           for i in range(len(source))}
  it = iter(pipeline.train_dataset(source, indices, config, seed=seed))
  return [[crops[c.tobytes()] for c in next(it)['clip']] for _ in range(num_batches)]


def test_seeded_shuffle_is_deterministic_and_reshuffles_each_epoch():
  config = _config(**NO_AUGMENT)
  source = random_source()
  a = _identities(source, np.arange(10), config, 0, 10)  # two epochs of 5 batches
  assert a == _identities(source, np.arange(10), config, 0, 10)
  assert a != _identities(source, np.arange(10), config, 1, 10)
  first, second = sum(a[:5], []), sum(a[5:], [])
  assert sorted(first) == sorted(second) == list(range(10))  # each example once per epoch
  assert first != second


def test_only_the_given_indices_are_used():
  config = _config(**NO_AUGMENT)
  seen = sum(_identities(random_source(), [1, 3, 5, 7], config, 0, 4), [])
  assert sorted(seen) == [1, 1, 3, 3, 5, 5, 7, 7]


def test_iterator_position_restores():
  config = _config()
  it = iter(pipeline.train_dataset(random_source(), np.arange(10), config, seed=0))
  for _ in range(3):
    next(it)
  state = it.get_state()
  expected = [next(it)['clip'] for _ in range(4)]
  fresh = iter(pipeline.train_dataset(random_source(), np.arange(10), config, seed=0))
  fresh.set_state(state)
  for want in expected:
    np.testing.assert_array_equal(next(fresh)['clip'], want)


def test_processes_load_their_rows_of_one_global_batch_with_their_own_augmentations():
  """Two processes' shares of each batch make the batch one process draws (so a run does not
  depend on its process count); on identical videos their augmentations still differ."""
  config = _config(batch_size=4)
  source = random_source()
  whole = iter(pipeline.train_dataset(source, np.arange(10), config, seed=0, process=(0, 1)))
  shares = [iter(pipeline.train_dataset(source, np.arange(10), config, seed=0, process=(k, 2)))
            for k in range(2)]
  for _ in range(6):  # beyond an epoch
    batch, parts = next(whole), [next(it) for it in shares]
    for key in ('clip', 'label'):
      np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), batch[key])
  same = [random_source(1)[0]] * 8
  first = [next(iter(pipeline.train_dataset(same, np.arange(8), config, seed=0, process=(k, 2))))
           for k in range(2)]
  assert not np.array_equal(first[0]['clip'], first[1]['clip'])


def test_augmentation_changes_pixels_but_keeps_range():
  config = _config()
  example = random_source(1)[0]
  rng = np.random.default_rng(0)
  outs = [pipeline.train_transform(example, rng, config)['clip'] for _ in range(8)]
  assert all(o.shape == (4, 16, 16, 3) and o.dtype == np.uint8 for o in outs)
  assert len({o.tobytes() for o in outs}) > 1


def test_training_draws_a_fresh_clip_of_the_track_each_epoch():
  """One video of 40 stored frames, 4-frame clips: the frames differ epoch to epoch and, over the
  epochs, every stored frame is used."""
  config = _config(batch_size=1, **NO_AUGMENT)
  clip = np.zeros((40, 20, 20, 3), np.uint8)
  clip[:] = np.arange(40, dtype=np.uint8)[:, None, None, None]  # each frame shows its index
  source = [{'clip': clip, 'label': 0, 'subject': b'S0', 'video_id': b'v0'}]
  it = iter(pipeline.train_dataset(source, [0], config, seed=0))
  epochs = [next(it)['clip'][0, :, 0, 0, 0] for _ in range(30)]
  assert len({e.tobytes() for e in epochs}) > 10
  assert set(np.concatenate(epochs).tolist()) == set(range(40))


def test_the_stored_crop_is_resized_to_the_model_input_not_cut():
  """Stored 20-pixel faces, 8-pixel input, no margin: the input shows the whole face, shrunk."""
  config = _config(image_size=8, **{**NO_AUGMENT, 'augment.crop_margin': 0.0})
  clip = np.zeros((4, 20, 20, 3), np.uint8)
  clip[:, :, :2] = clip[:, :, -2:] = 255  # stripes at the left and right edges of the crop
  example = {'clip': clip, 'label': 0}
  for out in (views.video_views(example, config)['clip'][0],
              pipeline.train_transform(example, np.random.default_rng(0), config)['clip']):
    assert out.shape == (4, 8, 8, 3)
    assert out[:, :, 0].min() > 100 and out[:, :, -1].min() > 100  # both stripes survive
    assert out[:, :, 2:-2].max() == 0


def test_batch_size_must_split_over_devices(monkeypatch):
  """On 2 processes with 4 devices in all, a global batch of 8 is 4 per process; 6 cannot split."""
  monkeypatch.setattr(jax, 'device_count', lambda: 4)
  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  assert pipeline.process_batch_size(8) == 4
  with pytest.raises(ValueError, match=r'config.eval_batch_size=6 must be a multiple of the '
                     r'number of devices \(4\)'):
    pipeline.process_batch_size(6, 'config.eval_batch_size')


def test_worker_processes_give_the_same_batches():
  in_process = _identities(random_source(), np.arange(10), _config(**NO_AUGMENT), 0, 5)
  workers = _identities(random_source(), np.arange(10),
                        _config(data_workers=1, **NO_AUGMENT), 0, 5)
  assert workers == in_process


def test_stored_flow_is_cut_and_mirrored_with_the_clip():
  from emojax.data import flow

  example = random_source(1)[0]
  example['flow'] = np.random.default_rng(1).integers(0, 256, example['clip'].shape, np.uint8)
  config = _config(**{
      'augment.brightness': 0.0, 'augment.contrast': 0.0, 'augment.random_crop': False,
      'augment.temporal_jitter': 0})
  config.flow.method = 'farneback'
  window = (fixed_interval_indices(4, 4), slice(2, 18), slice(2, 18))
  rgb, stored = example['clip'][window], example['flow'][window]
  out = views.video_views(example, config)['clip'][0]
  assert out.shape == (4, 16, 16, 6)
  np.testing.assert_array_equal(out[..., :3], rgb)
  np.testing.assert_array_equal(out[..., 3:], stored)
  seen = set()
  for seed in range(8):
    got = pipeline.train_transform(example, np.random.default_rng(seed), config)['clip']
    if np.array_equal(got[..., :3], rgb):
      np.testing.assert_array_equal(got[..., 3:], stored)
      seen.add('plain')
    else:
      np.testing.assert_array_equal(got[..., :3], rgb[:, :, ::-1])
      np.testing.assert_array_equal(got[..., 3:], flow.mirror_flow_images(stored[:, :, ::-1]))
      seen.add('flipped')
  assert seen == {'plain', 'flipped'}
