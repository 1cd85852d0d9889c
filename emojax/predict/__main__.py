"""`python -m emojax.predict VIDEO --checkpoint=WORKDIR --out=DIR`: see `emojax.predict.cli`."""
import sys

from emojax.predict.cli import main

sys.exit(main())
