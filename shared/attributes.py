"""Every face attribute FaceGate returns, and what the rest of the code needs to know about it.

One row per attribute, under Azure's ``faceAttributes`` name: the policy action that must
allow it, the inputs it is computed from, and the model role that produces it. The request
parser, the policy gate (through the parser's actions), the blob pipeline's features, the
vision analyzer's selection and the OpenAPI check all read this table, so adding an
attribute starts here. Imports nothing from vision or policy: both of them read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DETECT = "detect"  # the action every detection needs; attributes under it need nothing more

# Inputs an attribute can need besides the face box and its five points.
MESH = "mesh"  # the FaceMesh landmarks: alignment and head pose
CHIP = "chip"  # the aligned face chip: blur, exposure and quality are measured on it
INPUTS = (MESH, CHIP)


@dataclass(frozen=True)
class Attribute:
    """One face attribute.

    ``action``: the Cedar action that must allow it (``detect``, or its own action for a
    sensitive attribute, which the customer's record approves one by one). ``needs``: the
    inputs it is computed from. ``role``: the model role (shared/vision) that produces it,
    ``quality`` for the measures computed without a model of their own.
    """

    name: str
    action: str
    needs: frozenset[str]
    role: str

    @property
    def sensitive(self) -> bool:
        """Inferred about the person (age, gender, emotion): needs its own action and a purpose."""
        return self.action != DETECT


def _attribute(name: str, action: str, role: str, *needs: str) -> Attribute:
    return Attribute(name, action, frozenset(needs), role)


REGISTRY: dict[str, Attribute] = {
    a.name: a
    for a in (
        _attribute("headPose", DETECT, "mesh", MESH),
        _attribute("blur", DETECT, "quality", MESH, CHIP),
        _attribute("exposure", DETECT, "quality", MESH, CHIP),
        _attribute("qualityForRecognition", DETECT, "quality", MESH, CHIP),
        _attribute("age", "age", "age_gender"),
        _attribute("gender", "gender", "age_gender"),
        _attribute("emotion", "emotion", "emotion"),
    )
}

NAMES: tuple[str, ...] = tuple(REGISTRY)
DETECT_ATTRIBUTES: tuple[str, ...] = tuple(a.name for a in REGISTRY.values() if not a.sensitive)
# The actions of the sensitive attributes, in registry order (also blob upload features).
SENSITIVE_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(a.action for a in REGISTRY.values() if a.sensitive)
)
_BY_LOWER = {name.lower(): name for name in NAMES}


def canonical(name: str) -> str | None:
    """The registry name for ``name`` in any letter case (``HEADPOSE`` -> ``headPose``)."""
    return _BY_LOWER.get(name.strip().lower())


def needing(needed: str) -> frozenset[str]:
    """The attributes computed from the input ``needed`` (``MESH`` or ``CHIP``)."""
    return frozenset(a.name for a in REGISTRY.values() if needed in a.needs)


def actions_for(names: Iterable[str]) -> list[str]:
    """The policy actions the attributes ``names`` need: ``detect`` first, each once."""
    return list(dict.fromkeys([DETECT, *(REGISTRY[n].action for n in names)]))


def allowed_by(actions: Iterable[str]) -> tuple[str, ...]:
    """The attributes whose action is among ``actions``, in registry order."""
    given = set(actions)
    return tuple(a.name for a in REGISTRY.values() if a.action in given)
