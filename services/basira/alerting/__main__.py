"""`python -m basira.alerting`: start the alerting service (consumers + AlertService)."""

import sys

from basira.alerting.server import main

sys.exit(main())
