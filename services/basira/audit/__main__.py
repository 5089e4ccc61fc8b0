"""`python -m basira.audit`: the access-log service."""

import sys

from basira.audit.server import main

sys.exit(main())
