"""Tables: preprocessing, the ready-to-predict Model and ``synnet.load``, table files, scores.

Depends on :mod:`synnet.core`, :mod:`synnet.io` and :mod:`synnet.training`.
Reading and writing files needs pandas (the ``cli`` extra), imported inside the
functions that need it.
"""
