"""The onset as reference: features of a clip seen relative to its first frames.

Posed expression sequences (CK+, Oulu-CASIA, MMI) start from the subject's neutral face and rise
to the expression's apex. A person's own neutral face is the best reference there is for their
expression: what changes from it is the expression, what stays is identity, lighting and the
resting face, which otherwise look like expressions of their own. A model with
`onset_reference` sees each time step's features next to (or instead of) their difference from the
clip's onset, the mean of its first `onset_frames` steps:

    ''            x_t                      (no reference)
    'difference'  x_t - onset
    'concat'      [x_t, x_t - onset]       (channels doubled: the frame and its change)

Taken on a pretrained encoder's features (FER2013's maps, the I3D's), so the reference lives in the
space the encoder learned from real faces. For sequences that do not start neutral (clips from
films, spontaneous data) the first frames are no reference: leave it off.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

ONSET_REFERENCES = ('', 'difference', 'concat')


def check_onset(reference: str, onset_frames: int, steps: int | None = None) -> None:
  """Raises ValueError naming the setting when the reference cannot be taken over `steps`."""
  if reference not in ONSET_REFERENCES:
    raise ValueError(f'config.model.onset_reference={reference!r}: expected one of '
                     f'{ONSET_REFERENCES}')
  if onset_frames < 1 or (steps is not None and reference and onset_frames > steps):
    raise ValueError(f'config.model.onset_frames={onset_frames} must be in [1, {steps}] (the '
                     'time steps of the features the onset is taken from)')


def relative_to_onset(x: jax.Array, reference: str, onset_frames: int = 1) -> jax.Array:
  """Features `[B, T, ...]` as `reference` says (see the module docstring); channels are the last
  axis."""
  check_onset(reference, onset_frames, x.shape[1])
  if not reference:
    return x
  change = x - x[:, :onset_frames].mean(axis=1, keepdims=True)
  if reference == 'difference':
    return change
  return jnp.concatenate([x, change], axis=-1)

