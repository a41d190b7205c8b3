"""URLs of the api app: the JSON API under ``/api/v1/`` (namespace ``api-v1``) and the
signed-in user's API tokens page (``api_tokens``, ``api_token_revoke``)."""

from django.urls import path

from api import views
from api.routes import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("accounts/api-tokens/", views.tokens_page, name="api_tokens"),
    path("accounts/api-tokens/<int:pk>/revoke/", views.revoke_token, name="api_token_revoke"),
]
