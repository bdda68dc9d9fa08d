"""The vocabulary of the gate and the customer record, validated on every write and read.

Names here are the ones used in the Cedar policies, the registry and the admin
CLI, so a reviewer reading any of the three sees the same words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from shared.attributes import DETECT, SENSITIVE_ACTIONS
from shared.errors import BadArgument
from shared.policy.countries import HINTS, ISO_3166_ALPHA2

# Actions a customer's registry record approves, one by one.
ACTIONS: tuple[str, ...] = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")
# "This request makes a biometric template" (a faceId): never approved on its own; the Cedar
# policies allow it to customers who may match templates (verify or identify).
CREATE_TEMPLATE = "createTemplate"
# Erasing one's own biometric data: decided by Cedar like every action, but never approved
# or withdrawn per customer (policy owner-may-erase), so not one of ACTIONS.
ERASE = "erase"
# Every action a decision can be asked about (the actions of the Cedar schema, groups aside).
GATE_ACTIONS: tuple[str, ...] = (*ACTIONS, CREATE_TEMPLATE, ERASE)
# What a blob upload may ask for (metadata `features` or the customer's defaults).
FEATURES: tuple[str, ...] = (DETECT, *SENSITIVE_ACTIONS, "identify")

CAPTURES: tuple[str, ...] = ("photo", "realtime", "body-camera", "vehicle-camera")
UNKNOWN_CAPTURE = "unknown"  # what an absent capture context becomes; never counts as a photo
CHANNELS: tuple[str, ...] = ("http", "blob")

SECTORS: tuple[str, ...] = (
    "commercial",
    "law_enforcement",
    "government",
    "education",
    "workplace",
    "healthcare",
    "research",
)
STATUSES: tuple[str, ...] = ("pending", "active", "suspended")
REVIEW_STATES: tuple[str, ...] = ("none", "pending", "approved", "denied")
RETENTIONS: tuple[str, ...] = ("delete", "keep")
# Where a customer's galleries live ("" = the FACEGATE_GALLERY_STORE setting).
GALLERY_STORES: tuple[str, ...] = ("", "table", "postgres")

CUSTOMER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PURPOSE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_PURPOSES = 20
MAX_NAME = 200
# A rate limit: "N/S" = at most N requests per S-second window ("" = the app's default).
LIMIT = re.compile(r"^([1-9][0-9]{0,6})/([1-9][0-9]{0,4})$")
MAX_LIMIT_WINDOW = 86400


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC time as ISO 8601 with a Z, to the second (registry) -- audit uses microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_of(value: object, allowed: tuple[str, ...], what: str) -> str:
    """The entry of ``allowed`` that ``value`` names, in any letter case."""
    text = str(value).strip().lower() if value is not None else ""
    for name in allowed:
        if name.lower() == text:
            return name
    raise BadArgument(f"{what} must be one of {', '.join(allowed)} (got {value!r}).")


def _names(value: object, what: str) -> list[str]:
    """A list given as 'a,b,c' or as an iterable of strings; blanks dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, Iterable):
        items = list(value)
    else:
        raise BadArgument(f"{what} must be a list or a comma-separated string.")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise BadArgument(f"{what} must contain strings (got {item!r}).")
        if item.strip():
            out.append(item.strip().lower())
    return out


def customer_id(value: object) -> str:
    if not isinstance(value, str) or not CUSTOMER_ID.fullmatch(value):
        raise BadArgument(
            "customer id must be 1-64 characters of lowercase letters, digits, '-' or '_', "
            f"starting with a letter or digit (got {value!r})."
        )
    return value


def action(value: object) -> str:
    """One action a decision can be asked about (``GATE_ACTIONS``)."""
    return _one_of(value, GATE_ACTIONS, "action")


def actions(value: object, what: str = "actions", allowed: tuple[str, ...] = ACTIONS) -> tuple:
    """Validated, de-duplicated, in the canonical order of ``allowed``."""
    names = _names(value, what)
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise BadArgument(f"{what}: unknown {', '.join(unknown)}; known: {', '.join(allowed)}.")
    return tuple(a for a in allowed if a in names)


def purpose(value: object) -> str:
    if not isinstance(value, str) or not PURPOSE.fullmatch(value.strip().lower()):
        raise BadArgument(
            "a purpose is 1-64 characters of lowercase letters, digits, '.', '-' or '_' "
            f"(e.g. 'age-verification'); got {str(value)[:40]!r}."  # X-Purpose: bounded echo
        )
    return value.strip().lower()


def purposes(value: object) -> tuple[str, ...]:
    items = [purpose(p) for p in _names(value, "purposes")]
    if len(items) > MAX_PURPOSES:
        raise BadArgument(f"at most {MAX_PURPOSES} purposes.")
    return tuple(dict.fromkeys(items))


def country(value: object) -> str:
    code = str(value).strip().upper() if value is not None else ""
    if code not in ISO_3166_ALPHA2:
        hint = f" (did you mean {HINTS[code]}?)" if code in HINTS else ""
        raise BadArgument(
            f"country must be an ISO 3166-1 alpha-2 code such as US or FR; got {value!r}{hint}."
        )
    return code


def limit(value: object, what: str) -> str:
    """A rate limit "N/S" (N requests per S seconds, S <= 86400), or "" for the default."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return ""
    match = LIMIT.fullmatch(text)
    if match is None or int(match.group(2)) > MAX_LIMIT_WINDOW:
        raise BadArgument(
            f"{what} must be N/S: at most N requests per S seconds (S up to "
            f"{MAX_LIMIT_WINDOW}), e.g. 10/1; got {text[:40]!r}."
        )
    return text


def gallery_store(value: object) -> str:
    """One of table or postgres, or "" (also for None): the FACEGATE_GALLERY_STORE setting."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    return _one_of(value, GALLERY_STORES[1:], "gallery store ('' for the default)")


def name(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadArgument(f"name must be 1-{MAX_NAME} printable characters.")
    return text


def as_bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "1", "on"}:
        return True
    if text in {"false", "no", "0", "off"}:
        return False
    raise BadArgument(f"{what} must be true or false (got {value!r}).")


@dataclass(frozen=True)
class Customer:
    """One customer's registry record. Build with ``Customer.create`` or ``validated``."""

    id: str
    name: str
    sector: str
    country: str
    status: str = "pending"
    review_state: str = "none"
    sensitive_use: bool = False
    actions: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    retention: str = "delete"
    default_features: tuple[str, ...] = ("detect",)
    rate_limit: str = ""  # requests per window, all HTTP routes ("" = FACEGATE_RATE_LIMIT)
    verify_limit: str = ""  # verify calls per gallery per window ("" = FACEGATE_VERIFY_LIMIT)
    gallery_store: str = ""  # "table", "postgres" or "" (= FACEGATE_GALLERY_STORE)
    # set by the migration tool while the galleries move: gallery writes other than
    # erasure are refused (409 GalleryStoreMoving), erasures go to both stores
    gallery_store_moving: bool = False
    created_at: str = ""
    updated_at: str = ""

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def keeps_uploads(self) -> bool:
        return self.retention == "keep"

    @classmethod
    def create(cls, **fields: Any) -> Customer:
        """A new, validated record with both timestamps set to now."""
        now = iso(utc_now())
        return validated({**fields, "created_at": now, "updated_at": now})

    def changed(self, **changes: Any) -> Customer:
        """A validated copy with ``changes`` applied and ``updated_at`` moved to now."""
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise BadArgument(f"cannot change {', '.join(sorted(unknown))}.")
        merged = {**self.to_dict(), **changes, "updated_at": iso(utc_now())}
        return validated(merged)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = list(self.actions)
        data["purposes"] = list(self.purposes)
        data["default_features"] = list(self.default_features)
        return data


EDITABLE: tuple[str, ...] = (
    "name",
    "sector",
    "country",
    "status",
    "review_state",
    "sensitive_use",
    "actions",
    "purposes",
    "retention",
    "default_features",
    "rate_limit",
    "verify_limit",
    "gallery_store",
    "gallery_store_moving",
)


def validated(data: Mapping[str, Any]) -> Customer:
    """Check every field of a customer record; BadArgument names the first bad one."""
    for required in ("id", "name", "sector", "country"):
        if data.get(required) in (None, ""):
            raise BadArgument(f"customer {required} is required.")
    return Customer(
        id=customer_id(data["id"]),
        name=name(data["name"]),
        sector=_one_of(data["sector"], SECTORS, "sector"),
        country=country(data["country"]),
        status=_one_of(data.get("status", "pending"), STATUSES, "status"),
        review_state=_one_of(data.get("review_state", "none"), REVIEW_STATES, "review state"),
        sensitive_use=as_bool(data.get("sensitive_use", False), "sensitive use"),
        actions=actions(data.get("actions", ())),
        purposes=purposes(data.get("purposes", ())),
        retention=_one_of(data.get("retention", "delete"), RETENTIONS, "retention"),
        default_features=actions(
            data.get("default_features", ("detect",)), "default features", FEATURES
        ),
        rate_limit=limit(data.get("rate_limit", ""), "rate limit"),
        verify_limit=limit(data.get("verify_limit", ""), "verify limit"),
        gallery_store=gallery_store(data.get("gallery_store")),
        gallery_store_moving=as_bool(
            data.get("gallery_store_moving", False), "gallery store moving"
        ),
        created_at=str(data.get("created_at", "")),
        updated_at=str(data.get("updated_at", "")),
    )
