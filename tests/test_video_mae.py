"""VideoMAE pretraining: tube masking, the encoder on visible tokens, targets, the masked loss, the
pretrain -> fine-tune transfer of the encoder, and the reconstruction figure."""
import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import random_variables
from emojax.models import video_mae, video_vit

ENCODER = dict(patch_size=8, embed_dim=8, depth=1, num_heads=2)
MAE = dict(ENCODER, decoder_dim=8, decoder_depth=1, decoder_num_heads=2, mask_ratio=0.75)
CLIP = (2, 4, 32, 32, 3)  # tubelets 2 x 8 x 8: a 2 x 4 x 4 grid, 12 of 16 positions masked
GRID = (2, 4, 4)
PIXELS = 2 * 8 * 8 * 3


def _key(seed):
  return jax.random.key(seed, impl='unsafe_rbg')


def _clip(seed=0, shape=CLIP):
  return jax.random.uniform(jax.random.key(seed), shape, minval=-1.0, maxval=1.0)


@pytest.fixture(scope='module')
def mae():
  """The tiny model, variables, and one jitted apply drawing the mask from a key."""
  model = video_mae.VideoMAE(**MAE)
  variables = random_variables(model, _clip(), train=False)
  apply = jax.jit(lambda v, x, key: model.apply(v, x, train=False, rngs={'mask': key}))
  return model, variables, apply


def test_tube_mask_masks_the_exact_ratio_at_the_same_places_in_every_time_slot():
  mask = np.asarray(video_mae.tube_mask(_key(0), 8, (3, 4, 5), 0.9))
  slots = mask.reshape(8, 3, 20)
  assert (slots.sum(axis=2) == 18).all()  # int(0.9 * 20) in every slot of every clip
  assert (slots == slots[:, :1]).all()
  assert len({row.tobytes() for row in slots[:, 0]}) > 1  # differs between clips


def test_tube_mask_is_reproducible_from_the_key():
  def draw(key):
    return np.asarray(video_mae.tube_mask(key, 4, GRID, 0.75))
  np.testing.assert_array_equal(draw(_key(3)), draw(_key(3)))
  assert (draw(_key(3)) != draw(_key(4))).any()


def test_a_mask_ratio_that_leaves_nothing_visible_names_the_setting():
  with pytest.raises(ValueError, match='config.model.mask_ratio=1.0'):
    video_mae.tube_mask(_key(0), 1, GRID, 1.0)


def test_decoder_predicts_the_pixels_of_every_tubelet_under_a_given_mask(mae):
  model, variables, _ = mae
  mask = video_mae.tube_mask(_key(2), 2, GRID, 0.75)
  outputs = jax.eval_shape(lambda v, x: model.apply(v, x, train=False, mask=mask), variables,
                           _clip())
  assert outputs['prediction'].shape == outputs['target'].shape == (2, 32, PIXELS)
  assert outputs['mask'].shape == (2, 32)


def test_the_mask_rng_stream_draws_a_tube_mask(mae):
  _, variables, apply = mae
  first, again, other = (np.asarray(apply(variables, _clip(), _key(k))['mask']) for k in (5, 5, 6))
  slots = first.reshape(2, 2, 16)
  assert (slots.sum(axis=2) == 12).all() and (slots[:, 0] == slots[:, 1]).all()
  np.testing.assert_array_equal(first, again)
  assert (first != other).any()


def test_masked_tubelets_never_reach_the_encoder(mae):
  """Changing the pixels under the mask changes the target there, never the prediction."""
  _, variables, apply = mae
  x = _clip()
  before = apply(variables, x, _key(2))
  mask = before['mask']
  noise = video_vit.patchify(_clip(seed=9), 2, 8)
  changed = video_vit.unpatchify(jnp.where(mask[..., None], noise, video_vit.patchify(x, 2, 8)),
                                 GRID, 2, 8)
  after = apply(variables, changed, _key(2))
  np.testing.assert_allclose(before['prediction'], after['prediction'], atol=1e-6)
  target_moved = np.abs(np.asarray(before['target'] - after['target'])).max(axis=-1) > 0
  np.testing.assert_array_equal(target_moved, mask)


def _outputs(seed=0):
  rng = np.random.default_rng(seed)
  mask = np.zeros((2, 6), bool)
  mask[:, [1, 2, 4]] = True
  return {'prediction': rng.standard_normal((2, 6, 5)).astype(np.float32),
          'target': rng.standard_normal((2, 6, 5)).astype(np.float32), 'mask': mask}


def test_loss_is_the_mean_squared_error_of_the_masked_tubelets():
  out = _outputs()
  expected = np.mean((out['prediction'][out['mask']] - out['target'][out['mask']]) ** 2)
  np.testing.assert_allclose(video_mae.masked_reconstruction_loss(out), expected, rtol=1e-6)


def test_loss_ignores_predictions_of_visible_tubelets():
  out = _outputs()
  loss = video_mae.masked_reconstruction_loss(out)
  visible = {**out, 'prediction': np.where(out['mask'][..., None], out['prediction'], 100.0)}
  np.testing.assert_allclose(video_mae.masked_reconstruction_loss(visible), loss, rtol=1e-6)
  masked = {**out, 'prediction': out['prediction'].copy()}
  masked['prediction'][0, 2] = out['target'][0, 2] + 10.0
  assert video_mae.masked_reconstruction_loss(masked) > loss


def test_targets_are_each_tubelets_pixels_normalised_per_channel():
  x = _clip()
  target = np.asarray(video_mae.patch_targets(x, 2, 8)).reshape(2, 32, 128, 3)
  np.testing.assert_allclose(target.mean(axis=2), 0.0, atol=1e-5)
  np.testing.assert_allclose(target.std(axis=2, ddof=1), 1.0, atol=1e-4)
  # A tubelet's target is its own pixels' pattern: brightness and contrast do not change it.
  grid = video_vit.patchify(x, 2, 8)
  graded = video_vit.unpatchify(grid.at[:, 5].set(0.3 * grid[:, 5] - 0.2), GRID, 2, 8)
  np.testing.assert_allclose(video_mae.patch_targets(graded, 2, 8), target.reshape(2, 32, -1),
                             atol=2e-4)
  raw = video_mae.patch_targets(x, 2, 8, normalize=False)
  np.testing.assert_allclose(raw, (video_vit.patchify(x, 2, 8) + 1) / 2, atol=1e-6)


def test_the_loss_trains_every_part(mae):
  model, variables, _ = mae

  @jax.jit
  def grads(params, x):
    loss = lambda p: video_mae.masked_reconstruction_loss(
        model.apply({'params': p}, x, train=True, rngs={'mask': _key(2)}))
    return jax.grad(loss)(params)

  g = grads(variables['params'], _clip())
  for part in (g['encoder']['patch_embed'], g['encoder']['block_0'], g['encoder_norm'],
               g['encoder_to_decoder'], g['mask_token'], g['decoder']['block_0'],
               g['decoder']['head']):
    assert max(float(jnp.abs(leaf).max()) for leaf in jax.tree.leaves(part)) > 0


def test_bfloat16_computes_in_bfloat16_and_returns_float32(mae):
  model = video_mae.VideoMAE(**MAE, dtype=jnp.bfloat16)
  outputs, state = jax.eval_shape(
      lambda v, x: model.apply(v, x, train=False, rngs={'mask': _key(0)},
                               capture_intermediates=True), mae[1], _clip())
  assert outputs['prediction'].dtype == outputs['target'].dtype == jnp.float32
  assert state['intermediates']['encoder']['__call__'][0].dtype == jnp.bfloat16
  assert state['intermediates']['decoder']['block_0']['__call__'][0].dtype == jnp.bfloat16


def _write_png(path, rgb):
  """The figure as a person would look at it (the run writes the same array)."""
  assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
  return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_reconstruction_grid_rows_original_masked_and_reconstructed(tmp_path):
  """A perfect prediction (the target itself) reconstructs the original; the masked row is grey
  exactly where the mask is."""
  x = np.asarray(_clip())
  mask = np.asarray(video_mae.tube_mask(_key(2), 2, GRID, 0.75))
  target = np.asarray(video_mae.patch_targets(x, 2, 8))
  image = video_mae.reconstruction_grid(x[0], target[0], mask[0], tubelet_size=2, patch_size=8,
                                        num_frames=4)
  assert image.shape == (3 * 32, 4 * 32, 3) and image.dtype == np.uint8
  original, masked, reconstructed = image[:32], image[32:64], image[64:]
  assert np.abs(reconstructed.astype(int) - original).max() <= 1
  grey = video_vit.unpatchify(mask[:1, :, None] * np.ones((1, 1, PIXELS)), GRID, 2, 8)[0]
  grey = np.concatenate(list(grey[[0, 1, 2, 3]]), axis=1).astype(bool)
  assert (masked[grey] == 128).all()
  np.testing.assert_array_equal(masked[~grey], original[~grey])
  np.testing.assert_array_equal(_write_png(tmp_path / 'reconstruction.png', image), image)
