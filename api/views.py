"""The "API tokens" page: a signed-in user's personal access tokens. A new token is shown
once, in the answer to the form that created it (never stored, never in a redirect URL);
revoking is a POST. The page is ``no-store`` like every page of a signed-in user."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from api import tokens
from api.models import ApiToken
from livy.clients import current_config


class TokenForm(forms.Form):
    name = forms.CharField(max_length=tokens.MAX_NAME, strip=True,
                           widget=forms.TextInput(attrs={"placeholder": "e.g. nightly pipeline"}))
    days = forms.IntegerField(min_value=1, initial=tokens.DEFAULT_DAYS, label="Expires after (days)")

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        longest = current_config().API_TOKEN_MAX_DAYS
        if days > longest:
            raise forms.ValidationError(f"At most {longest} days (API_TOKEN_MAX_DAYS).")
        return int(days)


@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; a POST creates one and shows it once."""
    created = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        row, created = tokens.issue(request.user, form.cleaned_data["name"], days=form.cleaned_data["days"])
        form = TokenForm()
    rows = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-pk")
    return render(request, "api/tokens.html", {"form": form, "created": created, "rows": rows},
                  status=200)


@login_required
@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the user's own tokens (another user's is 404; administrators revoke
    anyone's in the Django admin)."""
    row = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    tokens.revoke(row, by=request.user)
    return redirect("api_tokens")
