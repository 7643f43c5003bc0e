"""Divergence as scikit-learn reports it: a ``ValueError`` with its sentence.

scikit-learn's MLP trains on through inf and nan and, once done, refuses
non-finite weights with ``ValueError("Solver produced non-finite parameter
weights. ...")``. The estimators raise that sentence too, as a
:class:`synnet.errors.NonFiniteWeightsError` (a ``ValueError`` and a
``DivergenceError``), followed by synnet's own account: where training
diverged, which weights the network kept, and what to try.
"""

from __future__ import annotations

import numpy as np

from synnet.core.network import Network
from synnet.errors import DivergenceError, NonFiniteWeightsError

#: scikit-learn 1.9's message, word for word.
SKLEARN_MESSAGE = ("Solver produced non-finite parameter weights. The input data may contain "
                   "large values and need to be preprocessed.")
_ADVICE = "Scale the input data (e.g. with StandardScaler) or lower learning_rate_init."


def diverged(exc: DivergenceError) -> NonFiniteWeightsError:
    """scikit-learn's error for a fit that synnet stopped at its first non-finite step.

    synnet's account (where it diverged, which weights the network kept, the
    learning rate) follows scikit-learn's sentence.
    """
    return NonFiniteWeightsError(f"{SKLEARN_MESSAGE} synnet stopped at once: {exc} Scaling "
                                 "the input data (e.g. with StandardScaler) may help too.",
                                 params=["learning_rate_init"])


def check_weights(network: Network) -> None:
    """scikit-learn's last check of a fit: every weight and bias is finite."""
    if not all(np.isfinite(p).all() for p in network.params.values()):
        raise NonFiniteWeightsError(f"{SKLEARN_MESSAGE} {_ADVICE}",
                                    params=["learning_rate_init"])
