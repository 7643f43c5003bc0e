"""Data sources: datasets read in blocks, as minibatches, for data bigger than memory.

pyarrow is needed only by :class:`ParquetSource` and :class:`CsvSource`, and
imported when one is made.
"""

from synnet.data.files import CsvSource, ParquetSource
from synnet.data.source import ArraySource, IterableSource, Source, as_source, minibatches

__all__ = ["ArraySource", "CsvSource", "IterableSource", "ParquetSource", "Source",
           "as_source", "minibatches"]
