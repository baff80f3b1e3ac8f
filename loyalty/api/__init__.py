"""Storefront API views of the loyalty app (members' summary, orders, refunds, transactions)."""
