"""`python -m basira.ingest`: start the ingest service (camera registry, streams, pushed frames)."""

import sys

from basira.ingest.server import main

sys.exit(main())
