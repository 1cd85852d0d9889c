import jax
import numpy as np
import pytest

from emojax.data import pipeline


def _source(n=10, frames=6, size=20):
  rng = np.random.default_rng(0)
  return [{'clip': rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8), 'label': i % 3,
           'subject': f'S{i // 2}'.encode(), 'video_id': f'v{i}'.encode()} for i in range(n)]


def _config(make_config, **kw):
  return make_config(num_frames=4, image_size=16, batch_size=2, eval_batch_size=4, **kw)


def test_train_batches_shapes_and_dtypes(make_config):
  config = _config(make_config)
  it = iter(pipeline.train_dataset(_source(), np.arange(10), config, seed=0))
  batch = next(it)
  assert batch['clip'].shape == (2, 4, 16, 16, 3) and batch['clip'].dtype == np.uint8
  assert batch['label'].dtype == np.int32


NO_AUGMENT = {'augment.random_crop': False, 'augment.flip': False, 'augment.brightness': 0.0,
              'augment.contrast': 0.0, 'augment.temporal_jitter': 0}


def _identities(source, indices, config, seed, num_batches):
  """Which source example each training clip is, for `num_batches` batches (no augmentation)."""
  crops = {pipeline.eval_transform(source[i], config)['clip'].tobytes(): i for i in range(len(source))}
  it = iter(pipeline.train_dataset(source, indices, config, seed=seed))
  return [[crops[c.tobytes()] for c in next(it)['clip']] for _ in range(num_batches)]


def test_seeded_shuffle_is_deterministic_and_reshuffles_each_epoch(make_config):
  config = _config(make_config, **NO_AUGMENT)
  source = _source()
  a = _identities(source, np.arange(10), config, 0, 10)  # two epochs of 5 batches
  assert a == _identities(source, np.arange(10), config, 0, 10)
  assert a != _identities(source, np.arange(10), config, 1, 10)
  first, second = sum(a[:5], []), sum(a[5:], [])
  assert sorted(first) == sorted(second) == list(range(10))  # each example once per epoch
  assert first != second


def test_only_the_given_indices_are_used(make_config):
  config = _config(make_config, **NO_AUGMENT)
  seen = sum(_identities(_source(), [1, 3, 5, 7], config, 0, 4), [])
  assert sorted(seen) == [1, 1, 3, 3, 5, 5, 7, 7]


def test_iterator_position_restores(make_config):
  config = _config(make_config)
  it = iter(pipeline.train_dataset(_source(), np.arange(10), config, seed=0))
  for _ in range(3):
    next(it)
  state = it.get_state()
  expected = [next(it)['clip'] for _ in range(4)]
  fresh = iter(pipeline.train_dataset(_source(), np.arange(10), config, seed=0))
  fresh.set_state(state)
  for want in expected:
    np.testing.assert_array_equal(next(fresh)['clip'], want)


def test_augmentation_changes_pixels_but_keeps_range(make_config):
  config = _config(make_config)
  example = _source(1)[0]
  rng = np.random.default_rng(0)
  outs = [pipeline.train_transform(example, rng, config)['clip'] for _ in range(8)]
  assert all(o.shape == (4, 16, 16, 3) and o.dtype == np.uint8 for o in outs)
  assert len({o.tobytes() for o in outs}) > 1


def test_temporal_indices_are_sorted_and_in_range():
  rng = np.random.default_rng(0)
  for _ in range(20):
    idx = pipeline.temporal_indices(16, 8, rng, jitter=2)
    assert (np.diff(idx) >= 0).all() and idx.min() >= 0 and idx.max() <= 15
  np.testing.assert_array_equal(pipeline.temporal_indices(7, 7), np.arange(7))


def test_eval_batches_pad_with_mask(make_config):
  config = _config(make_config)
  batches = list(pipeline.eval_batches(_source(), np.arange(10), config))
  assert [b['clip'].shape[0] for b in batches] == [4, 4, 4]
  assert [int(b['mask'].sum()) for b in batches] == [4, 4, 2]
  assert np.concatenate([b['label'][b['mask']] for b in batches]).tolist() == [
      i % 3 for i in range(10)]
  again = list(pipeline.eval_batches(_source(), np.arange(10), config))
  np.testing.assert_array_equal(batches[0]['clip'], again[0]['clip'])


def test_read_index_and_size_check(make_config):
  source = _source()
  index = pipeline.read_index(source, ['a', 'b', 'c'])
  assert index.subjects.tolist()[:3] == ['S0', 'S0', 'S1'] and index.labels[4] == 1
  with pytest.raises(ValueError, match='config.image_size=64'):
    pipeline.check_example_size(source, make_config(image_size=64))


def test_batch_size_must_split_over_devices(monkeypatch):
  """On 2 processes with 4 devices in all, a global batch of 8 is 4 per process; 6 cannot split."""
  monkeypatch.setattr(jax, 'device_count', lambda: 4)
  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  assert pipeline.process_batch_size(8) == 4
  with pytest.raises(ValueError, match=r'config.eval_batch_size=6 must be a multiple of the '
                     r'number of devices \(4\)'):
    pipeline.process_batch_size(6, 'config.eval_batch_size')


def test_worker_processes_give_the_same_batches(make_config):
  in_process = _identities(_source(), np.arange(10), _config(make_config, **NO_AUGMENT), 0, 5)
  workers = _identities(_source(), np.arange(10),
                        _config(make_config, data_workers=1, **NO_AUGMENT), 0, 5)
  assert workers == in_process


def test_stored_flow_is_cut_and_mirrored_with_the_clip(make_config):
  from emojax.data import flow

  example = _source(1)[0]
  example['flow'] = np.random.default_rng(1).integers(0, 256, example['clip'].shape, np.uint8)
  config = make_config(num_frames=4, image_size=16, **{
      'augment.brightness': 0.0, 'augment.contrast': 0.0, 'augment.random_crop': False,
      'augment.temporal_jitter': 0})
  with config.unlocked():
    config.flow = {'method': 'farneback'}
  window = (pipeline.temporal_indices(6, 4), slice(2, 18), slice(2, 18))
  rgb, stored = example['clip'][window], example['flow'][window]
  out = pipeline.eval_transform(example, config)['clip']
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


def test_unknown_dataset_names_the_setting(make_config):
  from emojax.train import datasets
  with pytest.raises(ValueError, match="config.dataset.name='nonexistent'"):
    datasets.load_source(make_config(**{'dataset.name': 'nonexistent'}))
