from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self) -> None:
        from members.erasure import register_erasure_scrubber
        from webhooks.erasure import deliveries_member_forget

        def deliveries_scrub(*, erasure) -> int:
            # The stored bodies and answers of the erased member's event deliveries.
            return deliveries_member_forget(
                member_id=erasure.member.pk, scrub_text=erasure.scrub_text
            )

        register_erasure_scrubber(deliveries_scrub)
