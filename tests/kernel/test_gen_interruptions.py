"""xsk gen under what interrupts a run: its link going down (it waits, and says for how long)
and Ctrl-C (the run ends as a count would, with the whole summary)."""

from __future__ import annotations

import signal
import subprocess
import time

from .test_cli import last_json, start, wait_attached


def test_gen_waits_for_its_link_and_says_how_long_it_was_down(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    gen = start("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--rate", "20k", "--duration", "4",
                "--json")
    time.sleep(1.5)
    subprocess.run(["ip", "-n", a.netns, "link", "set", a.ifname, "down"], check=True)
    time.sleep(0.8)
    subprocess.run(["ip", "-n", a.netns, "link", "set", a.ifname, "up"], check=True)
    out, err = gen.communicate(timeout=60)
    assert gen.returncode == 0, err
    summary = last_json(out)
    assert 0.5 <= summary["link_down_seconds"] <= 4, summary
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
    time.sleep(2.5)
    gen.send_signal(signal.SIGINT)
    out, err = gen.communicate(timeout=30)
    assert gen.returncode == 0, err
    summary = last_json(out)
    assert summary["per_stream"]["only"]["packets"] == summary["packets"] > 0
    assert summary["accounting"]["pool"] == summary["accounting"]["total"]


def test_fwd_waits_for_its_outgoing_link(veth_pair_factory):
    p1, p2 = veth_pair_factory(), veth_pair_factory()
    fwd = start("fwd", p1.b.ifname, p2.b.ifname, "--netns", p1.b.netns, "--netns2", p2.b.netns, "--duration", "5",
                "--json")
    wait_attached(p1.b)
    gen = start("gen", p1.a.ifname, "--netns", p1.a.netns, "--dst-mac", p1.b.mac, "--rate", "20k", "--duration", "3")
    time.sleep(1.5)
    subprocess.run(["ip", "-n", p2.b.netns, "link", "set", p2.b.ifname, "down"], check=True)
    time.sleep(0.8)
    subprocess.run(["ip", "-n", p2.b.netns, "link", "set", p2.b.ifname, "up"], check=True)
    gen.communicate(timeout=60)
    out, err = fwd.communicate(timeout=60)
    assert fwd.returncode == 0, err
    summary = last_json(out)
    assert summary["link_down_seconds"] >= 0.3 and summary["forwarded"] > 0, summary
    assert f"{p2.b.ifname} was down for" in err
    assert summary["accounting"]["pool"] == summary["accounting"]["total"]
