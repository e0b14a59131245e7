"""A real Mosquitto on loopback for the federation tests and benchmark: TLS from a test CA
made here with the `openssl` CLI, one account per kit (`mosquitto_passwd`), and the ACL and
configuration `kit profile render` writes (kit/deploy/broker_config.py)."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from helpers import free_port, wait_for

from kit.core.federation import BrokerSpec
from kit.deploy import broker_config

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")
OPENSSL = shutil.which("openssl")
HAVE_BROKER = bool(MOSQUITTO and MOSQUITTO_PASSWD and OPENSSL)
WHY = "needs Debian's mosquitto (mosquitto, mosquitto_passwd) and openssl"
PREFIX = "territoire/fr-99"


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and the broker's certificate for 127.0.0.1 (EC P-256: quick to make)."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _run(OPENSSL, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=Territoire test CA", cwd=folder)
    _run(OPENSSL, "req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run(OPENSSL, "x509", "-req", "-in", "broker.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "broker.crt", "-days", "2", "-extfile", "san.ext", cwd=folder)
    return folder / "ca.crt", folder / "broker.crt", folder / "broker.key"


class Broker:
    def __init__(self, folder: Path, prefix: str = PREFIX):
        self.folder = Path(folder)
        self.prefix = prefix
        self.ca, cert, key = make_ca(self.folder / "tls")
        self.port = free_port()
        self.passwd = self.folder / "passwd"
        self.passwd.write_text("")
        self.files = broker_config.BrokerFiles(
            prefix, port=self.port, bind="127.0.0.1", cafile=str(self.ca), certfile=str(cert), keyfile=str(key),
            password_file=str(self.passwd), acl_file=str(self.folder / "acl"),
            persistence_dir=str(self.folder / "data"), run_as_root=True)
        (self.folder / "data").mkdir()
        (self.folder / "acl").write_text(broker_config.acl(self.files))
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text(broker_config.conf(self.files) + f"log_dest file {self.folder / 'mosquitto.log'}\n")
        self.proc: subprocess.Popen | None = None
        self.passwords: dict[str, str] = {}

    def account(self, name: str) -> str:
        password = f"pw-{name}-{len(self.passwords)}"
        _run(MOSQUITTO_PASSWD, "-b", str(self.passwd), name, password, cwd=self.folder)
        self.passwords[name] = password
        self.reload()
        return password

    def revoke(self, name: str) -> None:
        _run(MOSQUITTO_PASSWD, "-D", str(self.passwd), name, cwd=self.folder)
        self.reload()

    def reload(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGHUP)
            time.sleep(0.2)

    def spec(self, name: str, password: str | None = None) -> BrokerSpec:
        if name not in self.passwords and password is None:
            self.account(name)
        return BrokerSpec("127.0.0.1", self.port, True, self.prefix, name,
                          password if password is not None else self.passwords[name], ca_file=str(self.ca))

    def start(self) -> "Broker":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        assert wait_for(self._listening, 10), (self.folder / "mosquitto.log").read_text()
        return self

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the broker dies without saving (what it had not autosaved is lost)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
