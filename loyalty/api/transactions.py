"""`GET /api/v1/members/{external_id}/transactions`: the member's ledger, newest first.

Paginated (`?page=`, `page_size` ≤ 200), filtered by `kind`, `status`, `from`, `to`
(`loyalty.filters.TransactionFilter`). One query per page (plus the count, the key and the
member), however many postings it holds.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers

from config.api.schema import problems
from loyalty.api.members import external_id_checked
from loyalty.filters import TransactionFilter
from loyalty.models import Posting
from loyalty.selectors.ledger import STATUSES, member_postings, posting_status
from members.selectors import member_get_for_api


class TransactionSerializer(serializers.ModelSerializer):
    """One posting as the storefront sees it (read-only)."""

    status = serializers.SerializerMethodField(
        help_text="`pending` for a credit not yet spendable, else `available`."
    )
    order_id = serializers.CharField(
        source="order_ref", allow_null=True, help_text="The storefront's order id, if any."
    )
    description = serializers.CharField()
    reward_code = serializers.SerializerMethodField(
        help_text="The reward's code for a redemption (and its cancellation), else null."
    )
    campaign_code = serializers.SerializerMethodField(
        help_text="The campaign's code for a campaign bonus, else null."
    )

    class Meta:
        model = Posting
        fields = [
            "id",
            "kind",
            "points",
            "status",
            "created_at",
            "effective_at",
            "available_at",
            "expires_at",
            "description",
            "order_id",
            "reward_code",
            "campaign_code",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=STATUSES))
    def get_status(self, posting) -> str:
        return posting_status(posting)

    # Absent references are null, like `order_id` (the ledger stores them as empty strings).
    def get_reward_code(self, posting) -> str | None:
        return posting.reward_code or None

    def get_campaign_code(self, posting) -> str | None:
        return posting.campaign_code or None


class MemberTransactionsView(generics.ListAPIView):
    serializer_class = TransactionSerializer
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no member to look up
            return Posting.objects.none()
        member = member_get_for_api(external_id=external_id_checked(self.kwargs["external_id"]))
        return member_postings(member_id=member.pk)

    @extend_schema(
        operation_id="members_transactions_list",
        responses={
            200: TransactionSerializer(many=True),
            **problems(
                {
                    400: ["validation_error"],
                    404: ["member_not_found", "not_found"],
                    410: ["member_erased"],
                }
            ),
        },
        tags=["members"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
