"""Django's `handler403` for the admin: a refused page in the admin's frame that says what is
missing ("This page needs the Supervisor role.") and offers a way back.

What was needed: the permissions a view named when it refused (`config.admin_tools.denied`), or
else the permission Django's own admin views check, from the URL's name
(`admin:<app>_<model>_<view>`). The roles are the groups holding that permission. Outside the
admin, or for someone who is not staff, Django's plain 403 stands (the API answers its own 403s
as problem+json before this handler is reached). Imports no app: only Django's auth and admin.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import defaults

# Django's admin views and the permission each checks (a view-only role may see change pages).
_VIEW_PERMISSIONS = {
    "changelist": "view",
    "change": "view",
    "history": "view",
    "add": "add",
    "delete": "delete",
}


def _permissions_from_url(request) -> tuple[str, ...]:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return ()
    if match.namespace != admin.site.name or not match.url_name:
        return ()
    for model in admin.site._registry:
        prefix = f"{model._meta.app_label}_{model._meta.model_name}_"
        if match.url_name.startswith(prefix):
            action = _VIEW_PERMISSIONS.get(match.url_name.removeprefix(prefix))
            if action is None:
                return ()
            return (f"{model._meta.app_label}.{action}_{model._meta.model_name}",)
    return ()


def roles_holding(permissions: tuple[str, ...]) -> list[str]:
    """The names of the groups (roles) that hold any of the permissions, sorted."""
    condition = Q()
    for name in permissions:
        app_label, _dot, codename = name.partition(".")
        condition |= Q(content_type__app_label=app_label, codename=codename)
    if not condition:
        return []
    held = Permission.objects.filter(condition)
    return sorted(set(Group.objects.filter(permissions__in=held).values_list("name", flat=True)))


def what_is_missing(request, exception) -> str:
    """One sentence: which role the page needs, or why it is refused even so."""
    permissions = tuple(getattr(exception, "permissions", ())) or _permissions_from_url(request)
    if permissions and any(request.user.has_perm(p) for p in permissions):
        return _(
            "Your role may do this in general, but not here (for example, on an erased member)."
        )
    roles = roles_holding(permissions)
    if not permissions:
        return _("Your role does not give access to this page.")
    if not roles:
        return _("This page needs a permission that no role has: ask an administrator.")
    names = ", ".join(roles)
    return ngettext(
        "This page needs the %(roles)s role.",
        "This page needs one of these roles: %(roles)s.",
        len(roles),
    ) % {"roles": names}


def permission_denied(request, exception=None):
    user = getattr(request, "user", None)
    admin_root = reverse("admin:index")
    staff = user is not None and user.is_active and user.is_staff
    if not staff or not request.path.startswith(admin_root):
        return defaults.permission_denied(request, exception)
    detail = str(exception) if exception is not None and str(exception) else ""
    back = request.META.get("HTTP_REFERER", "")
    if not back.startswith(request.build_absolute_uri("/")) or back == request.build_absolute_uri():
        back = admin_root
    context = {
        **admin.site.each_context(request),
        "title": _("You cannot open this page"),
        "missing": what_is_missing(request, exception),
        "detail": detail,
        "back_url": back,
        "home_url": admin_root,
    }
    return TemplateResponse(request, "admin/403.html", context, status=403).render()
