"""TFDS builders for emojax; importing this package registers them with `tfds.builder`."""
from tfds_builders import oulu_casia  # noqa: F401  (registers 'oulu_casia')
from tfds_builders import enterface05  # noqa: F401  (registers 'enterface05')
from tfds_builders import synthetic_expressions  # noqa: F401  (registers 'synthetic_expressions')
