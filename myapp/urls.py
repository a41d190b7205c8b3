"""Root URLs: the notebook app, sign-in pages (local and Entra ID) and the Django admin.

The Entra endpoints keep django-azure-auth's paths (``/azure_auth/login``, ``/callback``,
``/logout``), so a REDIRECT_URI registered for it keeps working.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("livy.urls")),
]
