import sys

from emojax.evaluate.cli import main

sys.exit(main())
