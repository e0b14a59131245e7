"""vCard export of the whole annuaire for the crisis cell's phones (every visibility).

The residents' pages export public contacts only (kit/web/pages.py); this file is for
operators and carries cell-only numbers, so it is served on the operators' listener only.
"""
from __future__ import annotations

from kit.exchange import vcard


def contacts_vcf(db, kit_id: str) -> str:
    cursor = db.execute("SELECT * FROM contacts ORDER BY position")
    columns = [d[0] for d in cursor.description]
    cards = []
    for row in cursor.fetchall():
        c = dict(zip(columns, row))
        cards.append(vcard.card(
            uid=f"{kit_id}-{c['slug']}", name=c["name_fr"], phone=c["phone"],
            phone_secondary=c["phone_secondary"], role=c["role_fr"], organisation=c["organisation"],
            note=c["note_fr"], categories=f"{c['grp']},{c['visibility']}", revised=c["last_verified"],
            sms_only=bool(c["sms_only"])))
    return "".join(cards)
