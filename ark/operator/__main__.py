"""``python -m ark.operator --help``."""

import sys

from ark.operator.main import main

sys.exit(main())
