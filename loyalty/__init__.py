"""Loyalty: the points ledger, orders and refunds, program settings, tiers, expiry, daily jobs.

Depends on `members` only. `rewards` and `campaigns` build on it; where they must take part in the
order path (campaign bonuses), this app offers a registry (`loyalty.hooks`) instead of importing
them.
"""
