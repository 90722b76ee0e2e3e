"""Streams controlled while they run, in memory: the scheduler applies pause, resume, stop and a
new rate between batches, and every frame is counted in the state it was sent in (the commands
come through the same shared arrays a Generator writes; no kernel here, tests/kernel/test_loss.py
does it over veth)."""

from __future__ import annotations

import multiprocessing as mp

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk.traffic._control import PAUSE, RATE, RUN, STOP, Control, states
from xsk.traffic._mix import Mix, resolve
from xsk.traffic._profile import Profile, Stream

MS = 1_000_000


def _mix(umem, control, rate=10_000):
    profile = Profile([Stream(Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9), name="a",
                              rate=rate),
                       Stream(Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=10), name="b",
                              rate=rate)])
    plans = resolve(profile, src_mac="02:00:00:00:00:0a", src_ip="192.0.2.1")
    return Mix(plans, umem, 64, control=control)


def _step(mix, umem, now):
    """One round of the send loop at ``now``: fill what is due, or wait (which applies commands)."""
    n = mix.due(now)
    if not n:
        if int(mix._control.version[0]) != int(mix.c.ctl_seen):
            assert mix.wait(now) is True  # applies the commands, and returns at once
        return []
    b = umem.take(min(n, 64))
    filled = mix.fill(b, now)
    which = mix.last_streams(filled).tolist()
    b.release()
    return which


def _sent(mix):
    return [int(mix._c_streams[i].sent) for i in range(2)]


def test_pause_resume_rate_and_stop_take_effect_between_batches_counted_exactly():
    control = Control.make(mp.get_context("spawn"), 1)
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = _mix(umem, control)
        for now in range(0, 100 * MS, MS // 4):  # 100 ms at 10k pps: 1000 frames each
            _step(mix, umem, now)
        before = _sent(mix)
        assert before[0] == before[1] >= 995
        control.send(0, PAUSE)
        t = 100 * MS
        assert mix.due(t) == 0, "a command waits: nothing is due until it is applied"
        for now in range(t, t + 50 * MS, MS // 4):
            _step(mix, umem, now)
        a, b = _sent(mix)
        assert a == before[0] and b >= before[1] + 490, "paused: stream a sends nothing more, b goes on"
        control.send(0, RATE, 20_000.0)  # a new rate for a paused stream starts at its resume
        control.send(0, RUN)
        t += 50 * MS
        for now in range(t, t + 50 * MS, MS // 4):
            _step(mix, umem, now)
        a, _ = _sent(mix)
        # no catching up on the 50 ms it was paused: 50 ms at 20k pps (+1 at the start)
        assert before[0] + 995 <= a <= before[0] + 1001, a
        control.send(1, STOP)
        t += 50 * MS
        stopped_at = None
        for now in range(t, t + 20 * MS, MS // 4):
            _step(mix, umem, now)
            stopped_at = stopped_at or _sent(mix)[1]
        assert _sent(mix)[1] == stopped_at
    # every frame in the state it was sent in, per stream
    sa = states(control, 0, 10_000.0, [_sent(mix)[0]], control.log[0]["t"])
    assert [(s["state"], s["pps"], s["packets"]) for s in sa] == [
        ("running", 10_000.0, before[0]), ("paused", None, 0), ("paused", None, 0),
        ("running", 20_000.0, _sent(mix)[0] - before[0])]
    sb = states(control, 1, 10_000.0, [stopped_at], control.log[0]["t"])
    assert [(s["state"], s["packets"]) for s in sb] == [("running", stopped_at), ("stopped", 0)]


def test_a_run_whose_streams_are_all_paused_waits_instead_of_ending():
    control = Control.make(mp.get_context("spawn"), 1)
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = _mix(umem, control)
        control.send(0, PAUSE)
        control.send(1, PAUSE)
        _step(mix, umem, 0)  # applies both
        assert mix.due(MS) == 0 and mix.next_ns(MS) == -1
        assert mix.wait(MS) is True, "paused is not finished"
        control.send(0, STOP)
        control.send(1, STOP)
        assert mix.wait(2 * MS) is True  # applies the commands
        assert mix.wait(3 * MS) is False, "stopped is"


def test_a_command_a_worker_never_applied_counts_its_frames_before_it():
    control = Control.make(mp.get_context("spawn"), 2)
    control.send(0, RATE, 5_000.0)
    control.marks[0] = 40 + 1  # queue 0 applied it at 40 frames and sent 15 more; queue 1 ended first, at 70
    out = states(control, 0, None, [55, 70], control.log[0]["t"])
    assert [(s["state"], s["pps"], s["packets"]) for s in out] == [("running", None, 40 + 70), ("running", 5_000.0, 15)]


def test_the_live_view_joins_tx_and_rx_per_stream_by_id_and_by_flow():
    import io

    from rich.console import Console

    from xsk.traffic._session import live_rows, render

    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    plans = resolve(Profile([Stream(pkt, name="voice"), Stream(pkt, name="raw", seq=False)]),
                    src_mac="02:00:00:00:00:0a")
    sent = {"per_stream": {"voice": {"packets": 500, "states": [{"state": "running"}, {"state": "paused"}]},
                           "raw": {"packets": 300}}}
    got = {"per_stream": {"0": 200, "2": 199}, "flows": {"raw": 290},  # voice on two queues: ids 0 and 2
           "latency_us": {"0": {"p50": 12.0, "p99": 30.0}, "2": {"p50": 14.0, "p99": 20.0}}}
    rows = live_rows(plans, 2, sent, got)
    assert rows == [
        {"stream": "voice", "state": "paused", "tx": 500, "rx": 399, "missing": 101, "p50_us": 14.0, "p99_us": 30.0},
        {"stream": "raw", "state": "running", "tx": 300, "rx": 290, "missing": 10, "p50_us": None, "p99_us": None}]
    out = io.StringIO()
    Console(file=out, width=100).print(render(rows, "1.0 s"))
    assert "voice" in out.getvalue() and "paused" in out.getvalue() and "101" in out.getvalue()


def test_the_live_view_finds_a_stream_under_the_id_it_was_given():
    """Stream(id=7) of a profile whose largest id is 7: ids 7 and 15 on two queues."""
    from xsk.traffic._session import live_rows

    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    plans = resolve(Profile([Stream(pkt, name="voice", id=7), Stream(pkt, name="data")]), src_mac="02:00:00:00:00:0a")
    got = {"per_stream": {"7": 10, "15": 5, "1": 3, "9": 4}, "flows": {}}
    rows = live_rows(plans, 2, {"per_stream": {"voice": {"packets": 15}, "data": {"packets": 7}}}, got)
    assert [(r["stream"], r["rx"]) for r in rows] == [("voice", 15), ("data", 7)]


def test_a_chained_stream_waits_while_its_predecessor_is_paused_and_starts_when_it_is_stopped():
    control = Control.make(mp.get_context("spawn"), 1)
    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    profile = Profile([Stream(pkt, name="a", rate=10_000, count=1000, next="b"),
                       Stream(pkt, name="b", rate=10_000, count=100)])
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(resolve(profile, src_mac="02:00:00:00:00:0a"), umem, 64, control=control)
        for now in range(0, 10 * MS, MS // 4):
            _step(mix, umem, now)
        control.send(0, PAUSE)
        for now in range(10 * MS, 30 * MS, MS // 4):
            _step(mix, umem, now)
            assert mix.wait(now) is True, "a paused stream, and one waiting for it, keep the run going"
        paused_at = _sent(mix)
        assert paused_at[1] == 0 and 95 <= paused_at[0] <= 101, "b waits for a, which has not ended"
        control.send(0, STOP)
        for now in range(30 * MS, 50 * MS, MS // 4):
            _step(mix, umem, now)
        assert _sent(mix) == [paused_at[0], 100], "stopped, a has ended: b started and sent its hundred"
        assert mix.next_ns(50 * MS) == -1


def test_a_waiting_chained_stream_paused_then_resumed_still_waits_for_its_predecessor():
    control = Control.make(mp.get_context("spawn"), 1)
    pkt = Ether(dst="02:00:00:00:00:0b") / IP(dst="192.0.2.2") / UDP(dport=9)
    profile = Profile([Stream(pkt, name="a", rate=10_000, count=200, next="b"),
                       Stream(pkt, name="b", rate=10_000, count=50)])
    with xsk.Umem(frame_count=256, hugepages="off") as umem:
        mix = Mix(resolve(profile, src_mac="02:00:00:00:00:0a"), umem, 64, control=control)
        control.send(1, PAUSE)
        for now in range(0, 40 * MS, MS // 4):  # a ends at 20 ms; b is held
            _step(mix, umem, now)
        assert _sent(mix) == [200, 0]
        control.send(1, RUN)
        for now in range(40 * MS, 60 * MS, MS // 4):
            _step(mix, umem, now)
        assert _sent(mix) == [200, 50], "resumed after a ended: b starts"
