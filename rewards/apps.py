from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Rewards")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loyalty.config_sections import register_section
        from loyalty.hooks import register_daily_job_step
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber
        from rewards.access import redemptions_section
        from rewards.config import rewards_apply, rewards_export, rewards_validate
        from rewards.erasure import redemptions_scrub
        from rewards.services.perk_gifts import birthday_gifts_daily
        from rewards.services.redemptions import coupons_expire_daily_step

        # Unused coupons past their validity expire in the daily jobs (no points back).
        register_daily_job_step("expire_coupons", coupons_expire_daily_step)
        # The "birthday gift" perk's coupon, on the birthday, once a year.
        register_daily_job_step("birthday_gifts", birthday_gifts_daily)
        # The `rewards` section of `manage.py program_config`.
        register_section(
            "rewards", exporter=rewards_export, validator=rewards_validate, applier=rewards_apply
        )
        # An erased member is forgotten in the staff's notes on their redemptions.
        register_erasure_scrubber(redemptions_scrub)
        register_export_section("redemptions", redemptions_section)
