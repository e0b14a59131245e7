"""CSV import and export of the annuaire (contacts) and the sites, with an optional HXL row.

Export: a header row of column names, optionally the HXL hashtag row under it
(hxlstandard.org, HXL 1.1), one row per contact or site. Import accepts the same file, with or
without the HXL row, and upserts by `slug`: nothing is written unless every row is valid,
and every problem is reported as (row, field, problem) with the row number of the file.

Columns come from the table itself (PRAGMA table_info), so a column added by a later
migration travels too; known columns get a precise check, others their SQL type's.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date

from kit.core.messages import _, message_of
from kit.storage.db import transaction

MAX_BYTES = 2 * 1024 * 1024
# Cells a spreadsheet would run as a formula get a leading apostrophe on export (OWASP
# "CSV injection"); import removes it again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
PHONE = re.compile(r"^\+?[0-9 .()-]{2,30}$")


@dataclass(frozen=True)
class Kind:
    table: str
    hidden: tuple[str, ...]      # internal columns: never exported nor imported
    live: tuple[str, ...]        # exported for reading, ignored on import (radio reports own them)
    choices: dict[str, tuple[str, ...]]
    hxl: dict[str, str]


KINDS = {
    "contacts": Kind(
        table="contacts", hidden=("position",), live=(),
        choices={"grp": ("national", "commune", "cellule"),
                 "visibility": ("public", "cellule", "confidentiel")},
        hxl={"slug": "#meta+id", "grp": "#contact+group", "name_fr": "#contact+name+i_fr",
             "name_en": "#contact+name+i_en", "role_fr": "#contact+role+i_fr",
             "role_falc": "#contact+role+i_fr+falc", "role_en": "#contact+role+i_en",
             "phone": "#contact+phone", "sms_only": "#contact+phone+sms_only",
             "phone_secondary": "#contact+phone+secondary", "organisation": "#org+name",
             "deputy": "#contact+deputy", "visibility": "#meta+visibility",
             "last_verified": "#date+verified", "note_fr": "#description+i_fr",
             "note_en": "#description+i_en"}),
    "sites": Kind(
        table="sites", hidden=("position", "needs", "status_at"), live=("status", "present", "updated_at"),
        choices={"type": ("hebergement", "accueil", "rassemblement", "eau", "soins", "pcc"),
                 "status": ("ferme", "en-preparation", "ouvert", "complet", "evacue"),
                 "visibility": ("public", "cellule")},
        hxl={"slug": "#loc+code", "name": "#loc+name", "type": "#loc+type", "address": "#loc+address",
             "lat": "#geo+lat", "lon": "#geo+lon", "capacity": "#capacity+num",
             "present": "#population+num", "status": "#status+code", "amenities": "#meta+amenities",
             "visibility": "#meta+visibility", "updated_at": "#date+updated", "note_fr": "#description+i_fr",
             "note_en": "#description+i_en"}),
}


@dataclass(frozen=True)
class RowError:
    row: int      # line of the file (the header is row 1)
    field: str
    problem: object  # a Message

    @property
    def message(self):
        return _("row %(row)d, %(field)s: %(problem)s", row=self.row, field=self.field or "-",
                 problem=self.problem)

    def __str__(self) -> str:
        return str(self.message)


class ImportError_(ValueError):
    def __init__(self, errors: list[RowError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


def _columns(db, kind: Kind) -> list[dict]:
    info = db.execute(f"PRAGMA table_info({kind.table})").fetchall()
    return [{"name": name, "type": (ctype or "TEXT").upper(), "notnull": bool(notnull),
             "default": default, "pk": bool(pk)}
            for _cid, name, ctype, notnull, default, pk in info if name not in kind.hidden]


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_csv(db, name: str, *, hxl: bool = False) -> str:
    kind = KINDS[name]
    columns = [c["name"] for c in _columns(db, kind)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    if hxl:
        writer.writerow([kind.hxl.get(c, "") for c in columns])
    for row in db.execute(f"SELECT {', '.join(columns)} FROM {kind.table} ORDER BY position").fetchall():
        writer.writerow([neutralise(v) for v in row])
    return out.getvalue()


def _is_hxl_row(cells: list[str]) -> bool:
    filled = [c.strip() for c in cells if c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


def _clean(text: str) -> str:
    text = text.strip()
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def _check(column: dict, kind: Kind, raw: str):
    """The typed value of one cell, or raise ValueError with the problem in words."""
    name, ctype = column["name"], column["type"]
    if name in kind.choices:
        if raw not in kind.choices[name]:
            raise ValueError(_("must be one of: %(choices)s", choices=", ".join(kind.choices[name])))
        return raw
    if name == "slug" and not SLUG.match(raw):
        raise ValueError(_("lower-case letters, digits and dashes only"))
    if name in ("phone", "phone_secondary") and raw and not PHONE.match(raw):
        raise ValueError(_("not a phone number"))
    if name in ("last_verified", "updated_at") and raw:
        try:
            date.fromisoformat(raw[:10])
        except ValueError:
            raise ValueError(_("a date such as 2026-11-01")) from None
    if raw == "" and not column["notnull"]:
        return None
    if raw == "" and column["default"] is not None:
        return None  # the column's default applies
    if "INT" in ctype:
        if name == "sms_only" and raw.lower() in ("true", "false", "oui", "non"):
            return int(raw.lower() in ("true", "oui"))
        # ASCII digits that SQLite can hold (\d takes any script's digits, 10**20 overflows).
        if not re.fullmatch(r"-?[0-9]{1,18}", raw) or (int(raw) < 0 and name in ("capacity", "present")):
            raise ValueError(_("a whole number"))
        return int(raw)
    if "REAL" in ctype:
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            raise ValueError(_("a decimal number")) from None
        limit = 90 if name == "lat" else 180
        if not math.isfinite(value) or (name in ("lat", "lon") and abs(value) > limit):
            raise ValueError(_("out of range"))
        return value
    if raw == "" and column["notnull"]:
        raise ValueError(_("required"))
    if len(raw) > 1000:
        raise ValueError(_("at most 1000 characters"))
    return raw


def parse_csv(db, name: str, data: bytes) -> list[dict]:
    """Validate a whole file; return the rows to write, or raise ImportError_ with every problem."""
    kind = KINDS[name]
    if len(data) > MAX_BYTES:
        raise ImportError_([RowError(0, "", _("the file is larger than 2 MB"))])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportError_([RowError(0, "", _("the file is not UTF-8 text"))]) from None
    # French spreadsheets save with ";": the header row (plain column names) tells which.
    header_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=header_line.count)
    try:
        lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as exc:  # a cell over csv's 128 KB field limit, a quote never closed…
        raise ImportError_([RowError(0, "", _("the file is not valid CSV: %(error)s", error=str(exc)))]) from None
    if not lines:
        raise ImportError_([RowError(1, "", _("the file is empty"))])
    header = [h.strip() for h in lines[0]]
    columns = {c["name"]: c for c in _columns(db, kind)}
    errors = [RowError(1, h, _("unknown column")) for h in header if h and h not in columns]
    required = [c for c, info in columns.items()
                if info["notnull"] and info["default"] is None and c not in kind.live]
    errors += [RowError(1, c, _("missing column")) for c in required if c not in header]
    if errors:
        raise ImportError_(errors)
    first = 2 if len(lines) > 1 and _is_hxl_row(lines[1]) else 1
    rows, seen = [], {}
    for number, cells in enumerate(lines[first:], start=first + 1):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            errors.append(RowError(number, "", _("more cells than columns")))
            continue
        values = {}
        for column_name, raw in zip(header, cells):
            if not column_name or column_name in kind.live:
                continue
            try:
                values[column_name] = _check(columns[column_name], kind, _clean(raw))
            except ValueError as exc:
                errors.append(RowError(number, column_name, message_of(exc)))
        slug = values.get("slug")
        if slug in seen:
            errors.append(RowError(number, "slug", _("same slug as row %(row)d", row=seen[slug])))
        elif slug:
            seen[slug] = number
        rows.append((number, {k: v for k, v in values.items() if v is not None}))
    if name == "contacts":  # a deputy must exist in the file or already on the kit
        known = set(seen) | {s for (s,) in db.execute("SELECT slug FROM contacts")}
        errors += [RowError(number, "deputy", _("no contact with this slug"))
                   for number, values in rows if values.get("deputy") and values["deputy"] not in known]
    if errors:
        raise ImportError_(sorted(errors, key=lambda e: e.row))
    return [values for _number, values in rows]


def import_csv(db, name: str, data: bytes) -> dict:
    """Upsert every row by slug, all or nothing. Existing rows keep their position (for
    sites it is the radio code: it never changes); new ones go to the end."""
    kind = KINDS[name]
    rows = parse_csv(db, name, data)
    added = updated = 0
    with transaction(db):
        for values in rows:
            exists = db.execute(f"SELECT 1 FROM {kind.table} WHERE slug = ?", [values["slug"]]).fetchone()
            if exists:
                changes = {k: v for k, v in values.items() if k != "slug"}
                if changes:
                    assignments = ", ".join(f"{k} = ?" for k in changes)
                    db.execute(f"UPDATE {kind.table} SET {assignments} WHERE slug = ?",
                               [*changes.values(), values["slug"]])
                updated += 1
            else:
                position = db.execute(f"SELECT coalesce(max(position), -1) + 1 FROM {kind.table}").fetchone()[0]
                extra = {"status": "ferme", "updated_at": date.today().isoformat()} if name == "sites" else {}
                row = extra | values | {"position": position}
                db.execute(f"INSERT INTO {kind.table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           list(row.values()))
                added += 1
    return {"added": added, "updated": updated}
