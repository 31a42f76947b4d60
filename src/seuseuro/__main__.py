"""``python -m seuseuro ...``: the same as the ``seuseuro`` command."""

import sys

from seuseuro.cli import main

sys.exit(main())
