"""emojax: facial-emotion recognition from video in JAX/Flax.

    import emojax
    model = emojax.create_model(config)
    restored = emojax.restore(workdir)   # .config, .model, .variables
    logits = restored.model.apply(restored.variables, clips, train=False)
    prediction = emojax.predict_video('video.mp4', restored=restored, out_dir='out')
"""
from emojax import xla_cpu

xla_cpu.set_default_flags()  # before anything imports JAX: see emojax/xla_cpu.py

from emojax.models import create_model  # noqa: E402
from emojax.train.checkpoint import restore  # noqa: E402

__version__ = '0.1.0'
__all__ = ['create_model', 'restore', 'predict_video']


def __getattr__(name):
  # Imported on first use: prediction pulls in OpenCV, the face detector and plotting.
  if name == 'predict_video':
    from emojax.predict import predict_video
    return predict_video
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
