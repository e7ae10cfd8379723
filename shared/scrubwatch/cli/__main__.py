"""``python -m scrubwatch.cli``: the command line, as the Lambda layer's build runs it."""

import sys

from .main import main

sys.exit(main())
