"""Kit-to-kit bundle: one signed file on a USB stick, for when even LoRa does not reach.

Format (version 1), a small JSON envelope:
    {"format": "kit-tous-risques/bundle", "version": 1,
     "signer": base64 Ed25519 public key, "signature": base64 64 bytes,
     "payload": base64 of the payload's exact bytes (UTF-8 JSON)}
The signature covers TAG + the payload bytes exactly, so a changed byte, a payload signed
for another purpose or a key the importing kit does not trust are all refused before
anything is read. The payload holds the sync log (messages, alerts, site statuses,
corrections, deletions…) and the shared content with its content_date. Personal data —
check-ins, confidential contacts, and the register of vulnerable people if asked for — is
left out unless the exporter names the receiving kits, and then sealed to their keys
(`personal`, kit/crypto/sealed.py): the signature says who made the bundle, the sealing
who may read its personal part.

Import merges records through the store (`SqliteStore.put`) (already held → nothing happens, so a
second import adds nothing, and tombstones keep hiding their targets whatever the order),
takes the content only if its content_date is newer, and merges the register (newer entry
wins) only when the caller allows it.
"""
from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from kit.core.messages import _
from kit.crypto import envelope, own_key, sealed
from kit.exchange import private_file
from kit.exchange.vulnerable import Register
from kit.storage import json_records, settings, strict_json
from kit.storage.db import schema_version, transaction
from kit.storage.projections import project, trusted_keys
from kit.storage.sqlite_store import SqliteStore

FORMAT = "kit-tous-risques/bundle"
VERSION = 1
TAG = b"kit-tous-risques/bundle/v1\0"
MAX_BYTES = 512 * 1024 * 1024
CONTENT_TABLES = ("risks", "checklist_items", "contacts", "sites")
PERSONAL_KINDS = ("checkin",)        # names and notes of residents: sealed, or left out
CONFIDENTIAL = "confidentiel"        # contacts.visibility of the crisis cell's private numbers


class BundleError(ValueError):
    """A bundle that cannot be made or read; the message says why, for the operator."""


def payload(db, *, with_vulnerable: bool = False, data_dir=None, recipients: list[bytes] = ()) -> dict:
    """The bundle's content. Personal data — check-ins (names and notes, and the
    corrections of them), confidential contacts, the register — is in it only when the
    exporter names the kits it is for (`recipients`, their own keys: kit/crypto/own_key.py),
    and then only sealed to them (kit/crypto/sealed.py): a USB stick found in a car park
    shows no one's name."""
    if with_vulnerable and not recipients:
        raise BundleError(_("The register travels only encrypted to the kits that receive it: give their "
                            "keys (--personal-for, or the field of this page)."))
    rows = db.execute("SELECT kind, origin, seq, created_at, exercise, body, target_origin, target_seq "
                      "FROM records ORDER BY origin, seq").fetchall()
    personal_uids = {(o, s) for k, o, s, *_rest in rows if k in PERSONAL_KINDS}
    public, personal = [], []
    for k, o, s, c, e, b, target_origin, target_seq in rows:
        item = {"kind": k, "origin": o, "seq": s, "created_at": c, "exercise": bool(e), "body": b}
        is_personal = (o, s) in personal_uids or (target_origin, target_seq) in personal_uids
        (personal if is_personal else public).append(item)
    content, confidential = {}, None
    for table in CONTENT_TABLES:
        cursor = db.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        table_rows = cursor.fetchall()
        if table == "contacts":
            at = columns.index("visibility")
            confidential = {"columns": columns, "rows": [r for r in table_rows if r[at] == CONFIDENTIAL]}
            table_rows = [r for r in table_rows if r[at] != CONFIDENTIAL]
        content[table] = {"columns": columns, "rows": table_rows}
    out = {
        "kit_id": settings.get(db, "kit_id", ""), "origin": int(settings.get(db, "kit_origin", "0")),
        "created_at": int(time.time()), "schema_version": schema_version(db),
        "records": public,
        "content": {"content_date": settings.get(db, "content_date", ""), "tables": content},
    }
    if recipients:
        private = {"records": personal, "contacts": confidential}
        if with_vulnerable:
            private["vulnerable_people"] = Register(db, data_dir).export()
        out["personal"] = sealed.seal_for(list(recipients), json.dumps(private, ensure_ascii=False).encode())
    return out


def seal(data: dict, key) -> bytes:
    if key is None:
        raise BundleError(_("This kit has no signing key: a bundle must be signed (kit keys new, "
                            "then --signing-key)."))
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return envelope.seal(FORMAT, VERSION, TAG, body, key)


def export(db, path: str | Path, key, *, with_vulnerable: bool = False, data_dir=None,
           recipients: list[bytes] = ()) -> dict:
    data = payload(db, with_vulnerable=with_vulnerable, data_dir=data_dir, recipients=recipients)
    blob = seal(data, key)
    private_file.write(path, blob)
    return {"records": len(data["records"]), "personal": bool(recipients),
            "vulnerable_people": len(Register(db, data_dir).export()) if with_vulnerable else 0}


def open_bundle(blob: bytes, trusted: list[bytes]) -> dict:
    """Check the envelope and the signature; return the payload. Refuses clearly."""
    if len(blob) > MAX_BYTES:
        raise BundleError(_("The bundle is too large."))
    try:
        outer = strict_json.loads(blob)
        if outer.get("format") != FORMAT:
            raise ValueError
    except (ValueError, AttributeError, UnicodeDecodeError):
        raise BundleError(_("This file is not a kit bundle, or it is damaged.")) from None
    if outer.get("version") != VERSION:
        raise BundleError(_("This bundle's format version is not supported."))
    try:
        signer, signature, body = envelope.fields(outer)
    except envelope.EnvelopeError:
        raise BundleError(_("This bundle is damaged or unsigned.")) from None
    if signer not in trusted:
        raise BundleError(_("This bundle is signed by a key this kit does not trust (%(key)s). "
                            "Add it with --trust-key if it is your mairie's.",
                            key=base64.b64encode(signer).decode()))
    try:
        envelope.verify(TAG, signer, signature, body)
    except envelope.EnvelopeError:
        raise BundleError(_("The bundle's signature does not match its content: it was changed or "
                            "damaged. Nothing was imported.")) from None
    try:
        return strict_json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BundleError(_("This bundle is damaged or unsigned.")) from None


def _records(data: dict) -> list:
    """Every record, parsed before anything is written (one bad record refuses the bundle)."""
    parsed = []
    for item in data.get("records", []):
        try:
            origin, seq, created_at = (int(item[k]) for k in ("origin", "seq", "created_at"))
            if not (0 <= origin < 2**32 and 0 < seq < 2**63 and 0 <= created_at < 2**63):
                raise ValueError("origin, seq or created_at out of range")
            parsed.append(json_records.loads(item["kind"], origin, seq, created_at, bool(item["exercise"]),
                                             item["body"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise BundleError(_("A record in the bundle is not valid: %(error)s", error=str(exc))) from None
    return parsed


def _merge_content(db, content: dict, confidential: dict | None) -> bool:
    """Replace the shared content if the bundle's is newer. Sites keep their live state,
    which the SiteStatus records rebuild (newest report wins). Confidential contacts come
    only in the sealed part: without it, this kit keeps its own."""
    theirs, ours = str(content.get("content_date") or ""), settings.get(db, "content_date", "") or ""
    if not theirs or theirs <= ours:
        return False
    tables = content.get("tables", {})
    if set(tables) != set(CONTENT_TABLES):
        raise BundleError(_("The bundle's content is incomplete."))
    kept = db.execute("SELECT * FROM contacts WHERE visibility = ?", [CONFIDENTIAL])
    kept = {"columns": [d[0] for d in kept.description], "rows": kept.fetchall()}
    db.execute("PRAGMA defer_foreign_keys=ON")
    for table in reversed(CONTENT_TABLES):  # children first
        db.execute(f"DELETE FROM {table}")
    for table in CONTENT_TABLES:
        _insert(db, table, tables[table], "INSERT")
    _insert(db, "contacts", confidential or kept, "INSERT OR REPLACE" if confidential else "INSERT OR IGNORE")
    # A public contact's deputy may be a confidential contact this kit was not given.
    db.execute("UPDATE contacts SET deputy = NULL WHERE deputy NOT IN (SELECT slug FROM contacts)")
    db.execute("UPDATE sites SET status_at = 0")
    store = SqliteStore(db.conn)
    for row in db.execute("SELECT kind, origin, seq, created_at, exercise, body FROM records "
                          "WHERE kind = 'site_status' ORDER BY created_at").fetchall():
        project(store, json_records.loads(*row))
    settings.put(db, "content_date", theirs)
    return True


def _insert(db, table: str, content: dict, verb: str) -> None:
    ours_columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    columns = content["columns"]
    keep = [i for i, c in enumerate(columns) if c in ours_columns]
    names = [columns[i] for i in keep]
    db.conn.executemany(f"{verb} INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                        [[row[i] for i in keep] for row in content["rows"]])


def _personal(data: dict, data_dir) -> dict | None:
    """The sealed part if it is addressed to this kit, opened; None otherwise."""
    if not data.get("personal") or data_dir is None:
        return None
    try:
        plain = sealed.open_for(data["personal"], own_key.load(data_dir))
        return strict_json.loads(plain) if plain is not None else None
    except (sealed.SealedError, ValueError):
        raise BundleError(_("The bundle's personal part cannot be opened: it was changed or damaged. "
                            "Nothing was imported.")) from None


def merge(db, data: dict, *, data_dir=None, with_vulnerable: bool = False) -> dict:
    """Merge a verified payload, all or nothing. Returns what changed."""
    private = _personal(data, data_dir)
    parsed = _records(data) + _records(private or {})
    # Bundles from before sealed personal data carried the register in clear.
    register = (private or {}).get("vulnerable_people") or data.get("vulnerable_people")
    summary = {"records": 0, "records_known": 0, "content": False, "vulnerable_people": 0,
               "vulnerable_skipped": bool(register) and not with_vulnerable,
               "personal": private is not None,
               "personal_skipped": bool(data.get("personal")) and private is None}
    with transaction(db):
        summary["content"] = _merge_content(db, data.get("content") or {}, (private or {}).get("contacts"))
        store = SqliteStore(db.conn)
        for record in parsed:
            if store.put(record):
                summary["records"] += 1
            else:
                summary["records_known"] += 1
        if with_vulnerable and register:
            summary["vulnerable_people"] = Register(db, data_dir).merge(register)
    return summary


def import_file(db, path_or_bytes, *, data_dir=None, with_vulnerable: bool = False,
                extra_trust: list[bytes] = ()) -> dict:
    blob = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    data = open_bundle(blob, [*trusted_keys(db.conn), *extra_trust])
    return merge(db, data, data_dir=data_dir, with_vulnerable=with_vulnerable)
