"""TFDS builders for emojax; importing this package registers them with `tfds.builder`."""
from tfds_builders.enterface05 import Enterface05
from tfds_builders.oulu_casia import OuluCasia
from tfds_builders.synthetic_expressions import SyntheticExpressions

BUILDERS = (SyntheticExpressions, OuluCasia, Enterface05)
NAMES = tuple(builder.name for builder in BUILDERS)
