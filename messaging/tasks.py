"""The send job of member messages (queue `messages`): ids in, idempotent (`messaging.sending`)."""

from __future__ import annotations

import jobs


@jobs.task(queue="messages")
def message_send_batch(*, message_ids: list[int]) -> None:
    from messaging.sending import messages_send

    messages_send(message_ids=message_ids)


@jobs.task(queue="messages")
def template_test_send(*, template_id: int, member_id: int, address: str) -> None:
    from messaging.preview import template_test_send as send

    send(template_id=template_id, member_id=member_id, address=address)
