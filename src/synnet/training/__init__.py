"""Training: the fit loop behind ``Network.fit``, callbacks, checkpoints, gradient checks.

Depends on :mod:`synnet.core` and, for checkpoint files, :mod:`synnet.io`.
"""
