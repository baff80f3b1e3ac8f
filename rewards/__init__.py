"""Rewards: the catalogue members spend points on, redemptions and their coupon codes.

Depends on `members` and `loyalty` (spending goes through the ledger's services).
"""
