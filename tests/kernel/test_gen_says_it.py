"""xsk gen as a test instrument: rates given as engineers give them, and nothing asked for that
vanishes unsaid (a rate the machine can't reach, frames over the MTU, a stream that never
starts, the broadcast destination, streams without a sequence header), each said once, in
words on stderr and in the --json summary."""

from __future__ import annotations

import json
import subprocess
import sys

from .test_cli import wait_attached, xsk

CLI = [sys.executable, "-m", "xsk.cli"]


def _error_line(done: subprocess.CompletedProcess) -> str:
    """A refused command's one-line error (exit 2, nothing on stdout, no traceback)."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_percentage_of_line_rate_on_veth_is_refused_asking_for_an_absolute_rate(veth_pair):
    a = veth_pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--rate", "50%"))
    assert "veth, which has no line rate" in line and "give an absolute rate" in line, line


def test_units_that_could_be_bits_or_bytes_are_refused_naming_the_forms_taken(veth_pair):
    a = veth_pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--rate", "10kb"))
    assert "'10kb'" in line and "ambiguous" in line and "200kpps" in line and "'10Gbit L1'" in line, line


def test_explicit_units_and_l1_rates_are_taken(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    for rate in ("2kpps", "1Mbps", "1.344Mbit L1"):  # 1.344 Mbit/s L1 at 60-byte frames: 2,000 pps
        done = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "100", "--rate", rate,
                   "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1])["packets"] == 100


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("xsk gen: warning: ")]


def test_a_profile_stream_asking_more_than_the_machine_reaches_is_said_once(veth_pair, tmp_path):
    """5M pps asked for 2 s: veth here carries about a fifth of that (was exit 0 and no word)."""
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text(f"""[[stream]]
name = "flood"
packet = "Ether(dst='{b.mac}')/IP(dst='{b.ip}')/UDP(dport=9000)"
rate = "5Mpps"
duration = 2
""")
    done = xsk("gen", a.ifname, "--netns", a.netns, "--profile", str(profile), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    (line,) = [w for w in summary["warnings"] if w.startswith("stream 'flood': asked for 5,000,000 pps")]
    assert _warnings(done.stderr).count(f"xsk gen: warning: {line}") == 1


def test_frames_over_the_mtu_are_refused_before_sending(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "10",
                           "--size", "1515"))
    assert "1515-byte frames are longer than" in line and "MTU of 1500" in line, line
    assert "--size 1514 or less" in line and f"ip link set {a.ifname} mtu 1501" in line, line
    assert xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "10",
               "--size", "1514").returncode == 0


def test_jumbo_frames_get_the_right_hint(veth_pair_factory):
    pair = veth_pair_factory(mtu=9000)
    a = pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--size", "9000",
                           "--frame-size", "4096"))
    assert "multi-buffer" in line and "send 4096 bytes or less" in line, line
    assert "use --frame-size 4096" not in line


def test_a_stream_starting_after_the_run_ends_is_said(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "p.toml"
    profile.write_text(f"""[[stream]]
name = "now"
packet = "Ether(dst='{b.mac}')/IP(dst='{b.ip}')/UDP(dport=9000)"
rate = "1k"

[[stream]]
name = "later"
packet = "Ether(dst='{b.mac}')/IP(dst='{b.ip}')/UDP(dport=9001)"
rate = "1k"
start = 30
""")
    done = xsk("gen", a.ifname, "--netns", a.netns, "--profile", str(profile), "--duration", "1", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["per_stream"]["later"]["packets"] == 0
    (line,) = [w for w in summary["warnings"] if w.startswith("stream 'later' was to start 30 s into the run")]
    assert "it sent nothing" in line and len(_warnings(done.stderr)) == len(summary["warnings"])


def test_broadcast_for_want_of_dst_mac_is_said_once_and_the_summary_reads_as_text(veth_pair):
    a = veth_pair.a
    done = xsk("gen", a.ifname, "--netns", a.netns, "--count", "100")
    assert done.returncode == 0, done.stderr
    (line,) = _warnings(done.stderr)
    assert "go to the broadcast address ff:ff:ff:ff:ff:ff" in line and "--dst-mac" in line, line
    assert "warning" not in done.stdout  # said once, on stderr
    assert "{" not in done.stdout and "'" not in done.stdout, done.stdout  # no Python dicts
    assert "kernel: " in done.stdout and "packets: 100" in done.stdout


def test_frames_without_a_sequence_header_get_their_own_row(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    sink = subprocess.Popen([*CLI, "sink", b.ifname, "--netns", b.netns, "--count", "300"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_attached(b)
    for seq in ("--seq", "--no-seq"):
        done = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "150", seq, "--rate", "10k")
        assert done.returncode == 0, done.stderr
    out, err = sink.communicate(timeout=60)
    assert sink.returncode == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert ["-", "unsequenced", "150"] in [r[:3] for r in rows], out
    assert ["0", "150"] in [r[:2] for r in rows], out  # the sequenced stream (id 0, no name)
    assert ["packets:", "300"] in rows, out


def _csv_rows(path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_gen_and_sink_write_per_stream_csv_and_report_makes_it_from_their_json(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    sink = subprocess.Popen([*CLI, "sink", b.ifname, "--netns", b.netns, "--count", "500", "--json",
                             "--csv", str(tmp_path / "sink.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", "500", "--rate", "10k", "--json",
              "--csv", str(tmp_path / "gen.csv"))
    assert gen.returncode == 0, gen.stderr
    out, err = sink.communicate(timeout=60)
    assert sink.returncode == 0, err
    (sent,) = _csv_rows(tmp_path / "gen.csv")
    (got,) = _csv_rows(tmp_path / "sink.csv")
    assert (sent["side"], sent["stream"], sent["packets"], sent["bytes"]) == ("gen", "stream0", "500", "30000")
    assert (got["side"], got["stream"], got["packets"], got["lost"]) == ("sink", sent["ids"], "500", "0")
    (tmp_path / "gen.jsonl").write_text(gen.stdout)
    (tmp_path / "sink.jsonl").write_text(out)
    report = subprocess.run([*CLI, "report", "gen.jsonl", "sink.jsonl", "--csv", "all.csv"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    both = _csv_rows(tmp_path / "all.csv")
    assert [(r["side"], r["packets"]) for r in both] == [("gen", "500"), ("sink", "500")]
    assert both[0]["run"] == "gen.jsonl" and not (tmp_path / "report.html").exists()  # --csv alone: no HTML


def test_a_csv_file_that_cannot_be_written_is_refused_before_the_run(veth_pair, tmp_path):
    a = veth_pair.a
    line = _error_line(xsk("gen", a.ifname, "--netns", a.netns, "--count", "10", "--csv",
                           str(tmp_path / "missing" / "x.csv")))
    assert "--csv" in line and "can't write it" in line, line


def test_a_capture_with_frames_over_the_mtu_is_refused_by_replay_and_gen(veth_pair, tmp_path):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    a, b = veth_pair.a, veth_pair.b
    pcap = tmp_path / "big.pcap"
    wrpcap(str(pcap), [Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000) / bytes(n) for n in (18, 1958)])
    for argv in (("replay", str(pcap), a.ifname, "--netns", a.netns),
                 ("gen", a.ifname, "--netns", a.netns, "--pcap", str(pcap), "--count", "10")):
        line = _error_line(xsk(*argv))
        assert "2000-byte frames are longer than" in line and "Raise the MTU" in line, line
