"""What kits exchange over the mesh: typed, immutable records.

Every record is identified by `Uid(origin, seq)`: the 32-bit Meshtastic node number of the
kit that created it and a per-origin sequence starting at 1. Sequences let a kit summarise
everything it holds as one (contiguous max, highest seen) pair per origin, which is what the
anti-entropy digests carry. `exercise` marks drill data (EXERCICE) and travels on every frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, NamedTuple

MAX_NODE = 0xFFFFFFFF
MAX_SEQ = 0xFFFFFFFF
# Texts longer than this would need more fragments than the codec allows; the portal
# validates against the same limit before anything reaches the radio.
MAX_TEXT_CHARS = 600
MAX_DESCRIPTION_CHARS = 500  # CAP <description>: the alert's 1-3 sentence detail
SIGNATURE_BYTES = 64  # Ed25519


class Uid(NamedTuple):
    origin: int
    seq: int


class Priority(IntEnum):
    """Transmission classes, highest first (ARRL radiogram precedence: EMERGENCY > PRIORITY > ...)."""

    ALERT = 0
    STATUS = 1  # site status, field reports, corrections and deletions
    CHECKIN = 2
    ROUTINE = 3  # board, needs, offers, volunteer texts, kit health


# --- enumerations (values are on the wire: append only) -------------------------------


class MsgType(IntEnum):
    ALERT = 0
    UPDATE = 1
    CANCEL = 2


class Category(IntEnum):
    GEO = 0
    MET = 1
    SAFETY = 2
    SECURITY = 3
    RESCUE = 4
    FIRE = 5
    HEALTH = 6
    ENV = 7
    TRANSPORT = 8
    INFRA = 9
    CBRNE = 10
    OTHER = 11


class Urgency(IntEnum):
    IMMEDIATE = 0
    EXPECTED = 1
    FUTURE = 2
    PAST = 3
    UNKNOWN = 4


class Severity(IntEnum):
    EXTREME = 0
    SEVERE = 1
    MODERATE = 2
    MINOR = 3
    UNKNOWN = 4


class Certainty(IntEnum):
    OBSERVED = 0
    LIKELY = 1
    POSSIBLE = 2
    UNLIKELY = 3
    UNKNOWN = 4


class ResponseType(IntEnum):
    SHELTER = 0
    EVACUATE = 1
    PREPARE = 2
    EXECUTE = 3
    AVOID = 4
    MONITOR = 5
    ASSESS = 6
    ALL_CLEAR = 7
    NONE = 8


class SiteState(IntEnum):
    FERME = 0
    EN_PREPARATION = 1
    OUVERT = 2
    COMPLET = 3
    EVACUE = 4


class Needs(IntFlag):
    """Only the non-green items are sent (AmRRON STATREP / MARS style: send only the non-green items)."""

    NONE = 0
    WATER = 1
    FOOD = 2
    MEDICAL = 4
    POWER = 8
    HEATING = 16
    BEDDING = 32
    STAFF = 64
    TRANSPORT = 128


class IncidentType(IntEnum):
    OTHER = 0
    FLOOD = 1
    FIRE = 2
    STORM = 3
    ROAD_BLOCKED = 4
    POWER_CUT = 5
    WATER_CUT = 6
    TELECOM_CUT = 7
    BUILDING_DAMAGE = 8
    CASUALTIES = 9
    CHEMICAL = 10
    LANDSLIDE = 11
    PERSON_MISSING = 12


class RadioState(IntEnum):
    OK = 0
    DEGRADED = 1
    DOWN = 2


class KitMode(IntEnum):
    VEILLE = 0
    CRISE = 1
    APRES = 2


# --- records ------------------------------------------------------------------------


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} out of range: {value!r}")


def _check_text(name: str, value: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"{name} must be a str of at most {MAX_TEXT_CHARS} chars")


@dataclass(frozen=True, kw_only=True)
class Record:
    KIND: ClassVar[str]
    PRIORITY: ClassVar[Priority]

    origin: int
    seq: int
    created_at: int
    exercise: bool = False

    @property
    def uid(self) -> Uid:
        return Uid(self.origin, self.seq)

    def __post_init__(self) -> None:
        _check_range("origin", self.origin, 1, MAX_NODE)
        _check_range("seq", self.seq, 1, MAX_SEQ)
        _check_range("created_at", self.created_at, 0, 2**40)
        if not isinstance(self.exercise, bool):
            raise ValueError("exercise must be a bool")


@dataclass(frozen=True, kw_only=True)
class Alert(Record):
    """CAP-lite official alert. `references` is the uid of the alert it updates or cancels."""

    KIND = "alert"
    PRIORITY = Priority.ALERT

    msg_type: MsgType = MsgType.ALERT
    references: Uid | None = None
    category: Category
    event: str
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    response_type: ResponseType
    headline: str
    description: str = ""  # CAP <description>, at most MAX_DESCRIPTION_CHARS
    instruction: str = ""
    area: str = ""
    expires: int | None = None
    signature: bytes = b""  # empty until signing lands, then exactly 64 bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("event", "headline", "instruction", "area"):
            _check_text(name, getattr(self, name))
        _check_text("description", self.description)
        if len(self.description) > MAX_DESCRIPTION_CHARS:
            raise ValueError(f"description must be at most {MAX_DESCRIPTION_CHARS} chars")
        if self.references is not None:
            _check_range("references.origin", self.references.origin, 1, MAX_NODE)
            _check_range("references.seq", self.references.seq, 1, MAX_SEQ)
        if self.expires is not None:
            _check_range("expires", self.expires, 0, 2**40)
        if len(self.signature) not in (0, SIGNATURE_BYTES):
            raise ValueError("signature must be empty or 64 bytes")


@dataclass(frozen=True, kw_only=True)
class SiteStatus(Record):
    KIND = "site_status"
    PRIORITY = Priority.STATUS

    site: int  # index in the commune's shared site codebook
    status: SiteState
    present: int | None = None
    capacity: int | None = None
    needs: Needs = Needs.NONE

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("site", self.site, 0, 2**20)
        for name in ("present", "capacity"):
            value = getattr(self, name)
            if value is not None:
                _check_range(name, value, 0, 2**24)


@dataclass(frozen=True, kw_only=True)
class FieldReport(Record):
    KIND = "field_report"
    PRIORITY = Priority.STATUS

    location: str
    incident: IncidentType
    severity: Severity
    text: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_text("location", self.location)
        _check_text("text", self.text)


@dataclass(frozen=True, kw_only=True)
class Checkin(Record):
    """"I'm safe": the name as given and a short note. Never a location (privacy)."""

    KIND = "checkin"
    PRIORITY = Priority.CHECKIN

    name: str
    note: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_text("name", self.name)
        _check_text("note", self.note)


@dataclass(frozen=True, kw_only=True)
class Need(Record):
    KIND = "need"
    PRIORITY = Priority.ROUTINE

    text: str
    name: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_text("text", self.text)
        _check_text("name", self.name)


@dataclass(frozen=True, kw_only=True)
class Offer(Need):
    KIND = "offer"


@dataclass(frozen=True, kw_only=True)
class Board(Record):
    KIND = "board"
    PRIORITY = Priority.ROUTINE

    text: str
    author: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_text("text", self.text)
        _check_text("author", self.author)


@dataclass(frozen=True, kw_only=True)
class VolunteerText(Record):
    """A plain Meshtastic text heard from a stock handheld, carried into the kits' sync.

    Several kits hear the same broadcast; `dedup_key` (sender node, Meshtastic packet id)
    identifies it whichever kit re-published it (see SyncEngine.heard_text).
    """

    KIND = "volunteer_text"
    PRIORITY = Priority.ROUTINE

    sender: int
    sender_name: str
    packet_id: int
    text: str

    @property
    def dedup_key(self) -> tuple[int, int]:
        return (self.sender, self.packet_id)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("sender", self.sender, 0, MAX_NODE)
        _check_range("packet_id", self.packet_id, 0, MAX_NODE)
        _check_text("sender_name", self.sender_name)
        _check_text("text", self.text)


@dataclass(frozen=True, kw_only=True)
class Correction(Record):
    """Replaces the text of `target`. A tombstone: it outlives any late or replayed original.
    It takes effect only if made by the target's own kit, or signed (`signature`, Ed25519)
    by a crisis cell whose key the reading kit trusts (see `store.effective_record`)."""

    KIND = "correction"
    PRIORITY = Priority.STATUS

    target: Uid
    text: str
    signature: bytes = b""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("target.origin", self.target.origin, 1, MAX_NODE)
        _check_range("target.seq", self.target.seq, 1, MAX_SEQ)
        _check_text("text", self.text)


@dataclass(frozen=True, kw_only=True)
class Deletion(Record):
    """Hides `target` forever, even if the target arrives after the deletion; with the same
    authority rule as a Correction."""

    KIND = "deletion"
    PRIORITY = Priority.STATUS

    target: Uid
    reason: str = ""
    signature: bytes = b""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("target.origin", self.target.origin, 1, MAX_NODE)
        _check_range("target.seq", self.target.seq, 1, MAX_SEQ)
        _check_text("reason", self.reason)


@dataclass(frozen=True, kw_only=True)
class Health(Record):
    KIND = "health"
    PRIORITY = Priority.ROUTINE

    uptime_s: int
    radio: RadioState
    queue_len: int
    airtime_ms_hour: int
    last_sync: int | None
    mode: KitMode
    battery_pct: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range("uptime_s", self.uptime_s, 0, 2**40)
        _check_range("queue_len", self.queue_len, 0, 2**32)
        _check_range("airtime_ms_hour", self.airtime_ms_hour, 0, 2**32)
        if self.last_sync is not None:
            _check_range("last_sync", self.last_sync, 0, 2**40)
        if self.battery_pct is not None:
            _check_range("battery_pct", self.battery_pct, 0, 100)


# Which field a Correction replaces, per kind. Alerts are amended by signed Update/Cancel
# alerts, not by corrections; site status and health are superseded by newer reports.
CORRECTABLE_FIELD: dict[type[Record], str] = {
    FieldReport: "text",
    Checkin: "note",
    Need: "text",
    Offer: "text",
    Board: "text",
    VolunteerText: "text",
}

RECORD_TYPES: tuple[type[Record], ...] = (
    Alert,
    SiteStatus,
    FieldReport,
    Checkin,
    Need,
    Offer,
    Board,
    VolunteerText,
    Correction,
    Deletion,
    Health,
)
