"""What the notebook page does, for tests that drive the views with Django's test client."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from livy.models import SparkSession, Statement

FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}


def poll_like_the_page(client: Client, session: SparkSession, **extra: str) -> str:
    """One poll as notebook.js makes it: a POST to ``livy:dispatch`` while the session has
    queued statements (only a POST sends code), a GET of ``livy:live`` otherwise. Returns
    the response's HTML."""
    if Statement.objects.filter(session=session, state=Statement.QUEUED).exists():
        response = client.post(reverse("livy:dispatch", args=[session.pk]), **FRAGMENT, **extra)
    else:
        response = client.get(reverse("livy:live", args=[session.pk]), **extra)
    assert response.status_code == 200, response.status_code
    return response.content.decode()
