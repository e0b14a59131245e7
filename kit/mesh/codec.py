"""Binary frames of the kit mesh protocol (one PRIVATE_APP payload each, ≤ 200 bytes).

Header (every frame):
    byte 0   version (3 high bits, = 1) | frame type (5 low bits)
    byte 1   flags: 0x01 EXERCISE (drill data), 0x02 FRAGMENT, 0x04 ORIGIN_IS_SENDER,
             0x08 WANTS, 0x10 OWN (sent by the kit that made the record, whatever its
             radio's node number: tells a first-hand push from a re-send by another kit);
             other bits must be 0. Control frames carry no record, so no flag.
Record frames then carry:
    origin   fixed32, omitted when ORIGIN_IS_SENDER (the radio's `from` is the origin:
             Meshtastic keeps `from` across relays, so a kit whose origin is its radio's
             node number saves 4 bytes on its own records)
    seq      uvarint
    fragment 1 byte index << 4 | (count - 1), only with FRAGMENT
    wants    only with WANTS: uvarint length, then that many bytes listing records the
             *sender* lacks, encoded like a Request body without its responder (origin
             fixed32, uvarint number of ranges, per range uvarint first seq and count).
             A piggy-backed request: any holder may answer (see sync.py). It is added
             by `with_wants` just before the frame goes on air, never by `encode`.
    content  created_at (zigzag uvarint, seconds since 2025-01-01) + kind-specific body
             (SCHEMAS; an alert: packed CAP enums, references, event, headline, description,
             instruction, area as packed texts, expires, signature); split in order
             across the fewest fragments when the frame would exceed 200 bytes.
Control frames (DIGEST, REQUEST) are described with their dataclasses below.
A BATCH frame carries whole record frames, each as uvarint length + frame (`batch`,
`unbatch`): records waiting together (relays, answers, a healed partition's hand-over)
share one LoRa preamble, one mesh header and one kit-key tag. Its byte 1 is the number of
*heads* (0-3, bits 0-1) that follow it: records the sender stored lately. A kit that lacks
one learns of it within a frame-time, not at the next record of its origin or the next digest
(sync.py). A head is 3 bytes (`Head`): the origin's 16-bit tag and the seq's low byte; the
receiver resolves it among the origins it knows (`resolve_heads`). Bit 7 (URGENT_HEAD) says
the first head names an alert: a kit that lacks it asks at once, on a busy channel too.
"""
from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import NamedTuple

from kit.mesh import frame_auth
from kit.mesh import records as r
from kit.mesh.fragments import FragmentLimits, Reassembler
from kit.mesh.records import Record, Uid
from kit.mesh.textpack import read_text, write_text
from kit.mesh.wire import (
    Malformed,
    Reader,
    unzigzag,
    write_fixed32,
    write_uvarint,
    zigzag,
)

VERSION = 1  # also selects the text codebook (codebook_v1)
# Kit rule: the firmware carries up to 231 B of PRIVATE_APP payload (encoded Data + 16 ≤ 255,
# firmware src/mesh/Router.cpp), but delivery suffers above 200 B (meshtastic/web#402).
MAX_FRAME = 200
# Every frame ends with its kit-key tag (frame_auth.py): bodies are made to fit with it.
MAX_BODY = MAX_FRAME - frame_auth.OVERHEAD
TIME_EPOCH = 1_735_689_600  # 2025-01-01T00:00:00Z: timestamps fit 4 varint bytes until 2033

FLAG_EXERCISE = 0x01
FLAG_FRAGMENT = 0x02
FLAG_ORIGIN_IS_SENDER = 0x04
FLAG_WANTS = 0x08
FLAG_OWN = 0x10
KNOWN_FLAGS = FLAG_EXERCISE | FLAG_FRAGMENT | FLAG_ORIGIN_IS_SENDER | FLAG_WANTS | FLAG_OWN
BROADCAST_ANY = 0


class FrameType(IntEnum):
    ALERT = 1
    SITE_STATUS = 2
    FIELD_REPORT = 3
    CHECKIN = 4
    NEED = 5
    OFFER = 6
    BOARD = 7
    VOLUNTEER_TEXT = 8
    CORRECTION = 9
    DELETION = 10
    HEALTH = 11
    DIGEST = 16
    REQUEST = 17
    BATCH = 18
    NEIGHBOURS = 19


CONTROL_TYPES = {FrameType.DIGEST, FrameType.REQUEST, FrameType.NEIGHBOURS}
# Frames the radios flood (the mesh's hop limit) with want_ack: on a broadcast the firmware
# then listens for a neighbour's relay (an implicit ACK) and sends again, up to 3 times in
# all, when it hears none (fw src/mesh/ReliableRouter.cpp, NUM_RELIABLE_RETX). Every other
# frame goes only as far as the nearest kits (SyncConfig.sync_hops) and the kits pass
# records on themselves: a flood makes every radio within the hop limit send each frame,
# which a territory's channel cannot carry for every record (BENCHMARKS.md).
FLOODED_TYPES = {FrameType.ALERT}


# On LONG_FAST a frame's fixed cost (preamble, LoRa and mesh headers, kit-key tag) is
# about 0.4 s, half the air of a typical 42-byte record: packed by two or more, each record
# costs 30-45 % less (kit/mesh/airtime.py, BENCHMARKS.md). Fragments and alerts go alone
# (a fragment's siblings and an alert's radio flood are per frame).
BATCH_HEADER = 2
MAX_HEADS = 3
URGENT_HEAD = 0x80  # BATCH byte 1: the first head names an alert


HEAD_BYTES = 3


class Head(NamedTuple):
    """A record named in 3 bytes instead of 5-7 (origin fixed32 + seq uvarint): heads ride on
    every record frame, where they were 8-9 % of a kit's airtime (BENCHMARKS.md). A kit
    that lacks the record knows its origin (it holds others of it, being in range of kits
    that do) and holds a seq within 128 of it; an origin it has never heard of waits for a
    digest, as before heads."""

    tag: int  # head_tag(origin)
    low: int  # seq mod 256
    urgent: bool = False  # an alert: the first head of a batch with URGENT_HEAD

    @classmethod
    def of(cls, uid: Uid) -> Head:
        return cls(head_tag(uid.origin), uid.seq & 0xFF)


@lru_cache(maxsize=4096)  # resolve_heads maps every known origin on each frame heard
def head_tag(origin: int) -> int:
    # CRC-32 spreads node numbers that share their high bytes (a batch of radios) evenly.
    return zlib.crc32(origin.to_bytes(4, "big")) & 0xFFFF


def resolve_heads(heads: tuple[Head, ...], highest: dict[int, int]) -> list[Uid]:
    """The records `heads` name, among the origins of `highest` (origin -> highest seq held):
    the seq with that low byte nearest our highest. A tag that two known origins share,
    or none, is left out (a digest tells)."""
    if not heads:
        return []
    tags: dict[int, int | None] = {}
    for origin in highest:
        tag = head_tag(origin)
        tags[tag] = None if tag in tags else origin
    uids = []
    for head in heads:
        origin = tags.get(head.tag)
        if origin is None:
            continue
        top = highest[origin]
        seq = top + ((head.low - top + 127) & 0xFF) - 127  # in [top - 127, top + 128]
        if 1 <= seq <= r.MAX_SEQ:
            uids.append(Uid(origin, seq))
    return uids


def _heads_bytes(heads) -> bytes:
    out = bytearray()
    for uid in heads:
        head = Head.of(uid)
        out += head.tag.to_bytes(2, "big") + bytes((head.low,))
    return bytes(out)


def batch_size(sizes: list[int], heads=()) -> int:
    """Bytes of a BATCH frame holding frames of these sizes, and these heads."""
    return BATCH_HEADER + len(_heads_bytes(heads)) + sum(n + (1 if n < 128 else 2) for n in sizes)


def batch(frames: list[bytes], heads=(), urgent: bool = False) -> bytes:
    """One frame carrying `frames` (unfragmented record frames) and `heads` (uids the
    sender holds, at most MAX_HEADS; `urgent`: the first is an alert); a single frame
    without heads goes as is."""
    if len(frames) == 1 and not heads:
        return frames[0]
    if not frames or len(heads) > MAX_HEADS or (urgent and not heads):
        raise ValueError("a batch holds at least one record and at most MAX_HEADS heads")
    out = bytearray((VERSION << 5 | FrameType.BATCH, len(heads) | (URGENT_HEAD if urgent else 0)))
    out += _heads_bytes(heads)
    for frame in frames:
        if not packable(frame):
            raise ValueError("only whole record frames are batched")
        write_uvarint(out, len(frame))
        out += frame
    if len(out) > MAX_BODY:
        raise ValueError(f"batch over {MAX_BODY} bytes")
    return bytes(out)


def packable(frame: bytes) -> bool:
    """A whole record frame that is not an alert: it may share a BATCH frame."""
    kind = frame[0] & 0x1F
    return kind in CLASS_OF and kind not in FLOODED_TYPES and not frame[1] & FLAG_FRAGMENT


def is_batch(frame: bytes) -> bool:
    return len(frame) >= 2 and frame[0] == VERSION << 5 | FrameType.BATCH


def unbatch(frame: bytes) -> list[bytes]:
    """The frames a frame carries: itself, or a BATCH frame's records."""
    return split_batch(frame)[1]


def split_batch(frame: bytes) -> tuple[tuple[Head, ...], list[bytes]]:
    """(heads, frames) of a BATCH frame; ((), [frame]) for any other. Raises Malformed for
    a batch with no record, too many heads, a truncated part or anything but whole record
    frames inside."""
    if not is_batch(frame):
        return (), [frame]
    if len(frame) > MAX_FRAME:
        raise Malformed("oversized")
    count, urgent = frame[1] & ~URGENT_HEAD, bool(frame[1] & URGENT_HEAD)
    if count > MAX_HEADS or (urgent and not count):
        raise Malformed("bad_heads")
    rd = Reader(frame, 2)
    heads = []
    for i in range(count):
        head = rd.take(HEAD_BYTES)
        heads.append(Head(int.from_bytes(head[:2], "big"), head[2], urgent and i == 0))
    inner = []
    while rd.remaining:
        part = rd.take(rd.uvarint())
        if len(part) < 2 or part[0] >> 5 != VERSION or not packable(part):
            raise Malformed("bad_batch")
        inner.append(part)
    if not inner:
        raise Malformed("bad_batch")
    return tuple(heads), inner


def is_flooded(frame: bytes) -> bool:
    """An alert's frame (sealed or not: the type is byte 0 either way)."""
    return bool(frame) and frame[0] & 0x1F in FLOODED_TYPES


# --- control messages ---------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """The kits the sender hears first-hand (radio node numbers). Body: fixed32 each,
    ascending, at most MAX_NEIGHBOURS. A kit that knows who its neighbours hear can tell
    when a record it holds has reached all of its own neighbours already (sync.py)."""

    nodes: tuple[int, ...]


MAX_NEIGHBOURS = 40  # 2 + 160 bytes: one frame; a kit hearing more lists the latest heard


@dataclass(frozen=True)
class DigestEntry:
    origin: int
    contiguous: int  # holds every seq 1..contiguous
    highest: int  # highest seq held (>= contiguous)


@dataclass(frozen=True)
class Digest:
    """What the sender holds for every origin in [lo, hi] (absent origin = holds nothing).

    Body: 1 byte coverage flags (0x01 lo follows, 0x02 hi follows; absent lo = 0, absent
    hi = 0xFFFFFFFF), lo/hi fixed32, then entries to the end: origin fixed32,
    uvarint contiguous, uvarint (highest - contiguous). A full digest of 20 kits is ~130 B;
    more origins are sent as pages covering consecutive ranges.
    """

    entries: tuple[DigestEntry, ...]
    lo: int = 0
    hi: int = r.MAX_NODE


@dataclass(frozen=True)
class Request:
    """Ask for records. `responder` is the one kit that should answer (0 = whoever has them).

    Body: responder fixed32, then to the end: origin fixed32, uvarint number of ranges,
    then per range uvarint first seq and uvarint count.
    """

    responder: int
    wants: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]  # (origin, ((first, count), ...))

    def uids(self) -> list[Uid]:
        return wants_uids(self.wants)


MAX_REQUESTED = 64  # uids per request: bounds the burst a single request can trigger

Wants = tuple[tuple[int, tuple[tuple[int, int], ...]], ...]  # (origin, ((first, count), ...))


def wants_uids(wants: Wants) -> list[Uid]:
    return [Uid(origin, seq) for origin, ranges in wants for first, count in ranges for seq in range(first, first + count)]


def encode_wants(wants: Wants) -> bytes:
    out = bytearray()
    for origin, ranges in wants:
        write_fixed32(out, origin)
        write_uvarint(out, len(ranges))
        for first, count in ranges:
            write_uvarint(out, first)
            write_uvarint(out, count)
    return bytes(out)


def _parse_wants(rd: Reader) -> Wants:
    """Want list to the end of `rd` (a Request body after its responder); raises Malformed."""
    wants, total = [], 0
    while rd.remaining:
        origin, nranges = rd.fixed32(), rd.uvarint()
        if origin == 0 or not 1 <= nranges <= MAX_REQUESTED:
            raise Malformed("bad_request")
        ranges = []
        for _ in range(nranges):
            first, count = rd.uvarint(), rd.uvarint()
            total += count
            if first < 1 or count < 1 or total > MAX_REQUESTED or first + count - 1 > r.MAX_SEQ:
                raise Malformed("bad_request")
            ranges.append((first, count))
        wants.append((origin, tuple(ranges)))
    if not wants:
        raise Malformed("bad_request")
    return tuple(wants)


# --- record bodies: a small schema per kind -----------------------------------------


class _UInt:
    def write(self, out, value, created_at):
        write_uvarint(out, value)

    def read(self, rd, created_at):
        return rd.uvarint()


class _OptUInt:  # None is 0, n is n + 1
    def write(self, out, value, created_at):
        write_uvarint(out, 0 if value is None else value + 1)

    def read(self, rd, created_at):
        v = rd.uvarint()
        return None if v == 0 else v - 1


class _Fixed32:
    def write(self, out, value, created_at):
        write_fixed32(out, value)

    def read(self, rd, created_at):
        return rd.fixed32()


class _Text:
    def write(self, out, value, created_at):
        write_text(out, value)

    def read(self, rd, created_at):
        return read_text(rd)


class _UidCodec:
    def write(self, out, value, created_at):
        write_fixed32(out, value.origin)
        write_uvarint(out, value.seq)

    def read(self, rd, created_at):
        return Uid(rd.fixed32(), rd.uvarint())


class _OptTime:  # a time near created_at: None is 0, else zigzag(delta) + 1
    def write(self, out, value, created_at):
        write_uvarint(out, 0 if value is None else zigzag(value - created_at) + 1)

    def read(self, rd, created_at):
        v = rd.uvarint()
        return None if v == 0 else created_at + unzigzag(v - 1)


class _Optional:  # 1 presence byte
    def __init__(self, inner):
        self.inner = inner

    def write(self, out, value, created_at):
        out.append(0 if value is None else 1)
        if value is not None:
            self.inner.write(out, value, created_at)

    def read(self, rd, created_at):
        present = rd.byte()
        if present > 1:
            raise Malformed("bad_presence")
        return self.inner.read(rd, created_at) if present else None


class _Signature:  # empty or 64 bytes, 1 presence byte
    def write(self, out, value, created_at):
        out.append(1 if value else 0)
        out += value

    def read(self, rd, created_at):
        present = rd.byte()
        if present > 1:
            raise Malformed("bad_presence")
        return rd.take(r.SIGNATURE_BYTES) if present else b""


class Field:
    def __init__(self, name, codec):
        self.name, self.codec = name, codec

    def write(self, out, record):
        self.codec.write(out, getattr(record, self.name), record.created_at)

    def read(self, rd, created_at):
        return {self.name: self.codec.read(rd, created_at)}


class Packed:
    """Several small enums as one mixed-radix uvarint (an alert's six CAP enums: 3 bytes)."""

    def __init__(self, *parts):
        self.parts = parts  # (name, enum class, radix)

    def write(self, out, record):
        value = 0
        for name, _cls, radix in reversed(self.parts):
            value = value * radix + int(getattr(record, name))
        write_uvarint(out, value)

    def read(self, rd, created_at):
        value = rd.uvarint()
        result = {}
        for name, cls, radix in self.parts:
            value, digit = divmod(value, radix)
            try:
                result[name] = cls(digit)
            except ValueError:
                raise Malformed("bad_enum") from None
        if value:
            raise Malformed("bad_enum")
        return result


def _enum(name, cls):
    return (name, cls, len(cls))


TEXT, UINT, OPT_UINT = _Text(), _UInt(), _OptUInt()

SCHEMAS: dict[type[Record], tuple] = {
    r.Alert: (
        Packed(
            _enum("msg_type", r.MsgType),
            _enum("category", r.Category),
            _enum("urgency", r.Urgency),
            _enum("severity", r.Severity),
            _enum("certainty", r.Certainty),
            _enum("response_type", r.ResponseType),
        ),
        Field("references", _Optional(_UidCodec())),
        Field("event", TEXT),
        Field("headline", TEXT),
        Field("description", TEXT),
        Field("instruction", TEXT),
        Field("area", TEXT),
        Field("expires", _OptTime()),
        Field("signature", _Signature()),
    ),
    r.SiteStatus: (
        Field("site", UINT),
        Packed(_enum("status", r.SiteState), ("needs", r.Needs, 256)),
        Field("present", OPT_UINT),
        Field("capacity", OPT_UINT),
    ),
    r.FieldReport: (
        Packed(_enum("incident", r.IncidentType), _enum("severity", r.Severity)),
        Field("location", TEXT),
        Field("text", TEXT),
    ),
    r.Checkin: (Field("name", TEXT), Field("note", TEXT)),
    r.Need: (Field("text", TEXT), Field("name", TEXT)),
    r.Offer: (Field("text", TEXT), Field("name", TEXT)),
    r.Board: (Field("text", TEXT), Field("author", TEXT)),
    r.VolunteerText: (
        Field("sender", _Fixed32()),
        Field("packet_id", _Fixed32()),
        Field("sender_name", TEXT),
        Field("text", TEXT),
    ),
    r.Correction: (Field("target", _UidCodec()), Field("text", TEXT), Field("signature", _Signature())),
    r.Deletion: (Field("target", _UidCodec()), Field("reason", TEXT), Field("signature", _Signature())),
    r.Health: (
        Field("uptime_s", UINT),
        Packed(_enum("radio", r.RadioState), _enum("mode", r.KitMode)),
        Field("queue_len", UINT),
        Field("airtime_ms_hour", UINT),
        Field("last_sync", _OptTime()),
        Field("battery_pct", OPT_UINT),
    ),
}

TYPE_OF: dict[type[Record], FrameType] = {
    cls: FrameType(i + 1) for i, cls in enumerate(r.RECORD_TYPES)
}
CLASS_OF: dict[FrameType, type[Record]] = {t: cls for cls, t in TYPE_OF.items()}
assert set(SCHEMAS) == set(TYPE_OF)


# --- encoding -----------------------------------------------------------------------


class RecordTooLarge(ValueError):
    pass


def encode_content(record: Record) -> bytes:
    out = bytearray()
    write_uvarint(out, zigzag(record.created_at - TIME_EPOCH))
    for item in SCHEMAS[type(record)]:
        item.write(out, record)
    return bytes(out)


def _record_header(record: Record, flags: int, sender: int | None, own: bool) -> bytearray:
    if sender == record.origin:
        flags |= FLAG_ORIGIN_IS_SENDER
    if own:
        flags |= FLAG_OWN
    if record.exercise:
        flags |= FLAG_EXERCISE
    out = bytearray((VERSION << 5 | TYPE_OF[type(record)], flags))
    if not flags & FLAG_ORIGIN_IS_SENDER:
        write_fixed32(out, record.origin)
    write_uvarint(out, record.seq)
    return out


def encode(record: Record, sender: int | None = None, own: bool = False) -> list[bytes]:
    """Frames carrying `record`; `sender` is the radio node that will transmit them, `own`
    says that the transmitting kit made the record (FLAG_OWN)."""
    content = encode_content(record)
    single = _record_header(record, 0, sender, own)
    if len(single) + len(content) <= MAX_BODY:
        return [bytes(single + content)]
    header = _record_header(record, FLAG_FRAGMENT, sender, own)
    chunk = MAX_BODY - len(header) - 1
    count = -(-len(content) // chunk)
    if count > FragmentLimits().max_fragments:
        raise RecordTooLarge(f"{record.KIND} needs {count} fragments")
    return [
        bytes(header + bytes((i << 4 | (count - 1),)) + content[i * chunk : (i + 1) * chunk])
        for i in range(count)
    ]


def encode_control(message: Digest | Request | Neighbours) -> bytes:
    """The control frame; ValueError if it would not fit (size it first with `control_size`)."""
    out = _control_bytes(message)
    if len(out) > MAX_BODY:
        raise ValueError(f"control frame over {MAX_BODY} bytes")
    return out


def control_size(message: Digest | Request | Neighbours) -> int:
    """Bytes `encode_control` would make, without raising."""
    return len(_control_bytes(message))


def _control_bytes(message: Digest | Request | Neighbours) -> bytes:
    if isinstance(message, Neighbours):
        out = bytearray((VERSION << 5 | FrameType.NEIGHBOURS, 0))
        for node in sorted(set(message.nodes))[:MAX_NEIGHBOURS]:
            write_fixed32(out, node)
    elif isinstance(message, Digest):
        out = bytearray((VERSION << 5 | FrameType.DIGEST, 0))
        cover = (1 if message.lo else 0) | (2 if message.hi != r.MAX_NODE else 0)
        out.append(cover)
        if cover & 1:
            write_fixed32(out, message.lo)
        if cover & 2:
            write_fixed32(out, message.hi)
        for e in message.entries:
            write_fixed32(out, e.origin)
            write_uvarint(out, e.contiguous)
            write_uvarint(out, e.highest - e.contiguous)
    else:
        out = bytearray((VERSION << 5 | FrameType.REQUEST, 0))
        write_fixed32(out, message.responder)
        out += encode_wants(message.wants)
    return bytes(out)


def _header_end(rd: Reader, flags: int) -> int:
    """Position just after a record frame's origin/seq/fragment fields."""
    if not flags & FLAG_ORIGIN_IS_SENDER:
        rd.fixed32()
    rd.uvarint()
    if flags & FLAG_FRAGMENT:
        rd.byte()
    return rd.pos


def with_wants(frame: bytes, wants: Wants) -> bytes:
    """`frame` (a record frame from `encode`) carrying the sender's wants; the caller keeps
    the result within MAX_BODY (see `wants_room`)."""
    if frame[1] & FLAG_WANTS:
        raise ValueError("frame already carries wants")
    body = encode_wants(wants)
    pos = _header_end(Reader(frame, 2), frame[1])
    out = bytearray(frame[:pos])
    out[1] |= FLAG_WANTS
    write_uvarint(out, len(body))
    return bytes(out + body + frame[pos:])


def wants_room(frame: bytes) -> int:
    """Bytes of want list `frame` can still take (0: none; control frames take none)."""
    if frame[0] & 0x1F in CONTROL_TYPES or frame[1] & FLAG_WANTS:
        return 0
    free = MAX_BODY - len(frame)
    return max(0, free - (1 if free <= 128 else 2))


# --- decoding -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFrame:
    frame_type: FrameType
    exercise: bool
    uid: Uid
    content: bytes
    wants: Wants  # piggy-backed by the sender, () if none
    own: bool  # FLAG_OWN: sent by the kit that made the record


@dataclass(frozen=True)
class FragmentFrame(RecordFrame):
    index: int
    count: int


def parse_frame(payload: bytes, from_node: int) -> RecordFrame | Digest | Request:
    """Split one frame into header fields and content; raises Malformed."""
    if len(payload) > MAX_FRAME:
        raise Malformed("oversized")
    rd = Reader(payload)
    b0, flags = rd.byte(), rd.byte()
    if b0 >> 5 != VERSION:
        raise Malformed("unknown_version")
    try:
        frame_type = FrameType(b0 & 0x1F)
    except ValueError:
        raise Malformed("unknown_type") from None
    if flags & ~KNOWN_FLAGS:
        raise Malformed("unknown_flags")
    if frame_type is FrameType.BATCH:
        raise Malformed("unsplit_batch")  # `unbatch` it first
    if frame_type in CONTROL_TYPES:
        if flags:
            raise Malformed("flags_on_control")
        if frame_type is FrameType.NEIGHBOURS:
            return _parse_neighbours(rd)
        return _parse_digest(rd) if frame_type is FrameType.DIGEST else _parse_request(rd)
    origin = from_node if flags & FLAG_ORIGIN_IS_SENDER else rd.fixed32()
    seq = rd.uvarint()
    if not (1 <= origin <= r.MAX_NODE and 1 <= seq <= r.MAX_SEQ):
        raise Malformed("bad_uid")
    exercise, own = bool(flags & FLAG_EXERCISE), bool(flags & FLAG_OWN)
    frag = rd.byte() if flags & FLAG_FRAGMENT else None
    wants: Wants = ()
    if flags & FLAG_WANTS:
        wants = _parse_wants(Reader(rd.take(rd.uvarint())))
    if frag is not None:
        return FragmentFrame(frame_type, exercise, Uid(origin, seq), rd.rest(), wants, own, frag >> 4, (frag & 0x0F) + 1)
    return RecordFrame(frame_type, exercise, Uid(origin, seq), rd.rest(), wants, own)


def _parse_digest(rd: Reader) -> Digest:
    cover = rd.byte()
    if cover & ~3:
        raise Malformed("bad_digest")
    lo = rd.fixed32() if cover & 1 else 0
    hi = rd.fixed32() if cover & 2 else r.MAX_NODE
    entries = []
    while rd.remaining:
        origin, contiguous = rd.fixed32(), rd.uvarint()
        highest = contiguous + rd.uvarint()
        if not (lo <= origin <= hi and origin >= 1 and highest <= r.MAX_SEQ):
            raise Malformed("bad_digest")
        if entries and origin <= entries[-1].origin:
            raise Malformed("bad_digest")  # sorted, no repeats: one meaning per origin
        entries.append(DigestEntry(origin, contiguous, highest))
    if lo > hi:
        raise Malformed("bad_digest")
    return Digest(tuple(entries), lo, hi)


def _parse_neighbours(rd: Reader) -> Neighbours:
    nodes: list[int] = []
    while rd.remaining:
        node = rd.fixed32()
        if not 1 <= node <= r.MAX_NODE or (nodes and node <= nodes[-1]) or len(nodes) == MAX_NEIGHBOURS:
            raise Malformed("bad_neighbours")
        nodes.append(node)
    return Neighbours(tuple(nodes))


def _parse_request(rd: Reader) -> Request:
    responder = rd.fixed32()
    return Request(responder, _parse_wants(rd))


def decode_content(frame_type: FrameType, exercise: bool, uid: Uid, content: bytes) -> Record:
    """Build the record from its content bytes; raises Malformed."""
    cls = CLASS_OF[frame_type]
    rd = Reader(content)
    created_at = unzigzag(rd.uvarint()) + TIME_EPOCH
    values: dict = {}
    for item in SCHEMAS[cls]:
        values.update(item.read(rd, created_at))
    if rd.remaining:
        raise Malformed("trailing_bytes")
    try:
        return cls(origin=uid.origin, seq=uid.seq, created_at=created_at, exercise=exercise, **values)
    except (ValueError, TypeError):
        raise Malformed("invalid_record") from None


# --- the stateful decoder -------------------------------------------------------------


@dataclass(frozen=True)
class Rejected:
    reason: str


@dataclass(frozen=True)
class Known:
    """A fragment of a record the caller already holds: not reassembled again."""

    uid: Uid


@dataclass(frozen=True)
class Pending:
    """A valid fragment, stored until its siblings arrive."""

    uid: Uid


class Decoded(NamedTuple):
    result: Record | Digest | Request | Known | Pending | Rejected
    wants: Wants  # piggy-backed on a record frame, () if none
    own: bool  # FLAG_OWN of a record frame: sent by the kit that made the record


class Decoder:
    """Frames in, records/control messages out; never raises, counts every frame."""

    def __init__(self, limits: FragmentLimits = FragmentLimits()):
        self.reassembler = Reassembler(limits)
        self.accepted = 0
        self.rejected: Counter[str] = Counter()

    def decode(
        self, payload: bytes, from_node: int, now: float, known: Callable[[Uid], bool] = lambda uid: False
    ) -> Record | Digest | Request | Known | Pending | Rejected:
        return self.decode_frame(payload, from_node, now, known)[0]

    def decode_frame(
        self, payload: bytes, from_node: int, now: float, known: Callable[[Uid], bool] = lambda uid: False
    ) -> tuple[Record | Digest | Request | Known | Pending | Rejected, Wants]:
        """As `decode`, plus the wants piggy-backed on a record frame (() if none or rejected)."""
        decoded = self.decode_full(payload, from_node, now, known)
        return decoded.result, decoded.wants

    def decode_full(
        self, payload: bytes, from_node: int, now: float, known: Callable[[Uid], bool] = lambda uid: False
    ) -> Decoded:
        """As `decode_frame`, plus the frame's FLAG_OWN."""
        wants: Wants = ()
        own = False
        try:
            result, wants, own = self._decode(payload, from_node, now, known)
        except Malformed as exc:
            result = Rejected(exc.reason)
        except Exception as exc:  # a decoder bug must not take the radio loop down; tests assert zero
            result = Rejected(f"internal_error:{type(exc).__name__}")
        if isinstance(result, Rejected):
            self.rejected[result.reason] += 1
            wants, own = (), False
        else:
            self.accepted += 1
        return Decoded(result, wants, own)

    def _decode(self, payload, from_node, now, known):
        if not isinstance(payload, (bytes, bytearray)):
            raise Malformed("not_bytes")
        if not 1 <= from_node <= r.MAX_NODE:
            raise Malformed("bad_sender")
        frame = parse_frame(bytes(payload), from_node)
        if not isinstance(frame, RecordFrame):
            return frame, (), False
        if isinstance(frame, FragmentFrame):
            if known(frame.uid):
                return Known(frame.uid), frame.wants, frame.own
            key = (frame.frame_type, frame.exercise, frame.uid)
            content = self.reassembler.add(key, frame.index, frame.count, frame.content, now)
            if content is None:
                return Pending(frame.uid), frame.wants, frame.own
            return decode_content(frame.frame_type, frame.exercise, frame.uid, content), frame.wants, frame.own
        return decode_content(frame.frame_type, frame.exercise, frame.uid, frame.content), frame.wants, frame.own
