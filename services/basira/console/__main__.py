"""Start the web console: `python -m basira.console` (settings from BASIRA_* variables)."""

import sys

from basira.console.server import main

sys.exit(main())
