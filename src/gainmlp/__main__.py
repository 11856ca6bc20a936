import sys

from gainmlp.cli import main

sys.exit(main())
