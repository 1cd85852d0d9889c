"""`python -m tfds_builders build NAME --manual_dir=M --data_dir=D [--config=C]`."""

import sys

from tfds_builders.cli import main

if __name__ == '__main__':
  sys.exit(main())
