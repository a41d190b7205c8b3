"""Root URLs: the notebook app, sign-in pages (local and Entra ID) and the Django admin.

The Entra endpoints keep django-azure-auth's paths (``/azure_auth/login``, ``/callback``,
``/logout``), so a REDIRECT_URI registered for it keeps working.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from livy import auth_views as entra_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", entra_views.sign_out, name="logout"),
    path("accounts/signed-out/", entra_views.signed_out, name="signed_out"),
    path("azure_auth/login", entra_views.entra_login, name="entra_login"),
    path("azure_auth/callback", entra_views.entra_callback, name="entra_callback"),
    path("azure_auth/logout", entra_views.sign_out, name="entra_logout"),
    path("", include("livy.urls")),
]
