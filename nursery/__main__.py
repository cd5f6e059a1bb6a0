"""`python -m nursery`: the same as the `nursery` command."""

import sys

from nursery.cli import main

sys.exit(main())
