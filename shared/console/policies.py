"""The Cedar policy files, read-only, as the console shows them: file, @id, effect, why, text."""

from __future__ import annotations

from typing import Any

from shared.policy import engine


def listing() -> list[dict[str, Any]]:
    """Every policy in file order; the set is validated first (an invalid set is a 503)."""
    bundle = engine.bundle()
    files = sorted(engine.POLICY_DIR.glob("*.cedar"))
    # load() allows exactly one policy per file, so file order is @id order
    return [
        {
            "id": pid,
            "effect": bundle.effects[pid],
            "comment": bundle.comments.get(pid, ""),
            "file": path.name,
            "text": path.read_text(encoding="utf-8"),
        }
        for pid, path in zip(bundle.order, files, strict=True)
    ]
