"""Campaigns: rules that award bonus points.

Multipliers, member days, birthdays, actions, referrals.

The top app: it may import every other; nothing imports it. It takes part in the order path
through the registry `loyalty.hooks` offers.
"""
