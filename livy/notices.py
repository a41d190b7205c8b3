"""Livy failures as notices on the page: :func:`notice_on_error`.

A view or the delta module collects what went wrong in a list of strings (``notices``) that
the page shows above its statements (``livy/_notices.html``); nothing a user typed is lost
because of it. The sign-in expiry is not a notice: :class:`~livy.remote.errors.LivySignInRequired`
propagates to :class:`livy.middleware.LivySignInMiddleware`, which sends the user to sign in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from livy.remote.errors import LivyError, LivySignInRequired


@contextmanager
def notice_on_error(notices: list[str], prefix: str = "") -> Iterator[None]:
    """Run the block; a :class:`LivyError` raised in it ends the block and becomes the notice
    ``prefix + str(error)`` appended to ``notices`` (``prefix`` such as ``"The session could
    not be stopped: "``). :class:`LivySignInRequired` and any other exception propagate.

    Usage, the call staying visible to readers and type checkers::

        with notice_on_error(notices, "The session could not be stopped: "):
            lifecycle.stop_session(session, client=client)
    """
    try:
        yield
    except LivySignInRequired:
        raise
    except LivyError as exc:
        notices.append(f"{prefix}{exc}")
