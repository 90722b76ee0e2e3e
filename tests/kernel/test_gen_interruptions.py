"""xsk gen under what interrupts a run: its link going down (it waits, and says for how long)
and Ctrl-C (the run ends as a count would, with the whole summary)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from xsk import link, netns

from .test_cli import (
    XSK,
    drain,
    first_sending,
    held_off,
    last_json,
    line_after,
    start,
    start_timed,
    stop_when_received,
    wait_attached,
)


def _link_down_for(end, seconds: float) -> tuple[float, float, float]:
    """``end``'s link down for ``seconds``. How long it was down at least (from the down command's
    return to the up command's start) and at most (from the one's start to the other's return),
    and the time.time() the up command returned at."""
    t0 = time.monotonic()
    subprocess.run(["ip", "-n", end.netns, "link", "set", end.ifname, "down"], check=True)
    t1 = time.monotonic()
    time.sleep(seconds)
    t2 = time.monotonic()
    subprocess.run(["ip", "-n", end.netns, "link", "set", end.ifname, "up"], check=True)
    return t2 - t1, time.monotonic() - t0, time.time()


def _tx_dropped(end) -> int:
    """Frames ``end``'s interface dropped on transmit (its link counter)."""
    with netns.entered(end.netns):
        return link.counters(end.ifname)["tx_dropped"]


def test_gen_waits_for_its_link_and_says_how_long_it_was_down(veth_pair):
    """The link goes down under a running send loop and comes back before gen is stopped (no
    --duration: a busy machine may start gen late or slow the test down, and a run that ended
    first would have nothing to wait for)."""
    a, b = veth_pair.a, veth_pair.b
    sink = start("sink", b.ifname, "--netns", b.netns, "--json")
    wait_attached(b)
    gen, since = start_timed("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "20k", "--json")
    first_sending(gen)
    least, most, up_at = _link_down_for(a, 0.8)
    line_after(gen, up_at)  # sending again: the wait is over
    gen.send_signal(signal.SIGINT)
    collect = drain(gen)
    held = held_off(gen, since)
    out, err = collect()
    assert gen.returncode == 128 + signal.SIGINT, err  # interrupted, and the summary says so
    summary = last_json(out)
    # The frames that waited on the TX ring while the link was down went when it came back: the
    # receiver got every frame gen counted as sent, each once and in order, but the one the driver
    # had in hand as the carrier went (the kernel completes it unsent and counts it in the
    # interface's tx_dropped: 1 in about 6 runs here). Exact, with that counter.
    dropped = _tx_dropped(a)
    got = last_json(stop_when_received(sink, summary["packets"] - dropped))  # however long the last ones take
    assert (got["packets"], got["lost"], got["duplicates"]) == (summary["packets"] - dropped, dropped, 0), (
        got, summary, f"tx_dropped {dropped}")
    # it sends every millisecond, so it notices at once, and polls every 50 ms for the link to be up:
    # it measures the time down within that, and within the time the machine kept it off the CPU
    assert least - held - 0.05 <= summary["link_down_seconds"] <= most + held + 0.1, (least, most, held, summary)
    assert f"{a.ifname} was down for" in err and "went when it came back" in err
    acc = summary["accounting"]
    assert acc["pool"] == acc["total"], acc  # what waited on the TX ring left, or came back at close


def test_ctrl_c_ends_a_profile_run_with_its_summary(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text(f"""[[stream]]
name = "only"
packet = "Ether()/IP(src='{a.ip}', dst='{b.ip}')/UDP(sport=1, dport=9000)"
rate = "10k"
""")
    gen = start("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile), "--json")
    # Ctrl-C once it is sending: a Ctrl-C while it still starts up (on a busy machine that can take
    # longer than any fixed sleep) is an ordinary KeyboardInterrupt, not what this test is about
    sending = first_sending(gen)
    gen.send_signal(signal.SIGINT)
    out, err = drain(gen)()
    assert gen.returncode == 128 + signal.SIGINT, err
    summary = last_json(out)
    assert summary["interrupted"] == "SIGINT"
    assert summary["per_stream"]["only"]["packets"] == summary["packets"] >= sending
    assert summary["accounting"]["pool"] == summary["accounting"]["total"]


def test_fwd_waits_for_its_outgoing_link(veth_pair_factory):
    """As gen's test, for fwd's outgoing link, with traffic from gen through it all along."""
    p1, p2 = veth_pair_factory(), veth_pair_factory()
    sink = start("sink", p2.a.ifname, "--netns", p2.a.netns, "--json")  # behind fwd's outgoing link
    wait_attached(p2.a)
    fwd, fwd_since = start_timed("fwd", p1.b.ifname, p2.b.ifname, "--netns", p1.b.netns, "--netns2", p2.b.netns,
                                 "--json")
    wait_attached(p1.b)
    gen, gen_since = start_timed("gen", p1.a.ifname, "--netns", p1.a.netns, "--dst-mac", p1.b.mac, "--rate", "20k",
                                 "--json")
    first_sending(gen)  # frames are on their way through fwd when its outgoing link goes down
    least, most, up_at = _link_down_for(p2.b, 0.8)
    line_after(fwd, up_at)  # forwarding again: the wait is over
    for proc in (gen, fwd):
        proc.send_signal(signal.SIGINT)
    collect_gen, collect_fwd = drain(gen), drain(fwd)
    gen_held, fwd_held = held_off(gen, gen_since), held_off(fwd, fwd_since)
    collect_gen()
    out, err = collect_fwd()
    assert fwd.returncode == 128 + signal.SIGINT, err
    summary = last_json(out)
    # fwd notices at its next frame, late only by as long as the machine kept gen or fwd off the CPU
    held = gen_held + fwd_held
    assert least - held - 0.05 <= summary["link_down_seconds"] <= most + held + 0.1, (least, most, held, summary)
    # what fwd forwarded arrived behind its link, each once: the frames that waited on fwd's TX
    # ring while the link was down went when it came back, all but any the driver had in hand as
    # the carrier went (counted in the interface's tx_dropped, as in gen's test)
    dropped = _tx_dropped(p2.b)
    got = last_json(stop_when_received(sink, summary["forwarded"] - dropped))  # however long the last ones take
    assert summary["forwarded"] > 0 and (got["packets"], got["duplicates"]) == (summary["forwarded"] - dropped, 0), (
        got, summary, f"tx_dropped {dropped}")
    assert f"{p2.b.ifname} was down for" in err
    assert summary["accounting"]["pool"] == summary["accounting"]["total"]


def _one_line(proc: subprocess.Popen) -> None:
    """Until a running ``--json`` command prints its first line a second: its loop runs."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.communicate(timeout=30)


@pytest.mark.parametrize("command", ["gen", "sink", "fwd", "capture", "replay"])
def test_sigterm_ends_a_run_as_ctrl_c_does_with_its_summary(veth_pair, tmp_path, command):
    """SIGTERM (timeout, systemd, docker stop): the summary, saying "interrupted", and exit 143."""
    a, b = veth_pair.a, veth_pair.b
    pcap = tmp_path / "one.pcap"
    wrpcap(str(pcap), [Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000) / bytes(18)])
    argv = {"gen": ("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "1k"),
            "sink": ("sink", b.ifname, "--netns", b.netns),
            "fwd": ("fwd", b.ifname, "--netns", b.netns),
            "capture": ("capture", b.ifname, "--netns", b.netns, "-w", str(tmp_path / "out.pcap")),
            "replay": ("replay", str(pcap), a.ifname, "--netns", a.netns, "--rate", "100", "--loop", "100000")}
    proc = start(*argv[command], "--json")
    if command in ("gen", "replay"):
        first_sending(proc)
    else:
        wait_attached(b)
        _one_line(proc)
    proc.send_signal(signal.SIGTERM)
    out, err = drain(proc)()
    assert proc.returncode == 128 + signal.SIGTERM, err
    summary = last_json(out)
    assert summary["interrupted"] == "SIGTERM", summary
    assert "Traceback" not in err


def test_sigterm_to_the_process_group_stops_each_sink_worker_with_its_results(veth_pair_factory):
    """As `timeout` does: the signal reaches the workers too, and each still reports."""
    pair = veth_pair_factory(queues=2)
    b = pair.b
    proc = subprocess.Popen([*XSK, "sink", b.ifname, "--netns", b.netns, "--queues", "0-1", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_attached(b)
    _one_line(proc)
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = drain(proc)()
    assert proc.returncode == 128 + signal.SIGTERM, err
    summary = last_json(out)
    assert summary["interrupted"] == "SIGTERM" and summary["queues"] == {"0": 0, "1": 0}, summary


def test_fwd_started_with_sigint_ignored_still_stops_on_sigint(veth_pair):
    """A background job of a script (no job control) inherits SIGINT ignored: xsk restores it."""
    b = veth_pair.b
    ignoring = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                "os.execv(sys.argv[1], sys.argv[1:])")
    proc = subprocess.Popen([sys.executable, "-c", ignoring, *XSK, "fwd", b.ifname, "--netns", b.netns, "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_attached(b)
    _one_line(proc)
    proc.send_signal(signal.SIGINT)
    out, err = drain(proc)()
    assert proc.returncode == 128 + signal.SIGINT, err
    assert last_json(out)["interrupted"] == "SIGINT"
