"""Loyalty models, one module per concern; import them from here."""

from loyalty.models.adjustments import AdjustmentRequest
from loyalty.models.guests import GuestOrder, GuestRefund
from loyalty.models.imports import ImportProfile, ImportRun
from loyalty.models.ledger import Account, Debt, Lot, LotAllocation, Posting
from loyalty.models.orders import Order, Refund
from loyalty.models.program import ExchangeRate, ProgramSettings
from loyalty.models.tiers import MemberTier, Perk, Tier, TierChange, TierEvaluationRun

__all__ = [
    "Account",
    "AdjustmentRequest",
    "Debt",
    "ExchangeRate",
    "GuestOrder",
    "GuestRefund",
    "ImportProfile",
    "ImportRun",
    "Lot",
    "LotAllocation",
    "MemberTier",
    "Order",
    "Perk",
    "Posting",
    "ProgramSettings",
    "Refund",
    "Tier",
    "TierChange",
    "TierEvaluationRun",
]
