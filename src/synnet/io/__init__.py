"""The model-file format: a writer, a reader that trusts nothing, one JSON codec, atomic files.

Depends only on :mod:`synnet.core`. :func:`synnet.load` (in :mod:`synnet.tabular`)
turns a loaded file into a ready-to-predict model.
"""

from synnet.io.atomic import atomic_write
from synnet.io.model_file import ModelFile
from synnet.io.reader import load_model
from synnet.io.writer import save_model

__all__ = ["ModelFile", "atomic_write", "load_model", "save_model"]
