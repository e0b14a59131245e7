"""vCard 3.0 (RFC 2426) for the contact sheet: one card per contact or the whole sheet."""
from __future__ import annotations


def escape(value: str) -> str:
    """Escape a text value: backslash, comma, semicolon and newlines (RFC 2426 §4)."""
    return (
        value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
        .replace("\r\n", "\\n").replace("\n", "\\n")
    )


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line at `limit` octets without splitting a UTF-8 character."""
    encoded = line.encode("utf-8")
    if len(encoded) <= limit:
        return line
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        budget = limit if not parts else limit - 1  # continuation lines start with a space
        if size + width > budget:
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def card(*, uid: str, name: str, phone: str, role: str = "", organisation: str = "",
         note: str = "", categories: str = "", revised: str = "", sms_only: bool = False,
         phone_secondary: str = "") -> str:
    """One vCard. N and FN are required; the organisation-style N puts the name in family."""
    tel_type = "TYPE=CELL,MSG" if sms_only else "TYPE=WORK,VOICE"
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"N:{escape(name)};;;;",
        f"FN:{escape(name)}",
        f"TEL;{tel_type}:{phone}",
    ]
    if phone_secondary:
        lines.append(f"TEL;TYPE=CELL:{phone_secondary}")
    if organisation:
        lines.append(f"ORG:{escape(organisation)}")
    if role:
        lines.append(f"TITLE:{escape(role)}")
    if note:
        lines.append(f"NOTE:{escape(note)}")
    if categories:
        lines.append(f"CATEGORIES:{escape(categories)}")
    if revised:
        lines.append(f"REV:{revised}")
    lines += [f"UID:{escape(uid)}", "END:VCARD"]
    return "".join(fold(line) + "\r\n" for line in lines)
