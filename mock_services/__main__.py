"""Entry point of `python -m mock_services`."""

import sys

from mock_services.cli import main

sys.exit(main())
