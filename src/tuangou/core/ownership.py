"""Who owns what, and refusing everything else (object-level permissions).

Every model that belongs to someone (a merchant, a store, a rep, a customer, a member) declares
it once with a classmethod `owned_by(user) -> Q` naming the rows that user may see. Views, the
API and services ask through these helpers only:

- `visible_to(queryset, user)` filters a list to what the user may see;
- `get_visible(queryset, user, **lookup)` fetches one object or raises NotFound (a stranger
  learns nothing, not even that the object exists);
- `require_role(user, *roles)` refuses a user who has none of the roles.

Operators (and superusers) see everything of the platform; a model may narrow that further by
overriding `owned_by`.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from tuangou.core.errors import AuthenticationFailed, Forbidden, NotFound

M = TypeVar("M", bound=models.Model)


class Owned(Protocol):
    @classmethod
    def owned_by(cls, user: Any) -> models.Q: ...


def roles_of(user: Any) -> frozenset[str]:
    """The role codes (group names) of `user`, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_tuangou_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._tuangou_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    if getattr(user, "is_superuser", False) and getattr(user, "is_active", False):
        return True
    return bool(roles_of(user).intersection(roles))


def require_login(user: Any) -> None:
    if not getattr(user, "is_authenticated", False):
        raise AuthenticationFailed()


def require_role(user: Any, *roles: str) -> None:
    require_login(user)
    if not has_role(user, *roles):
        raise Forbidden(_("Your role does not allow this."), code="role_required")


def visible_to(queryset: models.QuerySet[M], user: Any) -> models.QuerySet[M]:
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    model = queryset.model
    owned_by = getattr(model, "owned_by", None)
    if owned_by is None:
        raise TypeError(f"{model.__name__} declares no owned_by(user); refuse by default")
    return queryset.filter(owned_by(user))


def get_visible(queryset: models.QuerySet[M], user: Any, **lookup: Any) -> M:
    try:
        return visible_to(queryset, user).get(**lookup)
    except queryset.model.DoesNotExist as exc:  # type: ignore[attr-defined]
        raise NotFound() from exc


def require_owner(obj: models.Model, user: Any) -> None:
    """Refuse unless `obj` is among what `user` may see."""
    model = type(obj)
    if not visible_to(model._default_manager.filter(pk=obj.pk), user).exists():
        raise NotFound()
