"""emojax: facial-emotion recognition from video in JAX/Flax.

    import emojax
    model = emojax.create_model(config)
    restored = emojax.restore(workdir)   # .config, .model, .variables
    logits = restored.model.apply(restored.variables, clips, train=False)
"""
from emojax.models import create_model
from emojax.train.checkpoint import restore

__all__ = ['create_model', 'restore']
__version__ = '0.1.0'
