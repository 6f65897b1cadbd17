"""The back-office shell: a dashboard per role and the message outbox."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tuangou.accounts.roles import BACK_OFFICE_ROLES, Role
from tuangou.core.ownership import has_role, roles_of, visible_to
from tuangou.messaging.models import OutboxMessage


def role_required(*roles: str) -> Any:
    """Page decorator: sign in first, then refuse (403) anyone without one of `roles`."""

    def decorate(view: Any) -> Any:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)  # type: ignore[no-any-return]

        return wrapped

    return decorate


@role_required(*BACK_OFFICE_ROLES)
def dashboard(request: HttpRequest) -> HttpResponse:
    labels = dict(Role.choices)
    my_roles = [labels[r] for r in sorted(roles_of(request.user)) if r in labels]
    return render(request, "web/backoffice/dashboard.html", {"my_roles": my_roles})


@role_required(Role.OPERATOR)
def outbox(request: HttpRequest) -> HttpResponse:
    """訊息發件箱: what the console provider 'sent', one-time codes included (demo and tests)."""
    queryset = visible_to(OutboxMessage.objects.all(), request.user)
    if to := request.GET.get("to", "").strip():
        queryset = queryset.filter(to__contains=to)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    return render(request, "web/backoffice/outbox.html", {"page": page, "to": to})
