"""TFDS builders for emojax; importing this package registers them with `tfds.builder`."""
from tfds_builders.afew import Afew
from tfds_builders.cheavd import Cheavd
from tfds_builders.ck_plus import CkPlus
from tfds_builders.dfew import Dfew
from tfds_builders.enterface05 import Enterface05
from tfds_builders.ferv39k import Ferv39k
from tfds_builders.mafw import Mafw
from tfds_builders.oulu_casia import OuluCasia
from tfds_builders.rml import Rml
from tfds_builders.synthetic_expressions import SyntheticExpressions
from tfds_builders.video_folder import VideoFolder

BUILDERS = (SyntheticExpressions, OuluCasia, Enterface05, CkPlus, Rml, Afew, Cheavd, Dfew,
            Ferv39k, Mafw, VideoFolder)
NAMES = tuple(builder.name for builder in BUILDERS)
