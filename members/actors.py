"""Who does a thing: a staff user, a storefront API key, or a system job.

Every write that matters (postings, audit entries) records its actor. An `Actor` is a small value
object passed into services; models store it as `actor_kind` plus the matching reference and a
label, so the record still reads well after a user or key is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["staff", "api", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    label: str
    user_id: int | None = None
    api_key_id: str | None = None

    @classmethod
    def staff(cls, user) -> Actor:
        return cls(kind="staff", label=user.get_username(), user_id=user.pk)

    @classmethod
    def api(cls, api_key) -> Actor:
        return cls(kind="api", label=f"api:{api_key.name}", api_key_id=api_key.pk)

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(kind="system", label=f"system:{job}")

    def as_fields(self) -> dict:
        """The model fields an `ActorFields` subclass stores for this actor."""
        return {
            "actor_kind": self.kind,
            "actor_label": self.label[:150],
            "actor_user_id": self.user_id,
            "actor_api_key_id": self.api_key_id,
        }
