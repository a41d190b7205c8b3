"""ASGI entry point: ``myapp.asgi:application``.

Django reads a whole request body before its middleware runs under ASGI, so the body is held
here to the upload limit of the URL it is sent to (:func:`livy.uploads.asgi_body_limit`: the
declared one, else no files and ``DATA_UPLOAD_MAX_MEMORY_SIZE``): a larger declared body is
never read, and the per-URL limits then answer as under WSGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myapp.settings")
django_application = get_asgi_application()

from livy.uploads import asgi_body_limit  # noqa: E402 - needs the settings loaded above

application = asgi_body_limit(django_application)
