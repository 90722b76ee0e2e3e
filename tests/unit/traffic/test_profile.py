"""Profiles as users write them: TOML and Python files, sizes, rates, and one clear error per mistake."""

from __future__ import annotations

import numpy as np
import pytest

from xsk.errors import ConfigError
from xsk.traffic._mix import resolve
from xsk.traffic._profile import IMIX, Profile, Stream, size_table

GOOD = """
rate = "1M"

[[stream]]
name = "voice"
packet = "Ether(dst='02:00:00:00:00:0b')/IP(dst='192.0.2.2')/UDP(dport=5060)"
rate = "10k"
size = 200
fields = { src_port = "1000-1999" }

[[stream]]
name = "bulk"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9)"
percent = 50
size = "imix"

[[stream]]
name = "weighted"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9)"
size = [[64, 3], [1500, 1]]
start = 1.0
count = 500
"""


def _write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_toml_profile_loads_every_feature(tmp_path):
    p = Profile.load(_write(tmp_path, GOOD))
    assert [s.name for s in p.streams] == ["voice", "bulk", "weighted"]
    voice, bulk, weighted = p.streams
    assert voice.pps(200, p.rate) == 10_000
    assert bulk.pps(340, p.rate) == 500_000  # half of 1M pps
    assert weighted.pps(370, p.rate) is None and weighted.start == 1.0 and weighted.count == 500
    assert size_table(weighted.size, 60).tolist() == [64, 64, 1500, 64]


def test_a_python_profile_runs_only_its_own_file(tmp_path):
    path = _write(tmp_path, "from xsk.traffic import Stream\n"
                            "profile = [Stream(b'\\x02' * 60, name='raw', rate='1k')]\n", "p.py")
    p = Profile.load(path)
    assert p.streams[0].name == "raw" and p.source == str(path)
    with pytest.raises(ConfigError, match="defines no `profile`"):
        Profile.load(_write(tmp_path, "x = 1\n", "none.py"))
    with pytest.raises(ConfigError, match="the profile file raised ZeroDivisionError"):
        Profile.load(_write(tmp_path, "profile = 1 / 0\n", "bad.py"))


def test_bit_rates_and_percents_of_a_bit_rate_use_the_mean_frame_size():
    p = Profile([Stream(b"x" * 60, rate="1Gbit"), Stream(b"x" * 60, percent=25)], rate="8Mbit")
    assert p.streams[0].pps(1000, p.rate) == pytest.approx(125_000)
    assert p.streams[1].pps(100, p.rate) == pytest.approx(2_500)  # 2 Mbit/s of 100-byte frames


def test_imix_and_ranges():
    assert sorted(set(size_table("imix", 60).tolist())) == [s for s, _ in IMIX]
    assert size_table("64-67", 60).tolist() == [64, 65, 66, 67]
    assert size_table(None, 99).tolist() == [99]
    assert np.bincount(size_table([(60, 7), (590, 4), (1514, 1)], 60))[[60, 590, 1514]].tolist() == [7, 4, 1]


@pytest.mark.parametrize("text, message", [
    ('[[stream]]\npacket = "Ether()"\nspeed = "1k"\n', r"p.toml: stream 0: unknown key 'speed' \(known:"),
    ('[[stream]]\nname = "a"\npacket = "Ether()"\nrate = "fast"\n', r"stream 0 \('a'\): rate: bad rate 'fast'"),
    ('[[stream]]\npacket = "Ether()"\nsize = 20000\n', r"stream 0 \('stream0'\): size: sizes run from 20000"),
    ('[[stream]]\npacket = "Ether()"\nsize = "big"\n', r"size: bad size 'big'"),
    ('rate = "1M"\n[[stream]]\npacket = "Ether()"\npercent = 70\n[[stream]]\npacket = "Ether()"\npercent = 40\n',
     r"percent: the streams' percents add up to 110, over 100"),
    ('[[stream]]\npacket = "Ether()"\ncount = -5\n', r"count: must be positive"),
    ('[[stream]]\npacket = "Ether()"\nfields = { ttl = "1-5" }\n', r"fields: unknown field 'ttl'"),
    ('[[stream]]\npacket = "Ether()"\nfields = { src_port = "9-1" }\n', r"range '9-1' is empty"),
    ('[[stream]]\nname = "x"\npacket = "Ether()"\n[[stream]]\nname = "x"\npacket = "Ether()"\n',
     r"stream 1 \('x'\): name: 'x' names two streams"),
    ('title = "t"\n[[stream]]\npacket = "Ether()"\n', r"unknown key 'title' at the top"),
    ('rate = "1M"\n', r"no streams: add at least one \[\[stream\]\] table"),
    ('[[stream]]\nname = "n"\n', r"stream 0 \('n'\): packet: every stream needs one"),
    ('[[stream\n', r"not a TOML profile"),
    ('[[stream]]\npacket = "Ether()"\nfields = 5\n', r"fields: a table of ranges by field name, got 5"),
    ('[[stream]]\npacket = "Ether()"\nrandom = "yes"\n', r"random: must be true or false, got 'yes'"),
    ('[[stream]]\npacket = 7\n', r"packet: a scapy packet, bytes or a template string, not int"),
])
def test_each_mistake_gets_one_error_naming_file_stream_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as info:
        Profile.load(_write(tmp_path, text))
    assert str(info.value).startswith(str(tmp_path / "p.toml"))


def test_a_missing_file_is_named():
    with pytest.raises(ConfigError, match="can't read the profile"):
        Profile.load("/nonexistent/profile.toml")


def test_a_percent_needs_a_total_rate_only_when_the_profile_is_sent(tmp_path):
    """A receiver loads a profile for its stream names; the total rate is the sender's business
    (in the file, or given where it is sent), so only resolving it without one is an error."""
    path = _write(tmp_path, '[[stream]]\nname = "a"\npacket = "Ether()/IP()/UDP()"\npercent = 10\n')
    profile = Profile.load(path)
    with pytest.raises(ConfigError, match=r"p.toml: stream 0 \('a'\): percent: a percent needs the profile's total"):
        resolve(profile, src_mac="02:00:00:00:00:01")
    plans = resolve(Profile(profile.streams, rate="50k", source=profile.source), src_mac="02:00:00:00:00:01")
    assert plans[0].pps == 5000


def test_chains_and_bursts_are_checked_when_the_profile_is_made():
    pkt = "Ether()/IP()/UDP()"
    bad = [
        ([Stream(pkt, name="a", count=1, next="z")], r"stream 0 \('a'\): next: no stream 'z' in the profile "
                                                      r"\(its streams: a\)"),
        ([Stream(pkt, name="a", count=1, next="a")], r"\('a'\): next: a stream can't follow itself"),
        ([Stream(pkt, name="a", count=1, next="c"), Stream(pkt, name="b", count=1, next="c"), Stream(pkt, name="c")],
         r"stream 1 \('b'\): next: 'c' already follows 'a'"),
        ([Stream(pkt, name="a", next="b"), Stream(pkt, name="b")],
         r"\('a'\): next: this stream never ends \(no count, duration or bursts\), so 'b' would never start"),
        ([Stream(pkt, name="a", count=1, next="b"), Stream(pkt, name="b", count=1, next="c"),
          Stream(pkt, name="c", duration=1, next="a")], r"\('a'\): next: the chain a -> b -> c -> a comes back"),
        ([Stream(pkt, name="a", bursts=3)], r"\('a'\): bursts: 3 bursts of how many frames\? give burst too"),
        ([Stream(pkt, name="a", bursts=3, burst=5, count=9)], r"bursts: bursts sends bursts x burst frames \(15\)"),
        ([Stream(pkt, name="a", ibg=0.5)], r"ibg: a gap between bursts needs bursts"),
        ([Stream(pkt, name="a", bursts=2, burst=2, ibg=-1)], r"ibg: must be a number of seconds >= 0"),
        ([Stream(pkt, name="a", count=1, next=3)],  # type: ignore[arg-type]
         r"next: the name of the stream that follows this one, got 3"),
    ]
    for streams, message in bad:
        with pytest.raises(ConfigError, match=message):
            Profile(streams)


def test_a_toml_chain_of_bursts_resolves_each_stream_after_the_one_before(tmp_path):
    path = _write(tmp_path, """
[[stream]]
name = "warmup"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9)"
count = 100
next = "pulses"

[[stream]]
name = "pulses"
packet = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9)"
bursts = 3
burst = 50
ibg = 0.2
start = 0.1
""")
    warmup, pulses = resolve(Profile.load(path), src_mac="02:00:00:00:00:0a")
    assert (warmup.after, pulses.after) == (None, 0)
    assert (pulses.bursts, pulses.burst, pulses.ibg, pulses.count, pulses.start) == (3, 50, 0.2, 150, 0.1)


def _udp(name, **kw):
    return Stream("Ether(dst='02:00:00:00:00:0b')/IP(dst='192.0.2.2')/UDP(dport=9)", name=name, **kw)


def test_a_stream_gives_its_own_id_and_the_others_keep_their_index():
    profile = Profile([_udp("a"), _udp("b", id=7), _udp("c")])
    assert profile.ids == [0, 7, 2]
    assert profile.id_width == 8  # on queue index q a stream carries id + 8 * q
    assert Profile([_udp("a"), _udp("b")]).id_width == 2  # no ids given: N, as before


def test_a_toml_profile_takes_an_id_per_stream(tmp_path):
    text = GOOD.replace('name = "bulk"', 'name = "bulk"\nid = 42')
    assert Profile.load(_write(tmp_path, text)).ids == [0, 42, 2]


@pytest.mark.parametrize("streams, message", [
    ([_udp("a"), _udp("b", id=0)], r"stream 1 \('b'\): id: id 0 is also stream 0's \('a', its index: a stream "
                                   r"without an id is numbered by its place\); give each stream its own id"),
    ([_udp("a", id=5), _udp("b", id=5)], r"stream 1 \('b'\): id: id 5 is also stream 0's \('a', its id\)"),
    ([_udp("a", id=1), _udp("b")], r"stream 1 \('b'\): id: id 1 is also stream 0's \('a', its id\)"),
    ([_udp("a", id=256)], r"stream 0 \('a'\): id: a stream id 0..255, got 256"),
    ([_udp("a", id=-1)], r"id: a stream id 0..255, got -1"),
    ([_udp("a", id="3")], r"id: a stream id 0..255, got '3'"),
    ([_udp("a", id=True)], r"id: a stream id 0..255, got True"),
])
def test_ids_that_clash_or_do_not_fit_the_header_are_refused_naming_both_streams(streams, message):
    with pytest.raises(ConfigError, match=message):
        Profile(streams)
