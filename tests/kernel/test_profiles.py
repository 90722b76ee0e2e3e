"""Traffic profiles over veth: several streams from one `xsk gen --profile`, counted per stream
by `xsk sink` or by the kernel's own UDP socket (which drops any datagram whose lengths or
checksums are wrong)."""

from __future__ import annotations

import collections
import json
from html.parser import HTMLParser

from .test_cli import (
    _udp_server,
    assert_arrived_as_sent,
    assert_paced,
    finish,
    last_json,
    start,
    wait_attached,
    xsk,
    xsk_timed,
)


class _Page(HTMLParser):
    """The report's images, table cells and text, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.cells: list[str] = []
        self.text = ""
        self._in_cell = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_cell = tag == "td"

    def handle_data(self, data):
        self.text += data
        if self._in_cell:
            self.cells.append(data)


TWO_STREAMS = """
[[stream]]
name = "slow"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(sport=7, dport=9000)"
rate = "10k"
count = 20000
fields = { src_port = "1000-1999" }

[[stream]]
name = "fast"
packet = "Ether()/IPv6(src='fd00::1', dst='fd00::2')/UDP(sport=8, dport=9000)"
rate = "30k"
count = 60000
size = "80-144"
"""


def test_two_streams_each_counted_exactly_at_its_own_rate(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "two.toml"
    profile.write_text(TWO_STREAMS)
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "80000", "--json", "--profile", str(profile))
    wait_attached(b)
    gen, held_off = xsk_timed("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile),
                              "--json", timeout=60)
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    out = finish(sink)[0]
    s = last_json(out)
    seconds = [json.loads(line) for line in out.strip().splitlines()[:-1]]
    # a line a second, with each stream's packets so far and the last second's latency
    assert seconds and all(set(line["per_stream"]) <= {"0", "1"} for line in seconds)
    assert any(v["p50_us"] is not None for line in seconds for v in line["per_stream"].values())
    assert s["receive_mode"] == "poll" and s["per_stream"]["0"]["name"] == "slow"
    assert g["packets"] == 80000 and s["packets"] == 80000 and s["lost"] == 0
    assert set(g["per_stream"]) == {"slow", "fast"}
    # each stream at its own rate, by gen's clock: never ahead of its schedule, behind it only while
    # the machine kept gen off the CPU
    assert_paced(g, held_off)
    for name, want_pps, want in (("slow", 10_000, 20_000), ("fast", 30_000, 60_000)):
        sent = g["per_stream"][name]
        assert sent["packets"] == want and sent["asked_pps"] == want_pps
        got = s["per_stream"][str(sent["ids"][0])]
        assert (got["packets"], got["lost"], got["duplicates"]) == (want, 0, 0)
        assert_arrived_as_sent(sent, got, held_off)  # the sink saw them arrive at the rate gen sent them
        assert got["bytes"] == sent["bytes"]
    assert s["per_stream"]["1"]["bytes"] == sum(80 + i % 65 for i in range(60000))  # every size of 80-144, in turn
    # the report of this very run: one HTML file, its charts embedded, every stream named
    (tmp_path / "gen.jsonl").write_text(gen.stdout)
    (tmp_path / "sink.jsonl").write_text(out)
    report = xsk("report", str(tmp_path / "gen.jsonl"), str(tmp_path / "sink.jsonl"), "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    page = _Page()
    page.feed((tmp_path / "r.html").read_text())
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert {"slow", "fast"} <= set(page.cells) and "poll" in page.text


def test_imix_reaches_the_kernel_udp_socket_whole_in_its_ratio(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "imix.toml"
    profile.write_text(f"""
[[stream]]
name = "imix"
packet = "Ether()/IP(src='{a.ip}', dst='{b.ip}')/UDP(sport=4000, dport=9000)"
size = "imix"
rate = "20k"
count = 1200
""")
    got: list[bytes] = []
    server = _udp_server(b.netns, b.ip, 9000, 1200, got)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile), "--json")
    assert gen.returncode == 0, gen.stderr
    server.join(70)
    assert len(got) == 1200, "every datagram passed the kernel's length and checksum checks"
    sizes = collections.Counter(len(d) + 42 for d in got)  # frame = Ethernet 14 + IP 20 + UDP 8 + payload
    assert sizes == {60: 700, 590: 400, 1514: 100}


def test_a_late_stream_with_a_count_arrives_after_the_others_began(veth_pair, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "late.toml"
    profile.write_text("""
[[stream]]
name = "steady"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9000)"
rate = "5k"
count = 15000

[[stream]]
name = "late"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9001)"
start = 2.0
count = 500
""")
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", "15500", "--json")
    wait_attached(b)
    gen, held_off = xsk_timed("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile),
                              "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    s = last_json(finish(sink)[0])
    steady, late = s["per_stream"]["0"], s["per_stream"]["1"]
    assert late["packets"] == 500 and late["lost"] == 0 and steady["lost"] == 0
    assert steady["packets"] == 15000
    # the late stream really started late: gen's own per-second lines show the steady stream
    # sending while the late one had sent nothing yet (it starts 2 s in; a line comes each second)
    lines = [json.loads(line) for line in gen.stdout.strip().splitlines()[:-1]]
    assert any(line["per_stream"].get("steady", 0) > 0 and line["per_stream"].get("late", 0) == 0 for line in lines), \
        lines
    # unpaced: the 500 went as one burst (a paced stream's 500 would take a tenth of a second at the
    # steady one's rate): gen gave them out within 10 ms, more only while the machine held it off
    # the CPU, and they arrived as they went
    sent = g["per_stream"]["late"]
    assert sent["pps"] is None or (sent["packets"] - 1) / sent["pps"] <= 0.01 + held_off, (sent, held_off)
    assert_arrived_as_sent(sent, late, held_off)


def test_profile_mistakes_exit_2_naming_the_file_stream_and_key(veth_pair, tmp_path):
    a = veth_pair.a
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stream]]\nname = "x"\npacket = "Ether()/IP()/UDP()"\nrate = "fast"\n')
    r = xsk("gen", a.ifname, "--netns", a.netns, "--profile", str(bad))
    assert r.returncode == 2 and f"{bad}: stream 0 ('x'): rate: bad rate 'fast'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    r = xsk("gen", a.ifname, "--netns", a.netns, "--profile", str(bad), "--template", "Ether()")
    assert r.returncode == 2 and "--template can't be combined with --profile" in r.stderr
    big = tmp_path / "big.toml"
    big.write_text('[[stream]]\npacket = "Ether()/IP()/UDP()"\nsize = 4000\n')
    r = xsk("gen", a.ifname, "--netns", a.netns, "--profile", str(big))
    assert r.returncode == 2 and "size 4000 does not fit a 2048-byte UMEM frame" in r.stderr, r.stderr


def test_report_refuses_what_is_not_a_run(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"t": 1.0, "packets": 3}\nnot json\n')
    r = xsk("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 2 and f"{bad}:2: not a JSON line" in r.stderr, r.stderr
    bad.write_text('{"t": 1.0, "packets": 3}\n')
    r = xsk("report", str(bad), "-o", str(tmp_path / "r.html"))
    assert r.returncode == 2 and "no summary line" in r.stderr


def test_loss_on_one_stream_is_counted_on_that_stream_only(veth_pair, tmp_path):
    """Every other frame of stream "half" goes to UDP port 9001, which the sink's filter leaves
    to the kernel stack: lost to the sink, exactly those, and none of stream "whole"."""
    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "loss.toml"
    profile.write_text("""
[[stream]]
name = "whole"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9000)"
rate = "10k"
count = 2000

[[stream]]
name = "half"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9000)"
rate = "10k"
count = 2000
fields = { dst_port = "9000-9001" }
""")
    sink = start("sink", b.ifname, "--netns", b.netns, "--filter", "udp:9000", "--count", "3000", "--json",
                 "--profile", str(profile))
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile), "--json")
    assert gen.returncode == 0, gen.stderr
    s = last_json(finish(sink)[0])
    whole, half = s["per_stream"]["0"], s["per_stream"]["1"]
    assert (whole["name"], whole["packets"], whole["lost"]) == ("whole", 2000, 0)
    # numbers 0, 2, ..., 1998 arrive: the 999 odd ones between them are lost (1999, after the
    # last one seen, can't be told from not yet sent)
    assert (half["name"], half["packets"], half["lost"]) == ("half", 1000, 999)
    assert s["lost"] == 999


def test_a_stream_given_an_id_arrives_under_it_and_joins_by_it(veth_pair, tmp_path):
    """Stream "voice" says id = 7, "data" none (its index, 1): xsk sink's per-stream table has
    them under 7 and 1, named from the profile, every frame in order; loss_per_stream joins
    gen's and sink's results by them."""
    from xsk.traffic import loss_per_stream

    a, b = veth_pair.a, veth_pair.b
    profile = tmp_path / "ids.toml"
    profile.write_text("""
[[stream]]
name = "voice"
id = 7
packet = "Ether()/IP(dst='192.0.2.2')/UDP(sport=7, dport=9000)"
rate = "5k"
count = 3000

[[stream]]
name = "data"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(sport=8, dport=9000)"
rate = "5k"
count = 2000
""")
    sink = start("sink", b.ifname, "--netns", b.netns, "--filter", "udp:9000", "--count", "5000", "--json",
                 "--profile", str(profile))
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--profile", str(profile), "--json")
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    s = last_json(finish(sink)[0])
    assert g["per_stream"]["voice"]["ids"] == [7] and g["per_stream"]["data"]["ids"] == [1]
    assert set(s["per_stream"]) == {"7", "1"}
    for key, name, n in (("7", "voice", 3000), ("1", "data", 2000)):
        got = s["per_stream"][key]
        assert (got["name"], got["packets"], got["lost"], got["duplicates"], got["reordered"]) == (name, n, 0, 0, 0)
    loss = loss_per_stream(g, s)
    assert {k: (v.sent, v.received, v.lost, v.extra) for k, v in loss.items()} == {
        "voice": (3000, 3000, 0, 0), "data": (2000, 2000, 0, 0)}
