"""``python -m synnet``: the same command line as the ``synnet`` script."""

import sys

from synnet.cli import main

if __name__ == "__main__":
    sys.exit(main())
