"""Operator accounts: roles, password hashing (Werkzeug's scrypt), verification.

No account exists on a new kit and there is no default password: `kit user add` (or the
kit profile) creates the first one and prints its generated password once.
"""
from __future__ import annotations

import hmac
import secrets
import time

from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("volunteer", "operator", "admin")  # each role can do what the previous ones can
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")
# Checked against when the account does not exist, so that a wrong name costs the same time.
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    pass


def can(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def new_password() -> str:
    """Five groups of four: about 100 bits, easy to read aloud and type on a phone."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(5))


def account_key(name: str) -> str | None:
    """The one normalisation of an account name (forms, HTTP Basic, limits, the CLI): trimmed
    and lower-case; None when no account can have it."""
    key = name.strip().lower() if isinstance(name, str) else ""
    return key if 2 <= len(key) <= 32 and set(key) <= NAME_CHARS else None


def check_name(name: str) -> str:
    name = account_key(name) or ""
    if not name:
        raise AccountError("account names are 2–32 characters: a-z, 0-9, dot, dash, underscore")
    return name


def add_user(db, name: str, role: str, password: str | None = None,
             password_hash: str | None = None) -> str:
    """Create an account; returns the password (generated unless given)."""
    name = check_name(name)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise AccountError(f"the account {name!r} already exists")
    if password_hash is None:
        password = password or new_password()
        if len(password) < 12:
            raise AccountError("passwords are at least 12 characters")
        password_hash = generate_password_hash(password)
    db.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
               [name, role, password_hash, int(time.time())])
    return password or ""


def set_password(db, name: str, password: str | None = None) -> str:
    password = password or new_password()
    if len(password) < 12:
        raise AccountError("passwords are at least 12 characters")
    updated = db.execute("UPDATE users SET password_hash = ? WHERE name = ?",
                         [generate_password_hash(password), check_name(name)]).rowcount
    if not updated:
        raise AccountError(f"no account {name!r}")
    return password


def set_disabled(db, name: str, disabled: bool) -> None:
    """Disabling, and enabling again, both end the account's sessions: enabling never
    brings back a session opened before the account was disabled."""
    if not db.execute("UPDATE users SET disabled = ?, session_epoch = session_epoch + 1 WHERE name = ?",
                      [int(disabled), account_key(name)]).rowcount:
        raise AccountError(f"no account {name!r}")


def end_sessions(db, name: str) -> None:
    """Log out: every session of this account stops being accepted, server-side (a copy of
    the cookie is worthless from now on)."""
    db.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE name = ?", [account_key(name)])


def users(db) -> list[dict]:
    rows = db.execute("SELECT name, role, created_at, disabled FROM users ORDER BY name").fetchall()
    return [{"name": n, "role": r, "created_at": c, "disabled": bool(d)} for n, r, c, d in rows]


def verify(db, name: str, password: str) -> dict | None:
    """The account if the password is right and the account enabled, else None."""
    row = db.execute("SELECT name, role, password_hash, disabled, session_epoch FROM users WHERE name = ?",
                     [account_key(name)]).fetchone()
    ok = check_password_hash(row[2] if row else _DUMMY_HASH, password)
    if not row or not ok or row[3]:
        return None
    return {"name": row[0], "role": row[1], "stamp": stamp(row[2], row[4])}


def stamp(password_hash: str, epoch: int) -> str:
    """A short fingerprint of the hash and the session epoch, kept in the session: changing
    the password, logging out, disabling or enabling the account ends every session opened
    before."""
    return hmac.new(b"kit-session", f"{epoch}:{password_hash}".encode(), "sha256").hexdigest()[:16]


def current_stamp(db, name: str) -> str | None:
    row = db.execute("SELECT password_hash, disabled, session_epoch FROM users WHERE name = ?",
                     [name]).fetchone()
    return stamp(row[0], row[2]) if row and not row[1] else None
