"""`synthetic_expressions`: the embedded default dataset, generated from a seed.

Importing this package registers the TFDS builder; the renderer
(`sample_subject`, `render_video`) works on its own, without TFDS.
"""

from tfds_builders.synthetic_expressions.face_model import APEX
from tfds_builders.synthetic_expressions.face_model import AU_NAMES
from tfds_builders.synthetic_expressions.face_model import SubjectParams
from tfds_builders.synthetic_expressions.face_model import sample_subject
from tfds_builders.synthetic_expressions.render import render_video
from tfds_builders.synthetic_expressions.synthetic_expressions import SyntheticExpressions
from tfds_builders.synthetic_expressions.synthetic_expressions import SyntheticExpressionsConfig

__all__ = [
  'APEX', 'AU_NAMES', 'SubjectParams', 'SyntheticExpressions', 'SyntheticExpressionsConfig',
  'render_video', 'sample_subject',
]
