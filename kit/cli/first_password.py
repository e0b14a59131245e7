"""The first admin password a kit generates from its profile: for the technician's eyes only.

Under systemd, stdout is the journal, which any member of `adm` or `systemd-journal` reads
and which is kept for weeks (journalctl(1)); so the password goes to a 0600 file in the
data folder, to be read once and deleted, and on the terminal only when one is attached.
"""
from __future__ import annotations

import sys
from pathlib import Path

from kit.exchange import private_file

FILE = "first-admin-password.txt"


def announce(name: str, password: str, data_dir: str | Path, stream=None) -> Path:
    stream = stream or sys.stdout
    path = Path(data_dir) / FILE
    private_file.write(path, f"{name}\n{password}\n".encode())
    if stream.isatty():
        print(f"First crisis-cell account {name!r} (admin) created. Its password, shown only now: "
              f"{password}", file=stream, flush=True)
    print(f"First crisis-cell account {name!r} (admin) created; its password is in {path} (0600): "
          "read it once, then delete the file.", file=stream, flush=True)
    return path
