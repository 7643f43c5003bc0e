"""Thread control: how many threads NumPy's BLAS (and any OpenMP pool) may use.

synnet's matrix products run in the BLAS that NumPy was built with (OpenBLAS,
MKL, ...), which starts one thread per core by default. threadpoolctl is the
well-kept library that finds those pools and limits them at run time; it is
an optional dependency (``pip install synnet[threads]``), imported only when
:func:`set_threads` is called, so ``import synnet`` stays NumPy and tqdm.
"""

from __future__ import annotations

from typing import Any

from synnet._validation import check_int


def set_threads(n: int) -> Any:
    """Limit the BLAS and OpenMP thread pools of this process to ``n`` threads.

    The limit holds until changed. The returned object (threadpoolctl's
    ``ThreadpoolLimiter``) also works as a context manager that restores the
    previous limits on exit: ``with synnet.set_threads(1): net.fit(...)``.

    Args:
        n: threads, at least 1.

    Raises:
        ConfigError: ``n`` is not a whole number >= 1 (``params=["threads"]``).
        ImportError: threadpoolctl is not installed.
    """
    n = int(check_int("threads", n, 1) or 1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as exc:
        raise ImportError("synnet.set_threads needs threadpoolctl: "
                          "pip install synnet[threads]") from exc
    return threadpool_limits(limits=n)
