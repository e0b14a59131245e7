"""CAP 1.2 XML (OASIS) ⇄ the kit's alerts.

Export: one `<alert>` per kit alert. identifier = the origin kit's id + the record's seq
("kit-0a1b2c3d-12"), the same on every kit that holds the alert, so downstream systems
deduplicate it; sender = the origin kit's id; status Exercise (with the drill named in
<note>) for anything made during an exercise.

Import: a CAP file vouches for nothing by itself (anyone can write one), so importing one
makes a NEW alert that this kit signs, as if an operator had typed it; the file's
(sender, identifier) is remembered in `cap_imports` so an imported Update or Cancel finds
the alert it replaces and the same file is not imported twice. Parsing uses defusedxml with
a size limit and refuses any DOCTYPE, so no entity (internal or external) is ever expanded,
whatever the file's encoding (a byte regex let UTF-16 files and internal entities through).
"""
from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as defused

from kit.core import alerts
from kit.core.messages import _, message_of
from kit.storage import queries as records
from kit.storage import settings

NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_BYTES = 256 * 1024
# ASCII digits only (\d would take any script's digits) and within SQLite's integers.
OUR_IDENTIFIER = re.compile(r"^kit-([0-9a-f]{8})-([0-9]{1,18})$", re.ASCII)
ET.register_namespace("", NS)


class CapError(ValueError):
    """A CAP file that cannot be imported; the message says why."""


def cap_time(unix: int) -> str:
    """ISO 8601 with an explicit offset, no fraction, never "Z" (CAP 1.2 §3.3.2)."""
    return datetime.fromtimestamp(int(unix), tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def identity(origin: int, seq: int) -> tuple[str, str]:
    """(sender, identifier) of a kit alert, the same on every kit holding it."""
    sender = f"kit-{origin:08x}"
    return sender, f"{sender}-{seq}"


def _alert_row(db, origin: int, seq: int) -> dict | None:
    cursor = db.execute("SELECT * FROM alerts WHERE origin = ? AND seq = ?", [origin, seq])
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row)) if row else None


def export_alert(db, origin: int, seq: int) -> bytes:
    alert = _alert_row(db, origin, seq)
    if alert is None:
        raise CapError(_("No such alert."))
    sender, identifier = identity(origin, seq)
    root = ET.Element(f"{{{NS}}}alert")

    def add(parent, tag, text):
        element = ET.SubElement(parent, f"{{{NS}}}{tag}")
        element.text = str(text)
        return element

    add(root, "identifier", identifier)
    add(root, "sender", sender)
    add(root, "sent", cap_time(alert["sent_at"]))
    add(root, "status", "Exercise" if alert["exercise"] else "Actual")
    add(root, "msgType", alert["msg_type"])
    add(root, "scope", "Public")
    if alert["exercise"]:
        name = settings.get(db, "exercise_name", "") or ""
        add(root, "note", f"EXERCICE {name}".strip())
    if alert["references_id"]:
        ref = records.parse_uid(alert["references_id"])
        referenced = _alert_row(db, *ref)
        ref_sender, ref_identifier = identity(*ref)
        sent = cap_time(referenced["sent_at"]) if referenced else cap_time(alert["sent_at"])
        add(root, "references", f"{ref_sender},{ref_identifier},{sent}")
    info = ET.SubElement(root, f"{{{NS}}}info")
    add(info, "language", "fr-FR")
    add(info, "category", alert["category"])
    add(info, "event", alert["event"])
    add(info, "responseType", alert["response_type"])
    for tag in ("urgency", "severity", "certainty"):
        add(info, tag, alert[tag])
    if alert["expires_at"]:
        add(info, "expires", cap_time(alert["expires_at"]))
    kit_name = settings.get(db, "commune_name", "") or settings.get(db, "kit_name", "") or sender
    add(info, "senderName", kit_name)
    add(info, "headline", alert["headline"])
    for tag, column in (("description", "description"), ("instruction", "instruction")):
        if alert[column]:
            add(info, tag, alert[column])
    area = ET.SubElement(info, f"{{{NS}}}area")
    add(area, "areaDesc", alert["area"] or kit_name)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _text(parent, tag: str) -> str:
    element = parent.find(f"{{{NS}}}{tag}")
    return (element.text or "").strip() if element is not None else ""


def parse(data: bytes) -> dict:
    """A CAP 1.2 document → the fields the kit keeps (CAP names), or CapError."""
    if len(data) > MAX_BYTES:
        raise CapError(_("The CAP file is larger than %(size)d KB.", size=MAX_BYTES // 1024))
    try:
        root = defused.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise CapError(_("The CAP file declares a DOCTYPE or entities: refused for safety.")) from None
    except ET.ParseError as exc:
        raise CapError(_("The CAP file is not well-formed XML: %(error)s", error=str(exc))) from None
    if root.tag != f"{{{NS}}}alert":
        raise CapError(_("Not a CAP 1.2 alert (namespace %(ns)s expected).", ns=NS))
    infos = root.findall(f"{{{NS}}}info")
    if not infos:
        raise CapError(_("The CAP alert has no <info> block."))
    info = next((i for i in infos if _text(i, "language").lower().startswith("fr")), infos[0])
    areas = [_text(a, "areaDesc") for a in info.findall(f"{{{NS}}}area")]
    fields = {
        "identifier": _text(root, "identifier"), "sender": _text(root, "sender"), "sent": _text(root, "sent"),
        "status": _text(root, "status"), "msg_type": _text(root, "msgType"), "scope": _text(root, "scope"),
        "note": _text(root, "note"), "references": _text(root, "references"),
        "category": _text(info, "category"), "event": _text(info, "event"),
        "response_type": _text(info, "responseType") or "None", "urgency": _text(info, "urgency"),
        "severity": _text(info, "severity"), "certainty": _text(info, "certainty"),
        "expires": _text(info, "expires"), "headline": _text(info, "headline"),
        "description": _text(info, "description"), "instruction": _text(info, "instruction"),
        "area": "; ".join(a for a in areas if a),
    }
    for required in ("identifier", "sender", "sent", "status", "msg_type"):
        if not fields[required]:
            raise CapError(_("The CAP alert has no <%(tag)s>.", tag=required))
    if fields["status"] not in ("Actual", "Exercise"):
        raise CapError(_("CAP status %(status)s is not for the public: only Actual and Exercise are imported.",
                         status=fields["status"]))
    if not fields["headline"]:  # CAP makes headline optional; the kit's pages need one
        fields["headline"] = fields["event"]
    return fields


def _resolve(db, references: str) -> str | None:
    """The kit alert a CAP <references> list points to (the last one found), as 'origin-seq'."""
    found = None
    for triple in references.split():
        sender, _sep, rest = triple.partition(",")
        identifier = rest.partition(",")[0]
        row = db.execute("SELECT origin, seq FROM cap_imports WHERE sender = ? AND identifier = ?",
                         [sender, identifier]).fetchone()
        if row is None and (match := OUR_IDENTIFIER.match(identifier)):
            row = db.execute("SELECT origin, seq FROM alerts WHERE origin = ? AND seq = ?",
                             [int(match[1], 16), int(match[2])]).fetchone()
        if row is not None:
            found = f"{row[0]:08x}-{row[1]}"
    return found


def _already_here(db, fields: dict) -> str | None:
    row = db.execute("SELECT origin, seq FROM cap_imports WHERE sender = ? AND identifier = ?",
                     [fields["sender"], fields["identifier"]]).fetchone()
    match = OUR_IDENTIFIER.match(fields["identifier"])
    if row is None and match:
        row = db.execute("SELECT origin, seq FROM alerts WHERE origin = ? AND seq = ?",
                         [int(match[1], 16), int(match[2])]).fetchone()
    return f"{row[0]:08x}-{row[1]}" if row else None


def import_alert(kit, data: bytes, *, by: str, source: str = "web"):
    """Parse, validate and publish a CAP file as this kit's signed alert. Returns the Alert.
    Anything made while the kit is in exercise mode is an exercise, whatever the file says."""
    db = kit.db()
    fields = parse(data)
    existing = _already_here(db, fields)
    if existing:
        raise CapError(_("This CAP alert is already on this kit (%(id)s).", id=existing))
    data_in = {k: fields[k] for k in ("msg_type", "category", "event", "urgency", "severity", "certainty",
                                      "response_type", "headline", "description", "instruction", "area")}
    data_in["expires"] = fields["expires"] or None
    if fields["msg_type"] in ("Update", "Cancel"):
        data_in["references"] = _resolve(db, fields["references"])
        if not data_in["references"]:
            raise CapError(_("This %(type)s refers to no alert held on this kit.", type=fields["msg_type"]))
    try:
        alert_fields = alerts.fields_from(data_in)
        with kit.writing():  # the alert and its import note, together
            alert = kit.create_alert(alert_fields, by, source,
                                     exercise=kit.exercise() or fields["status"] == "Exercise")
            db.execute("INSERT INTO cap_imports (sender, identifier, sent, origin, seq, imported_at, "
                       "imported_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [fields["sender"], fields["identifier"], fields["sent"], *alert.uid,
                        int(time.time()), by])
    except alerts.AlertError as exc:
        raise CapError(message_of(exc)) from None
    return alert
