"""``python -m picoml.cli``: the picoml command."""

import sys

from picoml.cli import main

sys.exit(main())
