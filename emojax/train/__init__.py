"""Training: state, steps, one-fold loop and the cross-validation protocol."""


def train_and_evaluate(config, workdir: str, **kwargs):
  """See `emojax.train.protocol.train_and_evaluate` (imported on use: it pulls in the data stack)."""
  from emojax.train import protocol
  return protocol.train_and_evaluate(config, workdir, **kwargs)
