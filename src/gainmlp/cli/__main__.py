"""``python -m gainmlp.cli``."""

import sys

from gainmlp.cli import main

sys.exit(main())
