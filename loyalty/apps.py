from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoyaltyConfig(AppConfig):
    name = "loyalty"
    verbose_name = _("Loyalty program")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from idempotency.services import idempotency_purge
        from loyalty import hooks
        from loyalty.erasure import import_files_scrub, loyalty_rows_scrub
        from loyalty.selectors.access import SECTIONS
        from members.access import register_export_section
        from members.erasure import register_erasure_scrubber

        # Stored API answers are kept 24 hours (the contract), then purged by the daily jobs.
        hooks.register_daily_job_step(
            "idempotency_purge", lambda *, as_of, cutoff, actor: idempotency_purge()
        )
        # An erased member is forgotten in loyalty's free text and in the import's kept files.
        register_erasure_scrubber(loyalty_rows_scrub)
        register_erasure_scrubber(import_files_scrub)
        # A new member's earlier guest orders become their history (`loyalty.services.guests`).
        from loyalty.services.guests import guest_orders_claim_listener

        hooks.register_member_enrolled_listener(guest_orders_claim_listener)
        # The subject-access export's loyalty sections.
        for name, section in SECTIONS:
            register_export_section(name, section)
