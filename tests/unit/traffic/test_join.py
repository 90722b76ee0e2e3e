"""Loss as sent minus received, joined per stream from plain results (no kernel: the dicts are
what Generator/Sink and gen/sink --json give; tests/kernel/test_loss.py plants real faults)."""

from __future__ import annotations

from xsk.traffic import StreamLoss, loss_per_stream
from xsk.traffic._join import table, totals


def _lat(p50: float) -> dict:
    return {"min": p50 / 2, "mean": p50, "p50": p50, "p90": p50, "p99": p50 * 2, "p99.9": p50 * 2, "max": p50 * 3}


def test_a_sink_stopped_early_shows_the_true_loss_not_its_gaps():
    sent = {"per_stream": {"voice": {"ids": [0], "seq": True, "packets": 500, "bytes": 500 * 100},
                           "bulk": {"ids": [1], "seq": True, "packets": 1000, "bytes": 64_000}}}
    got = {"per_stream": {"0": {"name": "voice", "packets": 401, "bytes": 40_100, "lost": 7, "gaps": 7,
                                "duplicates": 0, "reordered": 0, "latency_us": _lat(20.0), "jitter_us": 1.5},
                          "1": {"packets": 1002, "bytes": 64_128, "lost": 0, "gaps": 0, "duplicates": 2,
                                "reordered": 3, "latency_us": _lat(10.0), "jitter_us": None}}}
    out = loss_per_stream(sent, got)
    voice, bulk = out["voice"], out["bulk"]
    assert isinstance(voice, StreamLoss)
    assert (voice.sent, voice.received, voice.lost, voice.gaps, voice.loss_pct) == (500, 401, 99, 7, 19.8)
    assert voice.latency_us == _lat(20.0) and voice.jitter_us == 1.5 and voice.counted_by == "sequence"
    # joined by id when the sink had no names; duplicates are not frames that arrived
    assert (bulk.received, bulk.duplicates, bulk.lost, bulk.reordered, bulk.extra) == (1002, 2, 0, 3, 0)
    assert totals(out) == {"sent": 1500, "received": 1403, "lost": 99, "loss_pct": 6.6, "uncounted": []}
    assert "voice" in table(out) and "99" in table(out)


def test_an_unsequenced_stream_is_counted_by_its_flow_or_said_to_be_uncounted():
    sent = {"per_stream": {"raw": {"ids": [0], "seq": False, "packets": 300, "bytes": 18_000},
                           "other": {"ids": [1], "seq": False, "packets": 10, "bytes": 600}}}
    got = {"per_stream": {}, "flows": {"raw": {"packets": 250, "bytes": 15_000}}}
    out = loss_per_stream(sent, got)
    assert (out["raw"].received, out["raw"].lost, out["raw"].counted_by, out["raw"].duplicates) == (
        250, 50, "flow", None)
    assert (out["other"].received, out["other"].lost, out["other"].counted_by) == (None, None, "none")
    assert totals(out)["uncounted"] == ["other"]


def test_a_stream_on_several_queues_adds_up_and_merges_its_latency_buckets():
    sent = {"per_stream": {"s": {"ids": [0, 1], "seq": True, "packets": 200, "bytes": 12_800}}}
    rows = [[10.0, 10.08, 50], [20.0, 20.16, 50]]
    part = {"packets": 100, "bytes": 6_400, "lost": 0, "duplicates": 0, "reordered": 0,
            "latency_us": {"min": 10.0, "mean": 15.0, "p50": 10.0, "p90": 20.0, "p99": 20.0, "p99.9": 20.0,
                           "max": 20.1}, "latency_hist_us": rows, "jitter_us": 2.0}
    out = loss_per_stream(sent, {"per_stream": {"0": part, "1": dict(part, packets=90, jitter_us=4.0)}})
    s = out["s"]
    assert (s.received, s.lost) == (190, 10)
    assert s.latency_us is not None and s.latency_us["min"] == 10.0
    p99 = s.latency_us["p99"]
    assert p99 is not None and 20.0 <= p99 <= 20.16
    assert s.jitter_us == round((2.0 * 100 + 4.0 * 90) / 190, 2)


def test_streams_nobody_sent_are_extra_never_negative_loss():
    sent = {"per_stream": {"a": {"ids": [0], "packets": 10, "bytes": 600}}}
    got = {"per_stream": {"0": {"packets": 12, "bytes": 720, "lost": 0, "duplicates": 0, "reordered": 0},
                          "7": {"packets": 3, "bytes": 180, "lost": 0, "duplicates": 0, "reordered": 0}}}
    out = loss_per_stream(sent, got)
    assert (out["a"].lost, out["a"].extra) == (0, 2)
    assert (out["id 7"].sent, out["id 7"].extra, out["id 7"].lost) == (0, 3, 0)
    assert out["a"].as_dict()["name"] == "a"


def test_the_report_joins_gen_and_sink_runs_by_stream_name(tmp_path):
    import json

    from xsk.traffic._report import joined, load, render

    gen = tmp_path / "gen.jsonl"
    sink = tmp_path / "sink.jsonl"
    gen.write_text(json.dumps({"t": 1.0, "packets": 250, "bytes": 25_000, "per_stream": {"voice": 250}}) + "\n"
                   + json.dumps({"packets": 500, "bytes": 50_000, "per_stream": {
                       "voice": {"ids": [0], "seq": True, "packets": 500, "bytes": 50_000, "pps": 50.0,
                                 "asked_pps": 50.0}}}) + "\n")
    sink.write_text(json.dumps({"packets": 401, "bytes": 40_100, "receive_mode": "poll", "per_stream": {
        "0": {"name": "voice", "packets": 401, "bytes": 40_100, "lost": 7, "gaps": 7, "duplicates": 0,
              "reordered": 0, "too_late": 0, "pps": 50.0, "latency_us": _lat(20.0), "jitter_us": 1.0}}}) + "\n")
    ((run, streams),) = joined([load(gen), load(sink)])
    assert run.kind == "sink" and (streams["voice"].lost, streams["voice"].gaps) == (99, 7)
    page = render([gen, sink], tmp_path / "r.html").read_text()
    assert "Sent minus received" in page and "<td>99</td>" in page and "<td>19.80</td>" in page


def test_a_sink_given_the_profile_names_each_stream_by_the_id_it_was_given():
    """Stream(id=7) and an unnumbered stream (index 1) over two queues: ids 7, 15 and 1, 9; an id
    the profile does not give (3) stays unnamed and joins as another sender's."""
    from xsk.traffic import Profile, Stream
    from xsk.traffic._receiver import name_streams

    pkt = "Ether()/IP(dst='192.0.2.2')/UDP(dport=9)"
    profile = Profile([Stream(pkt, name="seven", id=7), Stream(pkt, name="one")])
    got = {"per_stream": {k: {"packets": n, "bytes": 64 * n, "duplicates": 0, "reordered": 0, "gaps": 0}
                          for k, n in (("7", 10), ("15", 5), ("1", 4), ("9", 4), ("3", 2))}}
    name_streams(got, profile, 2)
    assert {k: s.get("name") for k, s in got["per_stream"].items()} == {
        "7": "seven", "15": "seven", "1": "one", "9": "one", "3": None}
    sent = {"per_stream": {"seven": {"ids": [7, 15], "seq": True, "packets": 16, "bytes": 16 * 64},
                           "one": {"ids": [1, 9], "seq": True, "packets": 8, "bytes": 8 * 64}}}
    out = loss_per_stream(sent, got)
    assert (out["seven"].received, out["seven"].lost) == (15, 1)
    assert (out["one"].received, out["one"].lost) == (8, 0)
    assert out["id 3"].extra == 2
