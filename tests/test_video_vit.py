"""The video ViT: tubelets, shapes, bfloat16 compute, sizes, the registry, layer-wise lr decay."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from conftest import random_variables, tiny_config
from emojax import models
from emojax.models import video_vit

TINY = dict(patch_size=8, embed_dim=8, depth=2, num_heads=2)  # depth 2: layer ids of two blocks
CLIP = (2, 4, 32, 24, 3)  # 2 x 4 x 3 tubelets of 2 x 8 x 8


def _clip(shape=CLIP, seed=0):
  return jax.random.uniform(jax.random.key(seed), shape, minval=-1.0, maxval=1.0)


def _count(model, shape):
  variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(variables['params']))


def test_patchify_lays_out_tokens_in_t_h_w_order_and_unpatchify_inverts_it():
  clip = np.random.default_rng(0).standard_normal(CLIP).astype(np.float32)
  tokens = video_vit.patchify(clip, 2, 8)
  assert tokens.shape == (2, 2 * 4 * 3, 2 * 8 * 8 * 3)
  t, h, w = 1, 2, 1  # token (t, h, w) of the 2 x 4 x 3 grid
  k = (t * 4 + h) * 3 + w
  expected = clip[1, 2 * t:2 * t + 2, 8 * h:8 * h + 8, 8 * w:8 * w + 8].reshape(-1)
  np.testing.assert_array_equal(tokens[1, k], expected)
  np.testing.assert_array_equal(video_vit.unpatchify(tokens, (2, 4, 3), 2, 8), clip)


@pytest.mark.parametrize('shape, setting', [((1, 5, 32, 32, 3), 'config.num_frames=5'),
                                            ((1, 4, 30, 32, 3), 'config.image_size=30x32')])
def test_clip_that_does_not_tile_names_the_setting(shape, setting):
  with pytest.raises(ValueError, match=setting):
    video_vit.token_grid(shape, 2, 8)


def _key(seed):
  """A PRNG key whose random initialisers compile in a fraction of threefry's time on CPU."""
  return jax.random.key(seed, impl='unsafe_rbg')


def test_logits_shape_and_float32_with_bfloat16_compute():
  model = video_vit.VideoViT(num_classes=5, dtype=jnp.bfloat16, **TINY)

  def run(x):
    variables = model.init(_key(0), x, train=False)
    return variables, model.apply(variables, x, train=False, capture_intermediates=True)

  variables, (logits, state) = jax.eval_shape(run, _clip())
  assert logits.shape == (2, 5) and logits.dtype == jnp.float32
  assert {p.dtype for p in jax.tree.leaves(variables['params'])} == {jnp.dtype(jnp.float32)}
  tokens, = state['intermediates']['encoder']['__call__']
  hidden, = state['intermediates']['encoder']['block_1']['mlp']['fc1']['__call__']
  assert tokens.dtype == hidden.dtype == jnp.bfloat16


def test_sinusoidal_positions_make_the_output_depend_on_token_order():
  """Without positions a mean-pooled transformer could not tell a clip from its time reversal."""
  model = video_vit.VideoViT(num_classes=3, **{**TINY, 'depth': 1})
  x = _clip()
  logits = jax.jit(lambda v, x: model.apply(v, x, train=False))(
      random_variables(model, x, train=False), jnp.concatenate([x, x[:, ::-1]]))
  assert np.abs(np.asarray(logits[:2] - logits[2:])).max() > 1e-4


def test_learned_positions_are_a_parameter_and_unknown_positional_names_the_setting():
  model = video_vit.VideoViT(num_classes=3, positional='learned', **TINY)
  params = jax.eval_shape(lambda: model.init(jax.random.key(0), _clip(), train=False))['params']
  assert params['encoder']['pos_embed'].shape == (2 * 4 * 3, 8)
  with pytest.raises(ValueError, match="config.model.positional='rope'"):
    jax.eval_shape(video_vit.VideoViT(num_classes=3, positional='rope', **TINY).init,
                   jax.random.key(0), _clip(), train=False)


def test_fused_attention_is_flaxs_dot_product_attention_and_names_its_setting():
  q, k, v = (np.random.default_rng(i).standard_normal((2, 5, 2, 4)).astype(np.float32)
             for i in range(3))
  np.testing.assert_allclose(video_vit.fused_attention(q, k, v),
                             nn.dot_product_attention(q, k, v), atol=1e-6)
  with pytest.raises(ValueError, match="config.model.attention_impl='flash'"):
    video_vit.fused_attention(q, k, v, implementation='flash')


def test_drop_path_drops_whole_samples_in_training():
  block = video_vit.ViTBlock(num_heads=2, drop_path_rate=0.5)
  x = _clip((16, 6, 8))
  out = jax.jit(lambda v, x: block.apply(v, x, train=True, rngs={'dropout': _key(1)}))(
      random_variables(block, x, train=False), x)
  changed = np.abs(np.asarray(out - x)).max(axis=(1, 2)) > 0
  assert changed.any() and not changed.all()  # some samples lost both branches: output = input


@pytest.mark.parametrize('variant, videomae_count', [
    (video_vit.VideoViTSmall, 22_033_936), (video_vit.VideoViTBase, 86_534_800)])
def test_vit_s_and_b_have_videomaes_parameter_count_plus_the_key_biases(variant, videomae_count):
  """VideoMAE's `vit_small/base_patch16_224` with 400 classes, counted from its modules (patch
  embedding, 12 blocks with q and v biases, fc_norm, head); Flax's attention adds a key bias."""
  model = variant(num_classes=400)
  assert _count(model, (1, 16, 224, 224, 3)) == videomae_count + model.depth * model.embed_dim


def test_registry_builds_the_vit_from_the_config_model_block():
  config = tiny_config()
  with config.unlocked():
    config.model = ml_collections.ConfigDict(dict(name='video_vit', dtype='bfloat16', **TINY))
  model = models.create_model(config)
  assert isinstance(model, video_vit.VideoViT)
  assert model.dtype == jnp.bfloat16 and model.num_classes == config.num_classes
  models.check_input(model, config)


def _vit_params(depth=2):
  model = video_vit.VideoViT(num_classes=3, **{**TINY, 'depth': depth})
  return jax.eval_shape(lambda: model.init(jax.random.key(0), _clip(), train=False))['params']


def test_layer_ids_embedding_zero_blocks_in_order_head_last():
  ids = video_vit.layer_ids(_vit_params(depth=3))
  assert ids['encoder']['patch_embed'] == {'kernel': 0, 'bias': 0}
  assert {ids['encoder'][f'block_{i}']['mlp']['fc2']['kernel'] for i in range(3)} == {1, 2, 3}
  assert set(jax.tree.leaves(ids['encoder']['block_1'])) == {2}
  assert set(jax.tree.leaves([ids['fc_norm'], ids['head']])) == {4}
