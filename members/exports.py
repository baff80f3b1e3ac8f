"""Exports to spreadsheets (django-import-export), safe to open: no cell can run as a formula.

- `escape_formula`: a text cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return,
  which some spreadsheet programs skip first) gets a leading `'`, OWASP's advice against CSV
  injection; numbers such as `-12.50` are left alone. Every resource of ours escapes every cell
  (`FormulaSafeResource`), for CSV and XLSX alike.
- `ExportAdminMixin`: CSV and XLSX from the admin's changelist (filters and search apply),
  allowed to holders of the model's `export_<model>` permission (Operator: `export_member`,
  `loyalty.export_posting`), whatever the global import-export settings.
- `MemberResource`: members as the changelist filters them (an erased member's personal data is
  already blank).
"""

from __future__ import annotations

import re

from django.contrib.auth import get_permission_codename
from import_export import resources
from import_export.admin import ExportMixin
from import_export.formats.base_formats import CSV, XLSX

from members.models import Member

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def escape_formula(value):
    """The value, made inert if a spreadsheet would read it as a formula."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _NUMBER.match(value):
        return value
    return "'" + value


class FormulaSafeResource(resources.ModelResource):
    """A resource whose every exported text cell is escaped (`escape_formula`)."""

    def export_field(self, field, instance, **kwargs):
        return escape_formula(super().export_field(field, instance, **kwargs))


class ExportAdminMixin(ExportMixin):
    """Export to CSV or XLSX, for users with the model's `export_` permission only."""

    export_formats = [CSV, XLSX]

    def has_export_permission(self, request) -> bool:
        opts = self.opts
        codename = get_permission_codename("export", opts)
        return request.user.has_perm(f"{opts.app_label}.{codename}")


class MemberResource(FormulaSafeResource):
    class Meta:
        model = Member
        fields = (
            "external_id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "birth_date",
            "marketing_consent",
            "status",
            "enrolled_at",
            "referral_code",
            "erased_at",
        )
        export_order = fields
