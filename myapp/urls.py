"""Root URLs: the notebook app, sign-in pages (local and Entra ID), the Django admin and
``/healthz`` (:mod:`livy.health_views`).

The Entra endpoints keep django-azure-auth's paths (``/azure_auth/login``, ``/callback``,
``/logout``), so a REDIRECT_URI registered for it keeps working.
"""

from django.contrib import admin
from django.urls import include, path

from livy import health_views

urlpatterns = [
    path("healthz", health_views.healthz, name="healthz"),  # no sign-in: load balancers, monitoring
    path("admin/", admin.site.urls),
    path("", include("api.urls")),  # /api/v1/ and the API tokens page
    path("", include("accounts.urls")),
    path("", include("livy.urls")),
]
