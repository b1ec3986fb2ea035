"""``python -m omniload``."""

import sys

from omniload.cli import main

sys.exit(main())
