"""Workers without root: a privileged step pins xsk's program, a worker with only CAP_NET_RAW
(a real unprivileged user, made with setpriv) receives through the pins.

The worker enters the namespace with nsenter --net (not `ip netns exec`, which remounts /sys
and hides bpffs) and then drops to user nobody with CAP_NET_RAW as its only capability.

The worker runs the xsk of this checkout when user nobody can read it. A checkout in root's home
(mode 0700) it cannot: then it runs a copy of the same installed files (xsk with its built
extension and BPF objects, and its runtime dependencies) in a folder nobody can read, as a user
installs xsk where the worker's user can read it (docs/security.md).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

import xsk
from xsk import pinned

from .test_cli import last_json, wait_attached

NOBODY = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
NET_RAW = ["--inh-caps", "+net_raw", "--ambient-caps", "+net_raw"]


def _runtime_distributions(name: str, seen: set[str]) -> None:
    """``name`` and every distribution it needs at run time (extras left out), installed here."""
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key in seen:
        return
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return  # a requirement for another Python (a marker): not installed, not needed
    seen.add(key)
    for requirement in dist.requires or []:
        if "extra ==" not in requirement:
            _runtime_distributions(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0], seen)


def _copy_readable_install(site: Path) -> None:
    """Copy xsk (as built in this checkout) and its runtime dependencies' files into ``site``."""
    import xsk as package

    shutil.copytree(Path(package.__file__).parent, site / "xsk",
                    ignore=shutil.ignore_patterns("__pycache__"))
    names: set[str] = set()
    _runtime_distributions("xsk", names)
    for key in sorted(names - {"xsk"}):
        dist = importlib.metadata.distribution(key)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if file.parts[0] == ".." or not source.is_file() or "__pycache__" in file.parts:
                continue  # scripts outside site-packages, bytecode
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, site / file)


@pytest.fixture(scope="module")
def worker_env():
    """What a worker running as nobody needs in its environment to import xsk: nothing when nobody
    can read this checkout, otherwise PYTHONPATH to a readable copy of the installed files
    (removed after). The worker's environment is this process's with these added."""
    probe = subprocess.run([*NOBODY, sys.executable, "-c", "import xsk.cli"], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode == 0:
        yield {}
        return
    root = Path(tempfile.mkdtemp(prefix="xsk-worker-"))  # under /tmp: not in root's home
    try:
        root.chmod(0o755)
        _copy_readable_install(root / "site")
        extra = {"PYTHONPATH": str(root / "site")}
        again = subprocess.run([*NOBODY, sys.executable, "-c", "import xsk.cli"], capture_output=True, text=True,
                               timeout=60, env={**os.environ, **extra})
        assert again.returncode == 0, f"nobody can't import xsk from a readable copy either: {again.stderr}"
        yield extra
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _as_nobody(extra_env: dict[str, str], end, caps: list[str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(["nsenter", f"--net=/run/netns/{end.netns}", *NOBODY, *caps, sys.executable, "-m",
                             "xsk.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **extra_env})


def _wait_for_line(proc: subprocess.Popen[str], start: str, timeout: float) -> str:
    """Read proc's stderr until a line starting with ``start`` (what was read, that line last);
    fail with what it said if it ends first, or kill it if that takes over ``timeout`` seconds."""
    said = ""
    assert proc.stderr is not None
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        for line in proc.stderr:
            said += line
            if line.startswith(start):
                return said
    finally:
        watchdog.cancel()
    raise AssertionError(f"no {start!r} line from {proc.args!r} within {timeout} s: {said}")


@pytest.fixture
def pin_dir():
    path = f"{pinned.BPFFS}/xskt-{secrets.token_hex(4)}"
    yield path
    if os.path.exists(os.path.join(path, "link")):
        pinned.detach(path)
    assert not os.path.exists(path)


def _attached(end) -> bool:
    out = subprocess.run(["ip", "-n", end.netns, "-o", "link", "show", "dev", end.ifname], capture_output=True,
                         text=True).stdout
    return "prog/xdp" in out


def test_a_worker_with_only_cap_net_raw_receives_through_the_pins(veth_pair, pin_dir, worker_env):
    a, b = veth_pair.a, veth_pair.b
    r = subprocess.run([sys.executable, "-m", "xsk.cli", "prog", "attach", b.ifname, "--netns", b.netns,
                        "--pin", pin_dir, "--owner", "nobody", "--filter", "udp", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["pinned"] == pin_dir and _attached(b)  # attached with no process holding it
    worker = _as_nobody(worker_env, b, NET_RAW, "sink", b.ifname, "--pin", pin_dir, "--count", "2000",
                        "--frames", "1024", "--json")
    try:
        wait_attached(b)  # at once (attached above): the frames are the worker's only once it says it's bound
        said = _wait_for_line(worker, "xsk sink: receiving on", timeout=60)
        g = subprocess.run([sys.executable, "-m", "xsk.cli", "gen", a.ifname, "--netns", a.netns, "--dst-mac",
                            b.mac, "--count", "2000", "--rate", "20k", "--json"],
                           capture_output=True, text=True, timeout=60)
        assert g.returncode == 0, g.stderr
        out, err = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, said + err
    s = last_json(out)
    assert s["packets"] == 2000 and s["lost"] == 0
    assert s["accounting"]["pool"] == s["accounting"]["total"]
    listed = subprocess.run([sys.executable, "-m", "xsk.cli", "prog", "list", "--json"], capture_output=True,
                            text=True, timeout=30)
    assert pin_dir in [p["pinned"] for p in json.loads(listed.stdout)]
    pinned.detach(pin_dir)
    assert not _attached(b) and not os.path.exists(pin_dir)  # nothing left pinned or attached


def test_without_cap_net_raw_the_worker_is_told_which_capability(veth_pair, pin_dir, worker_env):
    b = veth_pair.b
    pinned.attach(b.ifname, pin_dir, netns=b.netns, owner="nobody")
    worker = _as_nobody(worker_env, b, [], "sink", b.ifname, "--pin", pin_dir, "--count", "1", "--frames", "1024")
    _, err = worker.communicate(timeout=30)
    assert worker.returncode != 0
    assert "CAP_NET_RAW" in err and "Traceback" not in err


def test_pins_the_user_may_not_open_and_a_umem_over_the_memlock_limit(veth_pair, pin_dir, make_umem, worker_env):
    b = veth_pair.b
    pinned.attach(b.ifname, pin_dir, netns=b.netns)  # root's only
    worker = _as_nobody(worker_env, b, NET_RAW, "sink", b.ifname, "--pin", pin_dir, "--count", "1", "--frames", "1024")
    _, err = worker.communicate(timeout=30)
    assert worker.returncode != 0 and "owner= or group=" in err and "Traceback" not in err
    pinned.detach(pin_dir)
    pinned.attach(b.ifname, pin_dir, netns=b.netns, owner="nobody")
    limit = 8192  # KiB, set for the worker alone (prlimit): the machine's own limit may be anything
    frames = limit * 1024 // 2048 * 2  # a UMEM twice the limit
    worker = subprocess.Popen(["prlimit", f"--memlock={limit * 1024}", "nsenter", f"--net=/run/netns/{b.netns}",
                               *NOBODY, *NET_RAW, sys.executable, "-m", "xsk.cli", "sink", b.ifname, "--pin",
                               pin_dir, "--count", "1", "--frames", str(frames)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **worker_env})
    _, err = worker.communicate(timeout=30)
    assert worker.returncode != 0
    assert f"RLIMIT_MEMLOCK is {limit} KiB" in err and f"{frames * 2} KiB UMEM" in err


def test_pinned_program_in_process_keeps_the_admins_filter(veth_pair, pin_dir, make_umem):
    from .traffic import Receiver, send_seq, template

    a, b = veth_pair.a, veth_pair.b
    subprocess.run([sys.executable, "-m", "xsk.cli", "prog", "attach", b.ifname, "--netns", b.netns, "--pin",
                    pin_dir, "--filter", "udp:1234"], check=True, capture_output=True, timeout=30)
    prog = pinned.PinnedProgram(pin_dir)
    # frames passed to B's kernel draw ICMP replies; a static neighbour keeps ARP off the counters
    subprocess.run(["ip", "-n", b.netns, "neigh", "replace", a.ip, "lladdr", a.mac, "dev", b.ifname, "nud",
                    "permanent"], check=True)
    ua, ub = make_umem(), make_umem()
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False, program=prog) as rx:
        tpl = template(veth_pair)  # UDP to 9000: not the admin's udp:1234
        assert send_seq(tx, tpl, 0, 100) == 100
        tx.flush()
        assert len(rx.recv(64, timeout=0.3)) == 0 and rx.filter_hits() == [0, 100]
        rx.set_filter("udp:9000")  # the worker's own filter for its queue
        r = Receiver(rx, tpl, first=100)
        assert send_seq(tx, tpl, 100, 100) == 100
        tx.flush()
        assert r.drain(100) == 100 and r.perfect
    assert _attached(b)  # the socket closed; the pin keeps the program
