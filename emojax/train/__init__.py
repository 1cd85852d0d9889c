"""Training: state, steps, one-fold loop and the cross-validation protocol."""
from emojax.train.protocol import train_and_evaluate

__all__ = ['train_and_evaluate']
