from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tuangou.core.models import SiteSettings
from tuangou.web.navigation import back_office_nav


def site(request: HttpRequest) -> dict[str, Any]:
    return {"site": SiteSettings.current(), "back_office_nav": back_office_nav(request.user)}
