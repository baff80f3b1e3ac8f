"""Exports of the ledger to spreadsheets (django-import-export), formulas escaped.

`PostingResource` exports postings as the ledger's changelist filters them (admin "Export",
permission `loyalty.export_posting`, Operator): who, what, how many points, when, why, and what it
belongs to (member, order, refund, campaign, reward). Every cell goes through
`members.exports.escape_formula`, so a member named `=HYPERLINK(...)` or a reason starting with
`@` can never run in a spreadsheet.

Redemptions belong to the rewards app: its resource should subclass
`members.exports.FormulaSafeResource` and its admin use `ExportAdminMixin` the same way.
"""

from __future__ import annotations

from import_export import fields

from loyalty.models import Posting
from members.exports import FormulaSafeResource


class PostingResource(FormulaSafeResource):
    member_external_id = fields.Field(attribute="member__external_id", column_name="member")
    order_id = fields.Field(attribute="order__order_id", column_name="order")
    refund_id = fields.Field(attribute="refund__refund_id", column_name="refund")

    class Meta:
        model = Posting
        fields = (
            "id",
            "created_at",
            "effective_at",
            "member_external_id",
            "kind",
            "points",
            "available_at",
            "expires_at",
            "order_id",
            "refund_id",
            "campaign_code",
            "reward_code",
            "reverses",
            "reason",
            "description",
            "actor_kind",
            "actor_label",
            "idempotency_key",
        )
        export_order = fields

    def get_queryset(self):
        return super().get_queryset().select_related("member", "order", "refund")
