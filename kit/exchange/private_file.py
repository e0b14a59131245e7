"""Files that leave the kit (backups, bundles): written whole or not at all, and 0600."""
from __future__ import annotations

import os
from pathlib import Path


def write(path: str | Path, blob: bytes) -> None:
    """Atomically (a half-written backup is worse than none: a temporary file renamed over
    the target, POSIX rename(2)) and private: 0600 given to open(2), so the umask can only
    take bits away, never add any."""
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a stale .part of another mode is reused by O_TRUNC: make it private
    with os.fdopen(fd, "wb") as f:
        f.write(blob)
    os.replace(temporary, path)
