"""What an export of redemptions contains (django-import-export; `rewards.export_redemption`).

Plain values a spreadsheet can use: the member's external id and the reward's code instead of
database ids. Read-only: nothing is ever imported into redemptions. Every cell goes through
`members.exports.escape_formula` (`FormulaSafeResource`): a cancel reason or an order id starting
with `=`, `+`, `-` or `@` can never run in a spreadsheet.
"""

from __future__ import annotations

from import_export import fields

from members.exports import FormulaSafeResource
from rewards.models import Redemption


class RedemptionResource(FormulaSafeResource):
    member = fields.Field(attribute="member__external_id", column_name="member")
    reward = fields.Field(attribute="reward__code", column_name="reward")

    class Meta:
        model = Redemption
        fields = (
            "id",
            "coupon_code",
            "member",
            "reward",
            "kind",
            "status",
            "points_spent",
            "value",
            "currency",
            "sku",
            "created_at",
            "expires_at",
            "used_at",
            "used_order_id",
            "cancelled_at",
            "cancel_reason",
            "expired_at",
            "actor_label",
        )
        export_order = fields
