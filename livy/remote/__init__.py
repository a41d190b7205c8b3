"""Livy without Django: the vocabulary of Apache Livy's and Fabric's Livy REST APIs and the
HTTP client that speaks them.

* :mod:`~livy.remote.states`: session and statement states (open enums) and what they mean.
* :mod:`~livy.remote.errors`: the :class:`~livy.remote.errors.LivyError` hierarchy.
* :mod:`~livy.remote.types`: sessions, statements, outputs, log pages, session specs.
* :mod:`~livy.remote.backends`: what differs between Apache Livy and Fabric.
* :mod:`~livy.remote.client`: :class:`~livy.remote.client.LivyClient`, the only code that
  speaks HTTP to Livy.
* :mod:`~livy.remote.tokens`: Entra ID access tokens for Fabric (MSAL).

Nothing in this package imports Django (``tests/unit/test_layout.py`` proves it), so it can
be used from a script or another web framework.
"""
