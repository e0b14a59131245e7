"""`kit bundle|backup|restore|timeline|purge|cap|csv|vcard`: the crisis cell's data in and
out from the command line. Same functions as the web pages (kit/web/admin/data.py); every
action is written in the main courante."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kit.core.kit import Entry, Kit
from kit.crypto import own_key, signing
from kit.crypto.signing import KeyError_, parse_public_key
from kit.exchange import backup as backups
from kit.exchange import bundle as bundles
from kit.exchange import cap as caps
from kit.exchange import cards, private_file, tabular, vulnerable
from kit.exchange import purge as purges
from kit.exchange import timeline as timelines
from kit.storage import queries as records
from kit.storage import settings

DATA_HELP = "data folder (default $KIT_DATA or ./kit-data)"

def _open(args, signing_key: str | None = None) -> Kit:
    """The kit in --data, created or upgraded; the keys it trusts are left as they are."""
    return Kit.open(args.data, TRUST_KEYS=None, SIGNING_KEY=signing_key)


def _log(kit: Kit, action: str, subject: str = "", detail: str = "") -> None:
    kit.log(Entry("cli", "cli", action, subject, detail))


def _fail(command: str, message: str) -> int:
    print(f"kit {command}: {message}", file=sys.stderr)
    return 2


def _public_key(text: str) -> bytes:
    try:
        return parse_public_key(text)
    except KeyError_ as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _key(path):

    return signing.load_key(path) if path else None


def bundle(args) -> int:

    kit = _open(args)
    db, data_dir = kit.db(), kit.data_dir
    try:
        if args.action == "export":
            summary = bundles.export(db, args.file, _key(args.signing_key), with_vulnerable=args.with_vulnerable,
                                     data_dir=data_dir, recipients=args.personal_for)
            _log(kit, "bundle.export", Path(args.file).name,
                 f"{summary['records']} records" + (", register included" if args.with_vulnerable else "")
                 + (f", personal data sealed for {len(args.personal_for)} kits" if args.personal_for else ""))
            print(f"Bundle written to {args.file}: {summary['records']} records, content"
                  + (f", {summary['vulnerable_people']} register entries" if args.with_vulnerable else "")
                  + (f"; check-ins and confidential contacts encrypted for {len(args.personal_for)} kits"
                     if args.personal_for else "; no check-ins or confidential contacts (--personal-for KEY)")
                  + ".")
            return 0
        extra = [parse_public_key(k) for k in args.trust_key]
        summary = bundles.import_file(db, args.file, data_dir=data_dir, with_vulnerable=args.with_vulnerable,
                                      extra_trust=extra)
        _log(kit, "bundle.import", Path(args.file).name, json.dumps(summary))
        print(f"Bundle imported: {summary['records']} new records ({summary['records_known']} already here), "
              f"content {'updated' if summary['content'] else 'unchanged'}"
              + (f", {summary['vulnerable_people']} register entries merged" if args.with_vulnerable else "")
              + (" (the bundle holds the register: add --with-vulnerable to merge it)"
                 if summary["vulnerable_skipped"] else "")
              + (" (its personal data is encrypted for other kits)" if summary["personal_skipped"] else "") + ".")
        return 0
    except (bundles.BundleError, vulnerable.RegisterError, KeyError_, OSError) as exc:
        return _fail(f"bundle {args.action}", str(exc))
    finally:
        kit.close()


def backup(args) -> int:

    kit = _open(args)
    db, data_dir = kit.db(), kit.data_dir
    try:
        if args.binary:
            backups.snapshot(db, args.file, with_vulnerable=args.with_vulnerable)
        else:
            data = backups.build(db, with_vulnerable=args.with_vulnerable, data_dir=data_dir)
            private_file.write(args.file, backups.seal(data, own_key.load(data_dir)))
        _log(kit, "backup", Path(args.file).name, "register included" if args.with_vulnerable else "")
        print(f"Backup written to {args.file}" + (" (includes the register: CONFIDENTIAL)"
                                                    if args.with_vulnerable else "") + ".")
        if not args.binary:
            print("Signed by this kit's key; restoring asks for it (note it apart from the file):\n"
                  f"  --from-kit {own_key.public_text(data_dir)}")
        return 0
    except (backups.BackupError, vulnerable.RegisterError, OSError) as exc:
        return _fail("backup", str(exc))
    finally:
        kit.close()


def restore(args) -> int:

    kit = _open(args)
    db, data_dir = kit.db(), kit.data_dir
    try:
        data = backups.read(Path(args.file).read_bytes(), from_kit=args.from_kit, allow_unsigned=args.unsigned)
        counts = backups.restore(db, data, data_dir=data_dir)
        _log(kit, "restore", Path(args.file).name, json.dumps(counts))
        print(f"Restored {sum(counts.values())} rows. Accounts were restored without passwords: "
              "set one with `kit user passwd NAME`.")
        return 0
    except (backups.BackupError, vulnerable.RegisterError, OSError) as exc:
        return _fail("restore", str(exc))
    finally:
        kit.close()


def register_key(args) -> int:
    """Migration of a kit made before issue 13: the register's key out of the data folder."""
    folder = Kit.open(args.data, TRUST_KEYS=None)
    folder.close()
    try:
        target = vulnerable.move_key(folder.data_dir, args.to)
    except (vulnerable.RegisterError, OSError) as exc:
        return _fail("register-key move", str(exc))
    print(f"The register's key is now {target} (0600), no longer in {folder.data_dir}. The kit needs it back: "
          f"`kit serve --register-key {target}`, KIT_REGISTER_KEY={target}, or under systemd "
          f"LoadCredential=register.key:{target}.")
    return 0


def timeline(args) -> int:

    kit = _open(args)
    db = kit.db()
    try:
        private_file.write(args.csv, timelines.to_csv(timelines.events(db)).encode("utf-8"))
        _log(kit, "timeline.export", Path(args.csv).name)
        print(f"Timeline written to {args.csv}.")
        return 0
    finally:
        kit.close()


def purge(args) -> int:

    kit = _open(args)
    db = kit.db()
    try:
        counts = purges.purge(db, older_than_days=args.older_than, exercise=args.exercise)
        _log(kit, "purge", "", json.dumps({k: v for k, v in counts.items() if k != "cutoff"}))
        print(f"Purged: {counts['records']} records, {counts['corrections']} corrections, "
              f"{counts['pending_posts']} pending posts, {counts['journal']} main courante details.")
        return 0
    finally:
        kit.close()


def cap(args) -> int:

    kit = _open(args)
    db = kit.db()
    try:
        if args.action == "export":
            if args.id:
                uid = records.parse_uid(args.id)
            else:
                row = db.execute("SELECT origin, seq FROM alerts ORDER BY sent_at DESC, seq DESC LIMIT 1").fetchone()
                if row is None:
                    return _fail("cap export", "no alert on this kit")
                uid = tuple(row)
            private_file.write(args.file, caps.export_alert(db, *uid))
            _log(kit, "cap.export", f"{uid[0]:08x}-{uid[1]}")
            print(f"CAP alert {uid[0]:08x}-{uid[1]} written to {args.file}.")
            return 0
        if args.signing_key:
            kit.signing_key = signing.load_key(args.signing_key)
        alert = caps.import_alert(kit, Path(args.file).read_bytes(), by="cli", source="cli")
        uid = records.format_uid(alert.uid)
        _log(kit, "cap.import", uid, f"{alert.event}: {alert.headline}")
        print(f"CAP alert imported as {uid}{' (EXERCICE)' if alert.exercise else ''}, signed by this kit.")
        return 0
    except (caps.CapError, KeyError_, ValueError, OSError) as exc:
        return _fail(f"cap {args.action}", str(exc))
    finally:
        kit.close()


def table(args) -> int:

    kit = _open(args)
    db = kit.db()
    try:
        if args.action == "export":
            private_file.write(args.file, tabular.export_csv(db, args.table, hxl=args.hxl).encode("utf-8"))
            _log(kit, f"{args.table}.export", Path(args.file).name)
            print(f"{args.table} written to {args.file}.")
            return 0
        counts = tabular.import_csv(db, args.table, Path(args.file).read_bytes())
        _log(kit, f"{args.table}.import", Path(args.file).name, json.dumps(counts))
        print(f"{args.table}: {counts['added']} added, {counts['updated']} updated.")
        return 0
    except tabular.ImportError_ as exc:
        for error in exc.errors:
            print(f"kit csv import: {error}", file=sys.stderr)
        print("Nothing was imported.", file=sys.stderr)
        return 2
    except OSError as exc:
        return _fail(f"csv {args.action}", str(exc))
    finally:
        kit.close()


def vcf(args) -> int:

    kit = _open(args)
    db = kit.db()
    try:
        private_file.write(args.file, cards.contacts_vcf(db, settings.get(db, "kit_id", "kit")).encode("utf-8"))
        _log(kit, "contacts.vcard", Path(args.file).name)
        print(f"Contacts written to {args.file}.")
        return 0
    finally:
        kit.close()


def register(commands) -> None:
    b = commands.add_parser("bundle", help="signed kit-to-kit file (USB stick): records and content")
    b.add_argument("action", choices=["export", "import"])
    b.add_argument("file")
    b.add_argument("--data", help=DATA_HELP)
    b.add_argument("--signing-key", metavar="FILE", help="export: sign with this key (kit keys new)")
    b.add_argument("--trust-key", action="append", default=[], metavar="PUBKEY",
                   help="import: also trust bundles signed by this public key (repeatable)")
    b.add_argument("--personal-for", action="append", default=[], metavar="KITKEY", type=_public_key,
                   help="export: include check-ins and confidential contacts, encrypted for this kit only "
                        "(its key, printed by kit backup on that kit; repeatable); without it they are left out")
    b.add_argument("--with-vulnerable", action="store_true",
                   help="include (export, encrypted for the --personal-for kits) or merge (import) the "
                        "confidential register of vulnerable people")
    b.set_defaults(handler=bundle)

    s = commands.add_parser("backup", help="full JSON backup of the kit (no passwords)")
    s.add_argument("file")
    s.add_argument("--data", help=DATA_HELP)
    s.add_argument("--with-vulnerable", action="store_true", help="include the register (CONFIDENTIAL file)")
    s.add_argument("--binary", action="store_true", help="a SQLite snapshot (VACUUM INTO) instead of JSON")
    s.set_defaults(handler=backup)

    r = commands.add_parser("restore", help="restore a JSON backup into a new, empty kit")
    r.add_argument("file")
    r.add_argument("--data", required=True, help="the new kit's data folder")
    r.add_argument("--from-kit", metavar="PUBKEY", type=_public_key,
                   help="the public key of the kit that made the backup (printed by kit backup)")
    r.add_argument("--unsigned", action="store_true",
                   help="accept a backup made before backups were signed (check where it comes from)")
    r.set_defaults(handler=restore)

    g = commands.add_parser("register-key", help="move the register's key out of the data folder (older kits)")
    g.add_argument("action", choices=["move"])
    g.add_argument("--to", required=True, metavar="FILE", help="its new place, outside the data folder")
    g.add_argument("--data", help=DATA_HELP)
    g.set_defaults(handler=register_key)

    t = commands.add_parser("timeline", help="export the crisis timeline (main courante, messages, alerts)")
    t.add_argument("--csv", required=True, metavar="FILE")
    t.add_argument("--data", help=DATA_HELP)
    t.set_defaults(handler=timeline)

    p = commands.add_parser("purge", help="blank residents' personal data older than the retention")
    p.add_argument("--older-than", type=int, metavar="DAYS", help="default: the retention_days setting (30)")
    p.add_argument("--exercise", action="store_true", help="also purge all exercise data, whatever its age")
    p.add_argument("--data", help=DATA_HELP)
    p.set_defaults(handler=purge)

    c = commands.add_parser("cap", help="official alerts as CAP 1.2 XML")
    c.add_argument("action", choices=["export", "import"])
    c.add_argument("file")
    c.add_argument("--id", help="export: the alert's id (default: the newest)")
    c.add_argument("--signing-key", metavar="FILE", help="import: this kit signs the imported alert")
    c.add_argument("--data", help=DATA_HELP)
    c.set_defaults(handler=cap)

    v = commands.add_parser("csv", help="contacts or sites as CSV (optional HXL row)")
    v.add_argument("action", choices=["export", "import"])
    v.add_argument("table", choices=["contacts", "sites"])
    v.add_argument("file")
    v.add_argument("--hxl", action="store_true", help="export: add the HXL hashtag row")
    v.add_argument("--data", help=DATA_HELP)
    v.set_defaults(handler=table)

    k = commands.add_parser("vcard", help="every contact of the annuaire as vCard 3.0 (crisis cell)")
    k.add_argument("file")
    k.add_argument("--data", help=DATA_HELP)
    k.set_defaults(handler=vcf)
