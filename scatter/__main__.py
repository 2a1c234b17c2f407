"""``python -m scatter``: the ``scatter`` command line (see :mod:`scatter.cli`)."""
import sys

from .cli import main

sys.exit(main())
