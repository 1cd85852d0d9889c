"""emojax: facial-emotion recognition from video in JAX/Flax.

    import emojax
    model = emojax.create_model(config)
    restored = emojax.restore(workdir)   # .config, .model, .variables, .class_names
    logits = restored.model.apply(restored.variables, clips, train=False)
    prediction = emojax.predict_video('video.mp4', restored=restored, out_dir='out')

`import emojax` only sets XLA:CPU flags: the attributes above import their modules (JAX, Orbax,
OpenCV) on first use.
"""
import importlib

from emojax import xla_cpu

xla_cpu.set_default_flags()  # before anything imports JAX: see emojax/xla_cpu.py

__version__ = '0.1.0'
_LAZY = {'create_model': 'emojax.models', 'restore': 'emojax.checkpoints',
         'predict_video': 'emojax.predict'}
__all__ = list(_LAZY)


def __getattr__(name):
  if name in _LAZY:
    return getattr(importlib.import_module(_LAZY[name]), name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
