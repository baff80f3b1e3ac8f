from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Campaigns take part in loyalty's flows through its registries (loyalty never imports us).
        from campaigns.access import awards_section, holdouts_section, referrals_section
        from campaigns.config import campaigns_apply, campaigns_export, campaigns_validate
        from campaigns.erasure import referrals_scrub
        from campaigns.services import actions, calendar, orders, referrals, tier_entry
        from loyalty import hooks
        from loyalty.config_sections import register_section
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber

        hooks.register_order_bonus_provider(orders.order_bonuses, quiet=orders.order_bonuses_quiet)
        hooks.register_order_recorded_listener(
            orders.order_recorded, quiet=orders.order_recorded_quiet
        )
        hooks.register_member_enrolled_listener(actions.signup_awards)
        # Points and gift coupons for reaching a tier (the order path's upgrade, the evaluations).
        hooks.register_tier_entered_listener(tier_entry.tier_entry_awards)
        hooks.register_daily_job_step("birthdays_anniversaries", calendar.calendar_awards)
        hooks.register_daily_job_step("referral_rewards", referrals.referrals_reward_due)
        # The `campaigns` section of `manage.py program_config`.
        register_section(
            "campaigns",
            exporter=campaigns_export,
            validator=campaigns_validate,
            applier=campaigns_apply,
        )
        # An erased member is forgotten in the notes on their referrals.
        register_erasure_scrubber(referrals_scrub)
        register_export_section("campaign_awards", awards_section)
        register_export_section("campaign_holdouts", holdouts_section)
        register_export_section("referrals", referrals_section)
