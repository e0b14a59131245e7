"""Issue 13 #14: what a kit keeps on disk is private whatever the umask it was started with."""
import os
import stat

import pytest
from test_exchange_support import PERSON

from kit.cli import main as cli
from kit.core.kit import Kit
from kit.crypto import own_key
from kit.exchange import vulnerable


@pytest.fixture
def open_umask():
    """A shell with umask 000: the worst a technician running the kit by hand could have."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def modes(folder):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


def test_data_folder_0700_and_files_0600_whatever_the_umask(tmp_path, open_umask):
    folder = tmp_path / "kit-data"
    kit = Kit.open(folder, TRUST_KEYS=None)
    try:
        kit.add_user("marie", "admin", "cli", "cli")
        vulnerable.Register(kit.db(), folder).add(PERSON, "marie")
        own_key.load(folder)
        found = modes(folder)
        assert {"kit.db", "kit.db-wal", "kit.db-shm", "secret_key", "kit_key", "identity.key"} <= set(found)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {name: mode for name, mode in found.items() if mode != 0o600} == {}
    finally:
        kit.close()
    assert cli.main(["timeline", "--csv", str(tmp_path / "retex.csv"), "--data", str(folder)]) == 0
    assert cli.main(["backup", str(tmp_path / "copie.db"), "--binary", "--data", str(folder)]) == 0
    assert stat.S_IMODE((tmp_path / "retex.csv").stat().st_mode) == 0o600    # exports too
    assert stat.S_IMODE((tmp_path / "copie.db").stat().st_mode) == 0o600


def test_an_older_kit_is_tightened_when_it_starts(tmp_path, open_umask):
    folder = tmp_path / "kit-data"
    Kit.open(folder, TRUST_KEYS=None).close()
    os.chmod(folder, 0o755)
    os.chmod(folder / "kit.db", 0o644)
    Kit.open(folder, TRUST_KEYS=None).close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "kit.db").stat().st_mode) == 0o600


def test_the_first_admin_password_never_goes_to_the_journal(tmp_path):
    """Under systemd stdout is the journal: the password goes to a 0600 file, and on the
    screen only when a terminal is attached (a real pty here)."""
    import io

    from kit.cli import first_password
    journal = io.StringIO()                                    # not a TTY, as under systemd
    path = first_password.announce("admin", "abcd-efgh-jkmn-pqrs-tuvw", tmp_path, journal)
    assert "abcd-efgh" not in journal.getvalue() and str(path) in journal.getvalue()
    assert path.read_text().split() == ["admin", "abcd-efgh-jkmn-pqrs-tuvw"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    main, side = os.openpty()
    with os.fdopen(side, "w") as terminal:
        first_password.announce("admin", "abcd-efgh-jkmn-pqrs-tuvw", tmp_path, terminal)
    assert b"abcd-efgh-jkmn-pqrs-tuvw" in os.read(main, 4096)
    os.close(main)


def test_the_register_key_is_outside_the_data_folder(tmp_path, monkeypatch):
    """Issue 13 #14: the register's key sat next to kit.db, so a copy of the data folder
    opened the register. Now: never in the data folder; a systemd credential or an
    operator-given path when there is one."""
    monkeypatch.delenv(vulnerable.KEY_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    folder = tmp_path / "kit-data"
    kit = Kit.open(folder, TRUST_KEYS=None)
    try:
        vulnerable.Register(kit.db(), folder).add(PERSON, "marie")
        copy = tmp_path / "copie"                                # the data folder, copied whole
        copy.mkdir()
        for path in folder.iterdir():
            (copy / path.name).write_bytes(path.read_bytes())
        assert vulnerable.key_path(folder).parent != folder
        assert b"Tartempion" not in b"".join(p.read_bytes() for p in copy.iterdir())
        key = vulnerable.key_path(folder).read_bytes()
        assert key not in b"".join(p.read_bytes() for p in copy.iterdir())
        credentials = tmp_path / "credentials"                   # as systemd's LoadCredential= gives it
        credentials.mkdir()
        (credentials / vulnerable.CREDENTIAL).write_bytes(key)
        vulnerable.key_path(folder).unlink()
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
        assert [e["full_name"] for e in vulnerable.Register(kit.db(), folder).entries()] == ["Germaine Tartempion"]
    finally:
        kit.close()


def test_an_older_kits_register_key_moves_out_of_its_data_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(vulnerable.KEY_ENV, raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    folder = tmp_path / "kit-data"
    kit = Kit.open(folder, TRUST_KEYS=None)
    kit.close()
    legacy = folder / vulnerable.KEY_FILE                        # where kits before kept it
    os.close(os.open(legacy, os.O_WRONLY | os.O_CREAT, 0o600))
    legacy.write_bytes(os.urandom(32))
    vulnerable.Register(Kit.open(folder, TRUST_KEYS=None).db(), folder).add(PERSON, "marie")
    assert vulnerable.key_in_data_folder(folder)                 # still works, and says so
    outside = tmp_path / "cles" / "register.key"
    outside.parent.mkdir()
    assert cli.main(["register-key", "move", "--to", str(outside), "--data", str(folder)]) == 0
    assert "--register-key" in capsys.readouterr().out
    assert not legacy.exists() and stat.S_IMODE(outside.stat().st_mode) == 0o600
    monkeypatch.setenv(vulnerable.KEY_ENV, str(outside))
    kit = Kit.open(folder, TRUST_KEYS=None)
    try:
        assert not vulnerable.key_in_data_folder(folder)
        assert [e["full_name"] for e in vulnerable.Register(kit.db(), folder).entries()] == ["Germaine Tartempion"]
    finally:
        kit.close()
