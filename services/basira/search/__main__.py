"""`python -m basira.search`: start the search service (indexer + SearchService)."""

import sys

from basira.search.server import main

sys.exit(main())
