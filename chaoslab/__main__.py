"""`python -m chaoslab` runs the CLI."""

import sys

from chaoslab.cli import main

sys.exit(main())
