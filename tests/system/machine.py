"""A Debian root booted by systemd in `systemd-nspawn`, on bridges in network namespaces, and
driven from outside (../../shared reference: system-test.md; systemd-nspawn(1)).

    switch namespace: br-res (residents) and br-cell (crisis cell), each a Linux bridge
    kit namespace:    the container's interfaces, one veth per bridge, named as on a Pi
    phone / cell:     a resident's phone on br-res, the crisis cell's PC on br-cell

A power cut is SIGKILL to the container's PID 1: the kernel kills every process of its PID
namespace at once, with no shutdown (pid_namespaces(7)).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

NSPAWN_RUN = Path("/run/systemd/nspawn")
# A command inside gets the environment a root shell on the kit has, none of the host's
# (no PYTHONPATH, no pip settings).
CLEAN_ENV = ["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
             "LANG=C.UTF-8"]


def sh(*args, check=True, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} → {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


class Network:
    """The namespaces and bridges; `kit_ifs` maps each container interface to its bridge."""

    def __init__(self, tag: str, kit_ifs: dict[str, str]):
        self.tag = tag
        self.switch, self.kit, self.phone, self.cell = (f"{n}{tag}" for n in ("sw", "kit", "ph", "cell"))
        self.kit_ifs = kit_ifs
        self.phone_if, self.cell_if = "wlan0", "eth0"  # as the phone and the PC name theirs

    def up(self) -> None:
        for ns in (self.switch, self.kit, self.phone, self.cell):
            sh("ip", "netns", "add", ns)
            self.run(ns, "ip", "link", "set", "lo", "up")
        for bridge in ("br-res", "br-cell"):
            self.run(self.switch, "ip", "link", "add", bridge, "type", "bridge")
            self.run(self.switch, "ip", "link", "set", bridge, "up")
        plugs = [(self.kit, name, bridge) for name, bridge in self.kit_ifs.items()]
        plugs += [(self.phone, self.phone_if, "br-res"), (self.cell, self.cell_if, "br-cell")]
        for i, (ns, name, bridge) in enumerate(plugs):
            port = f"p{i}{self.tag}"[:15]
            sh("ip", "link", "add", port, "netns", self.switch, "type", "veth", "peer", "name", name, "netns", ns)
            self.run(self.switch, "ip", "link", "set", port, "master", bridge)
            self.run(self.switch, "ip", "link", "set", port, "up")
            self.run(ns, "ip", "link", "set", name, "up")

    def run(self, ns: str, *args, **kwargs) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *args, **kwargs)

    def down(self) -> None:
        for ns in (self.phone, self.cell, self.kit, self.switch):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)


class Container:
    """One root folder, booted and killed as often as a test wants."""

    def __init__(self, root: Path, netns: str, log: Path, binds: list[str] = (), ro_binds: list[str] = ()):
        self.root, self.netns, self.log = root, netns, log
        self.binds, self.ro_binds = list(binds), list(ro_binds)
        self.proc: subprocess.Popen | None = None
        # The overlay root: the root folder read-only under a tmpfs that every boot starts
        # anew (nspawn --volatile=overlay), as overlayroot=tmpfs does from a Pi's initramfs.
        self.volatile = False
        self.boots = 0

    def boot(self, timeout: float = 120) -> float:
        """Start systemd as PID 1; return the seconds until the system finished starting."""
        NSPAWN_RUN.mkdir(parents=True, exist_ok=True)
        if sh("mountpoint", "-q", NSPAWN_RUN, check=False).returncode != 0:
            sh("mount", "-t", "tmpfs", "tmpfs", NSPAWN_RUN)
        args = ["systemd-nspawn", "--register=no", "--keep-unit", "--quiet", "-D", str(self.root), "--boot",
                f"--network-namespace-path=/run/netns/{self.netns}", "--console=pipe",
                # The container owns its network namespace, as a Pi owns its interfaces: nftables
                # and NetworkManager need these (nspawn keeps them only with --private-network).
                "--capability=CAP_NET_ADMIN,CAP_NET_RAW"]
        args += ["--volatile=overlay"] if self.volatile else []
        args += [f"--bind={b}" for b in self.binds] + [f"--bind-ro={b}" for b in self.ro_binds]
        started = time.monotonic()
        self.boots += 1
        with open(self.log, "a") as log:
            log.write(f"\n===== boot {self.boots}\n")
            log.flush()
            # /proc/sys/net writable, as nspawn leaves it with --private-network (its own
            # namespace here too): NetworkManager's shared mode turns on IPv4 forwarding.
            env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=env)
        self.wait_running(timeout)
        return time.monotonic() - started

    def pid1(self) -> int:
        """The container's systemd: nspawn's child (nspawn forks once, then the payload)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.proc.returncode}: see {self.log}")
            children = sh("pgrep", "-P", self.proc.pid, check=False).stdout.split()
            for child in children:
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
                except OSError:  # nspawn's short-lived intermediate child
                    continue
            time.sleep(0.1)
        raise AssertionError("the container's systemd did not start")

    def run(self, *args, check=True, timeout=60, **kwargs) -> subprocess.CompletedProcess:
        """A command inside the booted container (its namespaces, its root)."""
        return sh("nsenter", "--target", self.pid1(), "--mount", "--uts", "--ipc", "--net", "--pid",
                  "--cgroup", "--root", "--wd", "--", *CLEAN_ENV, *args, check=check, timeout=timeout, **kwargs)

    def wait_running(self, timeout: float) -> str:
        """Wait until systemd finished starting ("running" or "degraded")."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl", "is-system-running", check=False, timeout=20).stdout.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.5)
        jobs = self.run("systemctl", "list-jobs", "--no-pager", check=False).stdout
        jobs += self.run("journalctl", "-b", "--no-pager", "-o", "short-monotonic", check=False).stdout[:12000]
        raise AssertionError(f"the container did not finish starting: {state!r}\n{jobs}")

    def power_cut(self) -> None:
        """SIGKILL to PID 1: every process of the container dies at once, nothing shuts down."""
        os.kill(self.pid1(), signal.SIGKILL)
        self.proc.wait(30)

    def shutdown(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.run("systemctl", "poweroff", check=False, timeout=10)
            self.proc.wait(60)
        except (subprocess.TimeoutExpired, AssertionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
