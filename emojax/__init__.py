"""emojax: facial-emotion recognition from video in JAX/Flax.

    import emojax
    model = emojax.create_model(config)
"""
from emojax.models import create_model

__all__ = ['create_model']
__version__ = '0.1.0'
