"""`synthetic_expressions`: the embedded default dataset, generated from a seed.

Importing this package registers the TFDS builder; the renderer
(`sample_subject`, `render_video`) works on its own, without TFDS.
"""

from tfds_builders.synthetic_expressions.render import APEX
from tfds_builders.synthetic_expressions.render import AU_NAMES
from tfds_builders.synthetic_expressions.render import CLASS_NAMES
from tfds_builders.synthetic_expressions.render import SubjectParams
from tfds_builders.synthetic_expressions.render import render_video
from tfds_builders.synthetic_expressions.render import sample_subject
from tfds_builders.synthetic_expressions.synthetic_expressions import SyntheticExpressions
from tfds_builders.synthetic_expressions.synthetic_expressions import SyntheticExpressionsConfig
