"""Bundled default content (kit/content/*.toml) loaded into the database once.

The files are data, not code: a mairie edits its own copy, the kit loads it on first start.
"""
from __future__ import annotations

import tomllib
from importlib import resources

from kit.storage import settings
from kit.storage.db import transaction

LANGS = ("fr", "falc", "en")
PHASES = ("avant", "pendant", "apres")
AUDIENCES = ("habitant", "benevole", "cellule")


def _read(name: str) -> dict:
    return tomllib.loads((resources.files("kit.storage") / "content" / name).read_text(encoding="utf-8"))


def bundled() -> dict:
    """Every bundled content file, parsed: commune, risks, checklists, contacts, sites."""
    risks = _read("risks.toml")["risk"]
    return {
        "commune": _read("commune.toml"),
        "risks": risks,
        "checklists": {r["slug"]: _read(f"checklists/{r['slug']}.toml")["item"] for r in risks},
        "contacts": _read("contacts.toml")["contact"],
        "sites": _read("sites.toml")["site"],
    }


def _tri(value: dict, key: str) -> dict:
    """{'fr':…, 'falc':…, 'en':…} → {key_fr, key_falc, key_en}; FALC falls back to fr."""
    return {
        f"{key}_fr": value["fr"],
        f"{key}_falc": value.get("falc") or value["fr"],
        f"{key}_en": value.get("en") or value["fr"],
    }


def load_defaults(db) -> bool:
    """Load the bundled content if it was never loaded. Returns True when it loaded."""
    if settings.get(db, "content_date"):
        return False
    data = bundled()
    with transaction(db):
        for position, risk in enumerate(data["risks"]):
            db["risks"].insert(
                {"slug": risk["slug"], "kind": risk["kind"], "position": position}
                | _tri(risk["name"], "name")
                | _tri(risk["summary"], "summary")
            )
            for item_position, item in enumerate(data["checklists"][risk["slug"]]):
                db["checklist_items"].insert(
                    {
                        "risk": risk["slug"],
                        "phase": item["phase"],
                        "audience": item["audience"],
                        "position": item_position,
                        "source": item["source"],
                    }
                    | _tri(item, "text")
                )
        for position, contact in enumerate(data["contacts"]):
            note = contact.get("note", {})
            db["contacts"].insert(
                {
                    "slug": contact["slug"],
                    "grp": contact["group"],
                    "position": position,
                    "name_fr": contact["name"]["fr"],
                    "name_en": contact["name"].get("en") or contact["name"]["fr"],
                    "phone": contact["phone"],
                    "sms_only": int(contact.get("sms_only", False)),
                    "phone_secondary": contact.get("phone_secondary", ""),
                    "organisation": contact.get("organisation", ""),
                    "deputy": contact.get("deputy") or None,
                    "visibility": contact["visibility"],
                    "last_verified": str(contact["last_verified"]),
                    "note_fr": note.get("fr", ""),
                    "note_en": note.get("en", ""),
                }
                | _tri(contact["role"], "role")
            )
        for position, site in enumerate(data["sites"]):
            note = site.get("note", {})
            db["sites"].insert(
                {
                    "slug": site["slug"],
                    "position": position,
                    "name": site["name"],
                    "type": site["type"],
                    "address": site["address"],
                    "lat": site["lat"],
                    "lon": site["lon"],
                    "capacity": site.get("capacity", 0),
                    "present": site.get("present", 0),
                    "status": site["status"],
                    "amenities": " ".join(site.get("amenities", [])),
                    "visibility": site.get("visibility", "public"),
                    "updated_at": str(site["updated_at"]),
                    "note_fr": note.get("fr", ""),
                    "note_en": note.get("en", ""),
                }
            )
        commune = data["commune"]
        settings.put_many(
            db,
            {
                "content_date": str(commune["content_date"]),
                "commune_name": commune["commune"]["name"],
                "commune_insee": commune["commune"]["insee"],
            },
        )
        if not settings.get(db, "kit_name"):
            settings.put(db, "kit_name", commune["kit"]["name"])
    return True
