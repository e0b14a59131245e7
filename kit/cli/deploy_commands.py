"""`kit profile check|render|absorb` and `kit radio-config`: the deployment commands."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from kit.deploy import profile as kit_profile
from kit.deploy import radio_config as rc
from kit.deploy.bootconfig import absorb as absorb_profile
from kit.deploy.render import render as render_files
from kit.deploy.render import write


def _load(path: str, strict: bool = False) -> kit_profile.Profile | None:
    try:
        profile = kit_profile.load(path)
    except kit_profile.ProfileError as exc:
        print(exc, file=sys.stderr)
        return None
    for problem in kit_profile.warnings(profile):
        print(f"{path}: {'error' if strict else 'warning'}: {problem}", file=sys.stderr)
    if strict and kit_profile.warnings(profile):
        return None
    return profile


def check(args) -> int:
    profile = _load(args.profile, args.strict)
    if profile is None:
        return 2
    print(f"{args.profile}: kit {profile.kit_id} ({profile.kit_name}), {profile.commune_name} "
          f"({profile.commune_insee}), Wi-Fi {profile.wifi_ssid!r} channel {profile.wifi_channel}, "
          f"radio {profile.radio.region} {profile.radio.preset} {profile.radio.role}: OK")
    return 0


def render(args) -> int:
    profile = _load(args.profile, args.strict)
    if profile is None:
        return 2
    changed = render_files(profile, args.out)
    for path in changed:
        print(path)
    print(f"{len(changed)} file(s) written under {args.out}", file=sys.stderr)
    return 0


def absorb(args) -> int:
    try:
        profile = absorb_profile(args.boot, args.state, strict=not args.allow_examples,
                                 when=time.strftime("%Y-%m-%d"))
    except kit_profile.ProfileError as exc:
        print(exc, file=sys.stderr)
        print("The kit keeps its previous settings.", file=sys.stderr)
        return 2
    print(f"{args.state}/kit.toml: kit {profile.kit_id} ({profile.kit_name})")
    return 0


def radio_config(args) -> int:
    if args.new_key:
        print(rc.new_channel_key())
        return 0
    if not args.profile or not args.out:
        print("kit radio-config: give PROFILE and --out FILE (or --new-key)", file=sys.stderr)
        return 2
    profile = _load(args.profile)
    if profile is None:
        return 2
    text = rc.render(profile, handheld=args.handheld)
    out = Path(args.out)
    if out.exists() and out.read_text() == text:
        print(f"{out}: unchanged")
        return 0
    write(out.parent, {out.name: (text.encode(), 0o600)})
    print(f"{out}: written (contains the channel key: keep it secret)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("profile", help="the kit profile (kit.toml): check it, render the system files")
    actions = p.add_subparsers(dest="profile_action", required=True)
    c = actions.add_parser("check", help="validate a kit.toml and say what is wrong")
    c.add_argument("profile", metavar="PROFILE")
    c.add_argument("--strict", action="store_true", help="refuse the example's public keys")
    c.set_defaults(handler=check)
    r = actions.add_parser("render", help="write every system file of the kit under DIR (/ on the kit)")
    r.add_argument("profile", metavar="PROFILE")
    r.add_argument("--out", required=True, metavar="DIR")
    r.add_argument("--strict", action="store_true", help="refuse the example's public keys")
    r.set_defaults(handler=render)
    a = actions.add_parser("absorb", help="(boot service) keep the boot partition's kit.toml, strip its secrets")
    a.add_argument("--boot", required=True, metavar="FILE")
    a.add_argument("--state", required=True, metavar="DIR")
    a.add_argument("--allow-examples", action="store_true", help="accept the example's public keys (tests)")
    a.set_defaults(handler=absorb)

    q = subparsers.add_parser("radio-config", help="Meshtastic --configure YAML for the kit's radio or a handheld")
    q.add_argument("profile", metavar="PROFILE", nargs="?")
    q.add_argument("--out", metavar="FILE")
    q.add_argument("--handheld", action="store_true", help="for a volunteer's handheld instead of the kit")
    q.add_argument("--new-key", action="store_true", help="print a new AES-256 channel key and exit")
    q.set_defaults(handler=radio_config)
