"""Loyalty models, one module per concern; import them from here."""

from loyalty.models.ledger import Account, Debt, Lot, LotAllocation, Posting
from loyalty.models.orders import Order, Refund
from loyalty.models.program import ExchangeRate, ProgramSettings

__all__ = [
    "Account",
    "Debt",
    "ExchangeRate",
    "Lot",
    "LotAllocation",
    "Order",
    "Posting",
    "ProgramSettings",
    "Refund",
]
