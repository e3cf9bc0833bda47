"""``python -m batch_file_conventions``: the ``batch-outputs`` command line."""

import sys

from .cli import main

sys.exit(main())
