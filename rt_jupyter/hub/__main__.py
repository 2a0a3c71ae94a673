"""``python -m rt_jupyter.hub``: the same as ``rt-jupyter hub-service``."""

import sys

from .cli import main

sys.exit(main())
