"""`xsk run TX RX --profile FILE`: gen and sink from one command over a veth pair, joined per
stream as sent minus received; its --json lines make a report; SIGTERM ends it with the summary."""

from __future__ import annotations

import json
import signal

from .test_cli import last_json, nothing_attached, start, xsk
from .test_profiles import _Page

PROFILE = """
[[stream]]
name = "voice"
packet = "Ether()/IP(dst='192.0.2.2', tos=0xb8)/UDP(sport=5004, dport=5004)"
rate = "1k"
count = 2000
size = 200
latency = true

[[stream]]
name = "imix"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(sport=1000, dport=9000)"
rate = "5k"
count = 10000
size = "imix"

[[stream]]
name = "raw"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(sport=4000, dport=9001)"
rate = "1k"
count = 2000
seq = false
"""


def test_one_command_sends_receives_and_joins_every_stream_exactly(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text(PROFILE)
    r = xsk("run", a.ifname, b.ifname, "--netns", a.netns, "--rx-netns", b.netns, "--profile", str(profile), "--json",
            timeout=120)
    assert r.returncode == 0, r.stderr
    s = last_json(r.stdout)
    assert s["test"] == "session" and "interrupted" not in s
    want = {"voice": (2_000, "sequence"), "imix": (10_000, "sequence"), "raw": (2_000, "flow")}
    for name, (n, by) in want.items():
        row = s["per_stream"][name]
        assert (row["sent"], row["received"], row["lost"], row["loss_pct"], row["counted_by"]) == (n, n, 0, 0.0, by)
    assert s["totals"] == {"sent": 14_000, "received": 14_000, "lost": 0, "loss_pct": 0.0, "uncounted": []}
    # the default destination is RX_IFACE's MAC: every frame reached the sink, none was broadcast
    assert "broadcast" not in r.stderr
    assert s["sink"]["receive_mode"] == "spin"  # the profile's latency stream
    seconds = [json.loads(line) for line in r.stdout.strip().splitlines()[:-1]]
    assert seconds and all({"gen", "sink", "streams"} <= set(line) for line in seconds)
    assert [(row["stream"], row["state"]) for row in seconds[-1]["streams"]] == [
        ("voice", "finished"), ("imix", "finished"), ("raw", "finished")]  # the tick after gen ended
    assert seconds[-1]["sink"]["flows"]["raw"] > 0  # the unsequenced stream, counted live by its flow
    # xsk report reads the one file as the gen run and the sink run it holds
    saved = tmp_path / "run.jsonl"
    saved.write_text(r.stdout)
    report = xsk("report", str(saved), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "sent minus received (run.jsonl:sink)" in report.stdout
    page = _Page()
    page.feed((tmp_path / "r.html").read_text())
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert {"voice", "imix", "raw", "flow"} <= set(page.cells)
    assert "Mbit/s sent" in page.text
    # warnings (a busy machine may fall short of a rate) at the top as sentences; no stream lost frames
    assert ("Warnings" in page.text) == bool(s.get("warnings"))
    assert all(f"run.jsonl:gen: {w}" in page.text for w in s.get("warnings", []))
    assert " lost " not in page.text.split("Sent minus received")[0]
    assert nothing_attached(a, b)


def test_sigterm_ends_the_run_with_its_summary_and_exit_143(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text("""
[[stream]]
name = "endless"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9000)"
rate = "2k"
""")
    proc = start("run", a.ifname, b.ifname, "--netns", a.netns, "--rx-netns", b.netns, "--profile", str(profile),
                 "--json")
    assert proc.stdout is not None
    for line in proc.stdout:  # until a line counts frames on both sides (start-up takes what it takes)
        record = json.loads(line)
        if record["gen"]["packets"] and record["sink"]["packets"]:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    s = last_json(out)
    assert s["interrupted"] == "SIGTERM" and "Traceback" not in err
    row = s["per_stream"]["endless"]
    assert row["sent"] > 0 and (row["received"], row["lost"]) == (row["sent"], 0)
    assert nothing_attached(a, b)


def test_run_without_a_terminal_prints_the_joined_table(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text('[[stream]]\nname = "one"\npacket = "Ether()/IP(dst=\'192.0.2.2\')/UDP(dport=9000)"\n'
                       'rate = "2k"\ncount = 1000\n')
    r = xsk("run", a.ifname, b.ifname, "--netns", a.netns, "--rx-netns", b.netns, "--profile", str(profile),
            timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert next(row for row in rows if row and row[0] == "one")[:5] == ["one", "1,000", "1,000", "0", "0.000"]
    assert "total: sent 1,000, received 1,000, lost 0 (0%)" in r.stdout
    assert nothing_attached(a, b)
