"""Sign-in URLs: local accounts and Entra ID. URL names are global (``login``,
``entra_login``, ...) because Django's auth settings and templates refer to them unqualified.

The Entra endpoints keep django-azure-auth's paths (``/azure_auth/login``, ``/callback``,
``/logout``), so a REDIRECT_URI registered for it keeps working.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.sign_out, name="logout"),
    path("accounts/signed-out/", views.signed_out, name="signed_out"),
    path("azure_auth/login", views.entra_login, name="entra_login"),
    path("azure_auth/callback", views.entra_callback, name="entra_callback"),
    path("azure_auth/logout", views.sign_out, name="entra_logout"),
]
