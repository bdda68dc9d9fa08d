"""Local function and master keys, the way the host checks ``authLevel``.

Keys are never written to disk: they come from the environment
(``DEVHOST_FUNCTION_KEY``, ``DEVHOST_MASTER_KEY``) or are drawn at random on
each start and printed once.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass

FUNCTION_KEY_SETTING = "DEVHOST_FUNCTION_KEY"
MASTER_KEY_SETTING = "DEVHOST_MASTER_KEY"


@dataclass(frozen=True)
class Keys:
    function: str
    master: str

    @classmethod
    def from_env(cls) -> Keys:
        return cls(
            function=os.environ.get(FUNCTION_KEY_SETTING) or secrets.token_urlsafe(24),
            master=os.environ.get(MASTER_KEY_SETTING) or secrets.token_urlsafe(24),
        )

    def allows(self, auth_level: str, presented: str | None) -> bool:
        """ANONYMOUS: anyone; FUNCTION: the function or master key; ADMIN: the master key."""
        level = (auth_level or "FUNCTION").upper()
        if level == "ANONYMOUS":
            return True
        if not presented:
            return False
        accepted = [self.master] if level == "ADMIN" else [self.function, self.master]
        return any(hmac.compare_digest(presented.encode(), k.encode()) for k in accepted)
