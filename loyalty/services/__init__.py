"""Writes to the loyalty program, one module per concern (ledger, orders, adjustments, tiers, jobs).

Import services from their module: `from loyalty.services.orders import order_record`.
"""
