"""The admin login lockout's pages (django-axes), for superusers only: read the login records,
unlock by deleting an attempt.

Axes registers its own admins; these replace them so that:
- the access log and the failure log are read-only for everyone, superusers included: they are
  the audit of who logged in and who failed (`docs/security.md`), as the audit log is;
- an access attempt (the current count of one username and address) can be viewed and deleted
  (the unlock), not edited;
- "Clean up expired attempts" works from the admin: Axes reads the login's attempt time from the
  request, which only its login handler sets, so the action raised an AttributeError (a 500).

No role gets an Axes permission (`members.roles` syncs our apps only): other staff see nothing.
"""

from __future__ import annotations

from axes import admin as axes_admin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class ReadOnlyLogMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description=_("Clean up expired attempts"))
    def cleanup_expired_attempts(self, request, queryset):
        # Not a login: no attempt time, which Axes reads as "now".
        request.axes_attempt_time = None
        return super().cleanup_expired_attempts(request, queryset)


class AccessLogAdmin(ReadOnlyLogMixin, axes_admin.AccessLogAdmin):
    pass


class AccessFailureLogAdmin(ReadOnlyLogMixin, axes_admin.AccessFailureLogAdmin):
    pass


for model, model_admin in (
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, model_admin)
