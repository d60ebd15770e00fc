"""Who or what made a change: a signed-in person, an API key, or the system itself.

Lead events and audit entries keep the label even after the user or key is gone.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenancy.models import User


@dataclass(frozen=True)
class Actor:
    user: "User | None" = None
    label: str = "system"

    @classmethod
    def for_user(cls, user: "User") -> "Actor":
        return cls(user=user, label=user.email)

    @classmethod
    def for_api_key(cls, key) -> "Actor":
        return cls(user=None, label=f"api key: {key.name}")


SYSTEM = Actor()
