"""`kit profile absorb`: take kit.toml from the boot partition into the kit's data folder.

At every boot (kit-config.service). The boot partition's file is what a municipality edits;
the copy in /data/kit is what the kit runs on. Secrets leave the boot partition after first
use: a one-time admin password becomes a hash, the channel key and URL, the broker account's
password and the signing key file move to /data/kit; their lines on the card are replaced by a comment. Idempotent: a
stripped boot file plus the kept copy give the same profile again.
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import tomllib
from pathlib import Path

from kit.deploy import profile as kit_profile
from kit.deploy.render import write

STRIPPED = ("admin.password", "radio.channel_key", "radio.channel_url", "federation.password")
RADIO_SECRETS = ("channel_key", "channel_url")


def dumps(data: dict) -> str:
    """TOML for the profile's flat shape (tables of strings, numbers, booleans, string lists)."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        text = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{text}"'
    lines = ["# Kit tous risques: the profile this kit runs on (from the boot partition's kit.toml).",
             "# Written by `kit profile absorb`; edit kit.toml on the boot partition instead."]
    order = ["kit", "commune", "wifi", "admin", "keys", "radio"]
    for section in sorted(data, key=lambda s: (order.index(s) if s in order else len(order), s)):
        table = data[section]
        lines += ["", f"[{section}]"] + [f"{key} = {value(table[key])}" for key in sorted(table)]
    return "\n".join(lines) + "\n"


def merge(boot: dict, kept: dict) -> dict:
    """The boot file rules, except for secrets it no longer holds, which come from the kept copy."""
    merged = copy.deepcopy(boot)
    radio = merged.setdefault("radio", {})
    if not any(k in radio for k in RADIO_SECRETS):
        for key in RADIO_SECRETS:
            if key in kept.get("radio", {}):
                radio[key] = kept["radio"][key]
    admin = merged.setdefault("admin", {})
    if "password" not in admin and "password_hash" not in admin and "password_hash" in kept.get("admin", {}):
        admin["password_hash"] = kept["admin"]["password_hash"]
    federation = merged.get("federation")
    if federation is not None and "password" not in federation and "password" in kept.get("federation", {}):
        federation["password"] = kept["federation"]["password"]  # the broker account's, kept on /data
    keys = merged.get("keys", {})
    kept_key = kept.get("keys", {}).get("signing_key")
    if keys.get("signing_key") and not Path(keys["signing_key"]).is_absolute() and kept_key:
        keys["signing_key"] = kept_key  # the file already moved to the data folder
    return merged


def strip_secrets(text: str, when: str) -> str:
    """The boot file's text with its secret lines replaced by a comment (other lines kept)."""
    section = ""
    out = []
    for line in text.splitlines(keepends=True):
        header = re.match(r"^\s*\[([A-Za-z0-9_]+)\]", line)
        if header:
            section = header.group(1)
        key = re.match(r"^\s*([A-Za-z0-9_]+)\s*=", line)
        if key and f"{section}.{key.group(1)}" in STRIPPED:
            out.append(f"# {key.group(1)}: moved into the kit (/data/kit) on {when}; not on this card any more\n")
        else:
            out.append(line)
    return "".join(out)


def absorb(boot_path: str | Path, state_dir: str | Path, *, strict: bool = True, when: str = "first boot",
           owner: tuple[int, int] | None = None) -> kit_profile.Profile:
    """Validate the boot profile (with kept secrets) and keep it in state_dir/kit.toml; raises
    ProfileError, changing nothing, when it is not valid."""
    from werkzeug.security import generate_password_hash

    boot_path, state_dir = Path(boot_path), Path(state_dir)
    kept_path = state_dir / "kit.toml"
    try:
        boot_text = boot_path.read_text(encoding="utf-8")
        boot = tomllib.loads(boot_text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        kit_profile.load(boot_path)  # raises the precise problem
        raise
    kept = tomllib.loads(kept_path.read_text()) if kept_path.exists() else {}
    merged = merge(boot, kept)
    signing = merged.get("keys", {}).get("signing_key", "")
    key_source = None
    if signing and not Path(signing).is_absolute():
        key_source = boot_path.parent / signing
        merged["keys"]["signing_key"] = str(state_dir / "keys" / Path(signing).name)
    # Validate before touching anything (the key file is checked where it is now).
    parsed = kit_profile.parse(merged, str(boot_path), base_dir=None)
    if key_source is not None and not key_source.exists():
        raise kit_profile.ProfileError(boot_path, [kit_profile.Problem(
            "keys.signing_key", f"{key_source.name} is not on the boot partition",
            "copy the mairie's key file next to kit.toml, or remove signing_key")])
    if strict and kit_profile.warnings(parsed):
        raise kit_profile.ProfileError(boot_path, kit_profile.warnings(parsed))

    if merged.get("admin", {}).get("password"):
        merged["admin"]["password_hash"] = generate_password_hash(merged["admin"].pop("password"))
    state_dir.mkdir(parents=True, exist_ok=True)
    if key_source is not None:
        (state_dir / "keys").mkdir(mode=0o750, exist_ok=True)
        target = state_dir / "keys" / key_source.name
        shutil.copyfile(key_source, target)
        os.chmod(target, 0o640)
        if owner:
            os.chown(target, *owner)
    text = dumps(merged)
    write(state_dir, {"kit.toml": (text.encode(), 0o640)})
    if owner:
        os.chown(kept_path, *owner)
    # Only now, with everything kept, do the secrets leave the card.
    stripped = strip_secrets(boot_text, when)
    if stripped != boot_text:
        write(boot_path.parent, {boot_path.name: (stripped.encode(), boot_path.stat().st_mode & 0o777)})
    if key_source is not None:
        key_source.unlink()
    return kit_profile.load(kept_path)
