"""``python -m taskchat``: the same as the ``taskchat`` command, for subprocesses and fresh venvs."""

import sys

from taskchat.cli import main

sys.exit(main())
