"""xsk.traffic.Generator and Sink from Python, as a test of someone's own code would use them:
per-stream results, live stats, and nothing left behind when the test body raises."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from xsk.errors import ConfigError, XskError
from xsk.traffic import Generator, Profile, Sink, Stream

from .test_cli import nothing_attached
from .traffic import ledger_whole


def _profile(b):
    return Profile([
        Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="small", rate="20k", count=20_000),
        Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9001), name="imix", rate="10k", count=6_000,
               size="imix", latency=True),
    ])


def test_two_streams_per_stream_loss_and_latency(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    profile = _profile(b)
    with Sink(b.ifname, netns=b.netns, count=26_000, profile=profile) as sink, \
            Generator(a.ifname, netns=a.netns) as gen:
        gen.start(profile)
        live = [gen.stats()["packets"]]
        sent = gen.wait(timeout=60)
        live.append(gen.stats()["packets"])
        got = sink.wait(timeout=30)
    assert sent["per_stream"]["small"]["packets"] == 20_000 and sent["per_stream"]["imix"]["packets"] == 6_000
    assert live[-1] == 26_000 and live[0] < live[-1]
    for name, n in (("small", 20_000), ("imix", 6_000)):
        (sid,) = sent["per_stream"][name]["ids"]
        r = got["per_stream"][str(sid)]
        assert (r["packets"], r["lost"], r["duplicates"]) == (n, 0, 0)
        assert r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["max"]
        assert r["bytes"] == sent["per_stream"][name]["bytes"] and r["name"] == name
    assert got["receive_mode"] == "spin", "a latency stream in the profile: the sink spins on its ring"
    for result in (sent, got):  # each worker verified its ledger and gave every frame back
        ledger_whole(result)
        assert result["accounting"]["pool"] == result["accounting"]["total"], result["accounting"]
    assert nothing_attached(a, b)


def test_nothing_is_left_behind_when_the_test_body_raises(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    endless = Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), rate="5k")
    with pytest.raises(RuntimeError, match="the test failed"), Sink(b.ifname, netns=b.netns) as sink, \
            Generator(a.ifname, netns=a.netns) as gen:
        gen.start(endless)
        procs = gen._procs + sink._procs
        assert procs and all(p.is_alive() for p in procs)
        raise RuntimeError("the test failed")
    assert not any(p.is_alive() for p in procs)
    assert nothing_attached(a, b)
    assert sink.results is not None and gen.results is not None
    assert sink.results["receive_mode"] == "poll"
    for result in (sink.results, gen.results):  # stopped by the raise, still whole
        ledger_whole(result)
        assert result["accounting"]["pool"] == result["accounting"]["total"], result["accounting"]


def test_bad_input_is_refused_before_any_worker_starts(veth_pair):
    a = veth_pair.a
    gen = Generator(a.ifname, netns=a.netns)
    with pytest.raises(ConfigError, match=r"stream 0 \('big'\): size: size 5000 does not fit"):
        gen.start(Stream(Ether() / IP() / UDP(), name="big", size=5000))
    assert gen._procs == []
    with pytest.raises(ConfigError, match="engine 'xdp'"):
        Generator(a.ifname, netns=a.netns, engine="xdp")
    with pytest.raises(XskError, match=r"nonexistent0"):
        Generator("nonexistent0", netns=a.netns).start(Stream(Ether() / IP() / UDP()))


_SCRIPT = """\
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from xsk.traffic import Generator, Sink, Stream

stream = Stream(Ether(dst={mac!r}) / IP(dst={ip!r}) / UDP(dport=9000), name="s", rate="5k", count=500)
with Sink({b!r}, netns={bns!r}, count=500) as sink, Generator({a!r}, netns={ans!r}) as gen:
    gen.start(stream)
    sent = gen.wait(timeout=60)
    got = sink.wait(timeout=30)
print("sent", sent["packets"], "got", got["packets"])
"""


@pytest.mark.parametrize("form", ["stdin", "dash-c", "unguarded-file"])
def test_generator_and_sink_from_stdin_c_and_an_unguarded_script(veth_pair, tmp_path, form):
    """Spawned workers never import the user's main module: a script on stdin, `python -c` and a
    script without `if __name__ == "__main__"` all run (the stdlib's spawn would re-run or miss it)."""
    import subprocess
    import sys

    a, b = veth_pair.a, veth_pair.b
    script = _SCRIPT.format(mac=b.mac, ip=b.ip, a=a.ifname, ans=a.netns, b=b.ifname, bns=b.netns)
    path = tmp_path / "unguarded.py"
    path.write_text(script)
    argv, stdin = {"stdin": ([sys.executable, "-"], script), "dash-c": ([sys.executable, "-c", script], None),
                   "unguarded-file": ([sys.executable, str(path)], None)}[form]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sent 500 got 500", done.stdout + done.stderr
    assert nothing_attached(a, b)


def test_a_generator_holds_its_first_frame_until_start_at(veth_pair):
    """start_at: the workers bind, then wait for the instant; the first frame's stamp (its sequence
    header's) is at or after it, and every frame still arrives."""
    import time

    a, b = veth_pair.a, veth_pair.b
    s = Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="held", rate="5k", count=2_000)
    at = time.time() + 3.0
    with Sink(b.ifname, netns=b.netns, count=2_000, profile=Profile([s])) as sink, \
            Generator(a.ifname, netns=a.netns) as gen:
        gen.start(s, start_at=at)
        if time.time() < at - 0.5:  # started well before the instant: nothing may have left yet
            assert gen.stats()["packets"] == 0
        sent = gen.wait(timeout=60)
        got = sink.wait(timeout=30)
    assert sent["start_at_ns"] == int(at * 1e9)
    assert sent["first_frame_ns"] >= sent["start_at_ns"]
    assert got["per_stream"]["0"]["packets"] == 2_000 and got["per_stream"]["0"]["lost"] == 0
    ledger_whole(sent)
    assert nothing_attached(a, b)


def test_a_held_generator_sends_nothing_until_go(veth_pair):
    """hold=True: the workers are bound and wait; go(instant) lets them send from that instant."""
    import time

    a, b = veth_pair.a, veth_pair.b
    s = Stream(Ether(dst=b.mac) / IP(dst=b.ip) / UDP(dport=9000), name="held", rate="5k", count=1_000)
    with Sink(b.ifname, netns=b.netns, count=1_000, profile=Profile([s])) as sink, \
            Generator(a.ifname, netns=a.netns) as gen:
        gen.start(s, hold=True)
        time.sleep(0.5)
        assert gen.stats()["packets"] == 0 and not gen.finished()
        at = time.time() + 0.2
        gen.go(at)
        with pytest.raises(Exception, match="once"):
            gen.go()
        sent = gen.wait(timeout=60)
        got = sink.wait(timeout=30)
    assert sent["start_at_ns"] == int(at * 1e9) <= sent["first_frame_ns"]
    assert got["per_stream"]["0"]["packets"] == 1_000
    assert nothing_attached(a, b)
