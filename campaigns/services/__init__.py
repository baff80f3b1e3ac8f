"""Campaign services: one module per trigger (orders, actions, referrals, calendar), all awarding
through `awards.award_reserve` so budgets and per-member limits are enforced in one place.
"""
