#!/usr/bin/env python3
"""Kit tous risques: prepare a whole commune's kits from a CSV, offline, in one go.

    python deploy/batch.py kits.csv --commune "Exemple-sur-Loire" --insee 45999 \
        --channel-name Exemple --out kits-2025/ [--trust-key PUBKEY] [--signing-key mairie.key]

CSV columns: kit_id, name, site, ssid, wifi_channel, role, latitude, longitude, signing (yes/no).
Writes, in --out (readable by you only):
  <kit_id>/kit.toml     the kit's profile: copy it onto the SD card's boot partition
  <kit_id>/mairie.key   the signing key, for crisis-cell kits (signing = yes) only
  <kit_id>/radio.yaml   the kit radio's settings (applied by the kit itself at boot)
  handheld.yaml         volunteers' handhelds: meshtastic --configure handheld.yaml
  sheet.html            one printable page per kit: admin password, Wi-Fi QR code, addresses
The channel key is made once for the whole commune (or given with --channel-key); each kit
gets its own admin password, printed on the sheet only (the profiles hold its hash).
SECRETS: keep the output folder offline; shred sheet.html after printing.
"""
from __future__ import annotations

import argparse
import csv
import html
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.security import generate_password_hash

from kit.core import auth
from kit.core import config as kit_config
from kit.deploy import bootconfig, radio_config
from kit.deploy import profile as kit_profile


def qr_svg(text: str) -> str:
    import segno

    return segno.make(text, error="m").svg_inline(scale=4, dark="#000", light="#fff")


def wifi_qr(ssid: str) -> str:
    escaped = "".join("\\" + c if c in '\\;,:"' else c for c in ssid)
    return f"WIFI:T:nopass;S:{escaped};;"


def kit_data(row: dict, args, password_hash: str) -> dict:
    data = {
        "kit": {"id": row["kit_id"].strip(), "name": row["name"].strip(), "site": row.get("site", "").strip(),
                "timezone": args.timezone, "admin_listen": "127.0.0.1:8081"},
        "commune": {"name": args.commune, "insee": args.insee},
        "wifi": {"ssid": row["ssid"].strip(), "channel": int(row.get("wifi_channel") or 6), "country": "FR",
                 "internet_sharing": False},
        "admin": {"name": "admin", "password_hash": password_hash},
        "keys": {"trust": args.trust_key, "kit_keys": [args.kit_key]},
        "radio": {"device": "auto", "region": "EU_868", "preset": args.preset,
                  "channel_name": args.channel_name, "channel_key": args.channel_key,
                  "role": (row.get("role") or "CLIENT").strip(), "hop_limit": 3},
    }
    if (row.get("signing") or "").strip().lower() in ("yes", "oui", "1", "true"):
        if not args.signing_key:
            raise SystemExit(f"{row['kit_id']}: signing = yes needs --signing-key FILE")
        data["keys"]["signing_key"] = Path(args.signing_key).name
    if row.get("latitude") and row.get("longitude"):
        data["radio"]["latitude"] = float(row["latitude"])
        data["radio"]["longitude"] = float(row["longitude"])
    return data


PAGE = """<!doctype html>
<html lang="fr"><meta charset="utf-8"><title>Kits — {commune}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; }}
section {{ page-break-after: always; padding: 2cm; }}
h1 {{ font-size: 1.6em; }} .secret {{ font-family: monospace; font-size: 1.6em; border: 2px solid; padding: .3em; }}
.poster {{ border: 3px solid; padding: 1em; margin-top: 2em; text-align: center; }}
.poster p {{ font-size: 1.4em; }}
</style>
{sections}
</html>
"""
SECTION = """<section>
<h1>{name} <small>({kit_id})</small></h1>
<p>{site}</p>
<h2>Compte de la cellule de crise</h2>
<p>Identifiant : <b>admin</b> — mot de passe (à conserver dans le classeur de crise, pas sur le kit) :</p>
<p class="secret">{password}</p>
<p>Pages de la cellule : sur le kit seulement (http://127.0.0.1:8081/admin/ via un câble Ethernet ou SSH).</p>
<div class="poster">
<h2>Wi-Fi du kit de crise : {ssid}</h2>
<p>Réseau ouvert, <b>sans internet</b>. Scannez pour vous connecter :</p>
{qr}
<p>Puis ouvrez <b>http://kit.lan</b> (ou <b>http://10.42.0.1</b>)</p>
{url_qr}
</div>
</section>"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv")
    parser.add_argument("--commune", required=True)
    parser.add_argument("--insee", required=True)
    parser.add_argument("--channel-name", required=True)
    parser.add_argument("--channel-key", help="the commune's channel key (default: a new one)")
    parser.add_argument("--kit-key", help="the territory's kit key, ID:BASE64 (default: a new one; "
                        "kits of other batches sync only if they share it)")
    parser.add_argument("--preset", default=kit_config.PRESET)
    parser.add_argument("--timezone", default="Europe/Paris")
    parser.add_argument("--trust-key", action="append", default=[], help="the mairie's public key(s)")
    parser.add_argument("--signing-key", help="the mairie's private key, for kits with signing = yes")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.channel_key = args.channel_key or radio_config.new_channel_key()
    args.kit_key = args.kit_key or kit_config.new_kit_key()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    sections, problems, first = [], [], None
    with open(args.csv, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        password = auth.new_password()
        data = kit_data(row, args, generate_password_hash(password))
        try:
            profile = kit_profile.parse(data, f"{args.csv}: {row.get('kit_id')}")
        except kit_profile.ProfileError as exc:
            problems.append(str(exc))
            continue
        first = first or profile
        folder = out / profile.kit_id
        folder.mkdir(exist_ok=True)
        (folder / "kit.toml").write_text(bootconfig.dumps(data), encoding="utf-8")
        (folder / "radio.yaml").write_text(radio_config.render(profile), encoding="utf-8")
        if data["keys"].get("signing_key"):
            shutil.copyfile(args.signing_key, folder / data["keys"]["signing_key"])
        for path in folder.iterdir():
            os.chmod(path, 0o600)
        sections.append(SECTION.format(
            name=html.escape(profile.kit_name), kit_id=html.escape(profile.kit_id), site=html.escape(profile.site),
            password=html.escape(password), ssid=html.escape(profile.wifi_ssid),
            qr=qr_svg(wifi_qr(profile.wifi_ssid)), url_qr=qr_svg("http://kit.lan/")))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    if first is not None:
        (out / "handheld.yaml").write_text(radio_config.render(first, handheld=True), encoding="utf-8")
    (out / "sheet.html").write_text(PAGE.format(commune=html.escape(args.commune), sections="\n".join(sections)),
                                    encoding="utf-8")
    for path in out.glob("*.*"):
        os.chmod(path, 0o600)
    print(f"{len(sections)} kit(s) in {out}/: print sheet.html, then copy each <kit>/kit.toml "
          f"(and mairie.key where present) onto its SD card's boot partition.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
