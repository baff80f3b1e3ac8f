from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembershipsConfig(AppConfig):
    name = "memberships"
    verbose_name = _("Paid membership")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from loyalty import hooks
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber
        from memberships.access import memberships_section
        from memberships.erasure import memberships_rows_scrub
        from memberships.selectors import member_summary_membership
        from memberships.services.daily import memberships_daily
        from memberships.services.earning import plan_bonuses_quiet, plan_order_bonuses

        # A supervisor's refund reason is staff free text: it may quote the member.
        register_erasure_scrubber(memberships_rows_scrub)
        register_export_section("memberships", memberships_section)
        # Past due, then expired: after loyalty's own daily steps, before nothing in particular.
        hooks.register_daily_job_step("paid_memberships", memberships_daily)
        hooks.register_member_summary_part("membership", member_summary_membership)
        # The plan's earn multiplier: its own bonus posting on each order (quiet while no plan
        # has a multiplier above 1, so the order path keeps its one statement).
        hooks.register_order_bonus_provider(plan_order_bonuses, quiet=plan_bonuses_quiet)
