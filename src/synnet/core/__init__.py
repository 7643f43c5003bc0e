"""The core: networks, layers, activations, losses, initializers, optimizers, metrics.

Plain NumPy, and nothing else from synnet but its errors and private helpers
(:mod:`synnet.errors`, :mod:`synnet._rng`, :mod:`synnet._validation`). The one
place it reaches upward is a documented convenience method (``Network.fit``,
``Network.save``, ``Network.load``), which imports its delegate inside the method.
"""
