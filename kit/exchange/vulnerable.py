"""The register of vulnerable people (CASF L121-6-1; cnil.fr "registres communaux d'alerte").

Confidential by law: named staff only (the kit's admin role), sole purpose the emergency
plan. So every personal field is sealed at rest with a NaCl SecretBox whose key lives
outside the data folder (see `key_path`), never in the database: a copied kit.db, or the
whole data folder, alone reveals nothing. The register never becomes a mesh record (so it never reaches the radio),
no public page or API reads this table, and it leaves the kit only in a backup or a bundle
made with an explicit flag (kit/exchange/backup.py, bundle.py).
"""
from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import date
from pathlib import Path

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox
from nacl.utils import random as random_bytes

from kit.core.messages import _
from kit.storage.db import transaction

KEY_FILE = "vulnerable.key"          # where kits before issue 13 kept it: in the data folder
KEY_ENV = "KIT_REGISTER_KEY"         # an operator-given path (kit serve --register-key)
CREDENTIAL = "register.key"          # systemd LoadCredential= name ($CREDENTIALS_DIRECTORY)
FIELDS = ("full_name", "birth_year", "address", "category", "phone", "notify", "life_support",
          "notes", "consent", "last_contacted", "result")
CATEGORIES = ("age65", "age60", "handicap", "apa_pch", "autre")
CONSENTS = ("demande", "tiers", "departement")
RESULTS = ("", "ok", "aide", "injoignable")
LIMITS = {"full_name": 120, "address": 200, "phone": 30, "notify": 200, "notes": 1000}
PHONE = re.compile(r"^\+?[0-9 .()-]{2,30}$")


class RegisterError(ValueError):
    """The register cannot be read (missing or wrong key) or an entry is unknown."""


def key_path(data_dir: str | Path) -> Path:
    """Where the register's key is: never next to the database, so a copy of the data
    folder (a stolen SD card's partition, a careless tarball) opens nothing. In order:
    an operator-given path ($KIT_REGISTER_KEY), the systemd credential `register.key`
    (systemd.exec(5) "Credentials": a private, read-only copy only the service can read),
    the data folder's `vulnerable.key` of a kit made before (until `kit register-key move`),
    else a file next to the data folder: `<data folder>.register.key`."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV])
    credentials = os.environ.get("CREDENTIALS_DIRECTORY")
    if credentials and (Path(credentials) / CREDENTIAL).is_file():
        return Path(credentials) / CREDENTIAL
    legacy = Path(data_dir) / KEY_FILE
    if legacy.exists():
        return legacy
    folder = Path(data_dir).resolve()
    return folder.with_name(folder.name + ".register.key")


def key_in_data_folder(data_dir: str | Path) -> bool:
    """The kit still keeps the register's key next to its database (a kit made before)."""
    return key_path(data_dir).resolve().parent == Path(data_dir).resolve()


def move_key(data_dir: str | Path, to: str | Path) -> Path:
    """Migration: the key out of the data folder to `to` (0600, never overwriting),
    checked, then removed from the data folder. The kit then needs `to` given back:
    $KIT_REGISTER_KEY, kit serve --register-key, or a LoadCredential=register.key:`to`."""
    source, target = Path(data_dir) / KEY_FILE, Path(to)
    if not source.exists():
        raise RegisterError(_("This kit has no register key in its data folder: nothing to move."))
    if target.resolve().parent == Path(data_dir).resolve():
        raise RegisterError(_("Choose a place outside the data folder."))
    key = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    if target.read_bytes() != key:
        raise RegisterError(_("The key could not be copied to %(path)s.", path=str(target)))
    source.unlink()
    return target


def load_box(data_dir: str | Path) -> SecretBox:
    """The register's key, made on first use (random, mode 0600, never overwritten)."""
    path = key_path(data_dir)
    try:
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # made meanwhile by another thread: use it
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(random_bytes(SecretBox.KEY_SIZE))
        key = path.read_bytes()
    except OSError as exc:
        raise RegisterError(_("The register's key %(path)s cannot be read or made (%(error)s): give its place "
                              "with kit serve --register-key.", path=str(path), error=exc.strerror)) from None
    if len(key) != SecretBox.KEY_SIZE:
        raise RegisterError(_("The register's key file %(path)s is damaged.", path=str(path)))
    return SecretBox(key)


def validate(data) -> tuple[dict, dict]:
    """Form or JSON input → (values, {field: problem}). Values are given back typed."""
    values = {name: str(data.get(name, "") or "").strip() for name in FIELDS}
    values["life_support"] = values["life_support"] in ("1", "on", "true", "True", "yes")
    errors = {}
    if not values["full_name"]:
        errors["full_name"] = _("The name is required.")
    if not values["address"]:
        errors["address"] = _("The address is required.")
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = _("At most %(limit)d characters.", limit=limit)
    year = values["birth_year"]
    if year and (not year.isdigit() or not 1900 <= int(year) <= date.today().year):
        errors["birth_year"] = _("A year such as 1941.")
    if values["category"] not in CATEGORIES:
        errors["category"] = _("Choose a category.")
    if values["consent"] not in CONSENTS:
        errors["consent"] = _("Say how the person was registered.")
    if values["result"] not in RESULTS:
        errors["result"] = _("Choose a result.")
    if values["phone"] and not PHONE.match(values["phone"]):
        errors["phone"] = _("A phone number: digits, spaces, +.")
    if values["last_contacted"]:
        try:
            date.fromisoformat(values["last_contacted"])
        except ValueError:
            errors["last_contacted"] = _("A date such as 2026-07-14.")
    return values, errors


class Register:
    """CRUD on the sealed register. Callers check the admin role; this class keeps secrecy."""

    def __init__(self, db, data_dir: str | Path):
        self.db = db
        self.box = load_box(data_dir)
        # Overwrite freed pages: an edited entry's old ciphertext does not linger in the file.
        db.execute("PRAGMA secure_delete=ON")

    def _seal(self, entry_id: str, values: dict) -> bytes:
        plain = json.dumps({"id": entry_id, **{k: values.get(k) for k in FIELDS}}, ensure_ascii=False)
        return bytes(self.box.encrypt(plain.encode("utf-8")))

    def _open(self, entry_id: str, sealed: bytes) -> dict:
        try:
            values = json.loads(self.box.decrypt(sealed))
        except CryptoError:
            raise RegisterError(_("The register cannot be read with this kit's key file.")) from None
        if values.pop("id", None) != entry_id:  # a sealed value moved to another row
            raise RegisterError(_("The register cannot be read with this kit's key file."))
        return values

    @staticmethod
    def _checked(values: dict) -> dict:
        checked, errors = validate(values)
        if errors:
            raise RegisterError(_("A register entry is not valid: %(fields)s", fields=", ".join(sorted(errors))))
        return checked

    def add(self, values: dict, by: str, *, now: int | None = None) -> str:
        now = int(time.time()) if now is None else now
        values = self._checked(values)
        entry_id = uuid.uuid4().hex
        self.db.execute("INSERT INTO vulnerable_people (id, sealed, created_at, updated_at, updated_by) "
                        "VALUES (?, ?, ?, ?, ?)", [entry_id, self._seal(entry_id, values), now, now, by])
        return entry_id

    def update(self, entry_id: str, values: dict, by: str, *, now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        values = self._checked(values)
        changed = self.db.execute(
            "UPDATE vulnerable_people SET sealed = ?, updated_at = max(updated_at + 1, ?), updated_by = ? "
            "WHERE id = ? AND removed = 0", [self._seal(entry_id, values), now, by, entry_id]).rowcount
        if not changed:
            raise RegisterError(_("No such person in the register."))

    def remove(self, entry_id: str, by: str, *, now: int | None = None) -> None:
        """Removal on request: the personal data goes; the id stays as a tombstone."""
        now = int(time.time()) if now is None else now
        changed = self.db.execute(
            "UPDATE vulnerable_people SET sealed = x'', removed = 1, updated_at = max(updated_at + 1, ?), "
            "updated_by = ? WHERE id = ? AND removed = 0", [now, by, entry_id]).rowcount
        if not changed:
            raise RegisterError(_("No such person in the register."))

    def get(self, entry_id: str) -> dict | None:
        row = self.db.execute("SELECT id, sealed, created_at, updated_at, updated_by FROM vulnerable_people "
                              "WHERE id = ? AND removed = 0", [entry_id]).fetchone()
        return self._entry(row) if row else None

    def _entry(self, row) -> dict:
        entry_id, sealed, created_at, updated_at, updated_by = row
        return {"id": entry_id, **self._open(entry_id, sealed), "created_at": created_at,
                "updated_at": updated_at, "updated_by": updated_by}

    def entries(self) -> list[dict]:
        """Everyone in the register, by name (decrypted here: there is no index on names)."""
        rows = self.db.execute("SELECT id, sealed, created_at, updated_at, updated_by FROM vulnerable_people "
                               "WHERE removed = 0").fetchall()
        return sorted((self._entry(row) for row in rows), key=lambda e: e["full_name"].casefold())

    def export(self) -> list[dict]:
        """Plain entries and tombstones, for a backup or a bundle made with the explicit flag."""
        rows = self.db.execute("SELECT id, sealed, created_at, updated_at, updated_by, removed "
                               "FROM vulnerable_people ORDER BY id").fetchall()
        out = []
        for entry_id, sealed, created_at, updated_at, updated_by, removed in rows:
            fields = {} if removed else self._open(entry_id, sealed)
            out.append({"id": entry_id, "removed": bool(removed), "created_at": created_at,
                        "updated_at": updated_at, "updated_by": updated_by, "fields": fields})
        return out

    def merge(self, entries: list[dict]) -> int:
        """Merge exported entries: the newer `updated_at` wins, tombstones included.
        Returns how many entries changed here."""
        changed = 0
        with transaction(self.db):
            for entry in entries:
                entry_id = str(entry["id"])
                if not re.fullmatch(r"[0-9a-f]{32}", entry_id):
                    raise RegisterError(_("A register entry has a malformed id."))
                row = self.db.execute("SELECT updated_at FROM vulnerable_people WHERE id = ?",
                                      [entry_id]).fetchone()
                if row is not None and row[0] >= int(entry["updated_at"]):
                    continue
                if entry.get("removed"):
                    sealed, removed = b"", 1
                else:
                    sealed, removed = self._seal(entry_id, self._checked(entry.get("fields") or {})), 0
                self.db.execute(
                    "INSERT INTO vulnerable_people (id, sealed, created_at, updated_at, updated_by, removed) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, "
                    "updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
                    "removed = excluded.removed",
                    [entry_id, sealed, int(entry["created_at"]), int(entry["updated_at"]),
                     str(entry.get("updated_by", "")), removed])
                changed += 1
        return changed
