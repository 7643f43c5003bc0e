"""The ``synnet`` command line (the ``synnet`` script and ``python -m synnet``).

An edge of the package: it imports the library and nothing imports it.
"""

from synnet.cli.main import main

__all__ = ["main"]
