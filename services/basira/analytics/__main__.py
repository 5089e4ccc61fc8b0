"""`python -m basira.analytics`: start analytics (frame workers, AnalyticsService) with the watchlists."""

import sys

from basira.analytics.server import main

sys.exit(main())
