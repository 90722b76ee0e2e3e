"""xsk gen says when it fell short of the asked rate, and why (the sentences, in the library's
terms; xsk gen names its options for the settings; the run is a kernel test)."""

import numpy as np

from xsk.traffic._generator import broadcast_warning, rate_warnings, stream_rate_warnings, stream_warnings
from xsk.traffic._mix import StreamPlan
from xsk.traffic._run_plan import GenConfig


def _cfg(**kw) -> GenConfig:
    return GenConfig(ifname="x", netns=None, mode="auto", batch=64, frame_size=2048, frames=4096, queues=[0], **kw)


def _says(cfg: GenConfig, pps: float, seconds: float, per_stream: dict | None = None) -> list[str]:
    return rate_warnings(cfg, {"pps": pps, "seconds": seconds, "per_stream": per_stream or {}})


def test_rate_shortfall_sentences():
    cfg = _cfg(pps=100_000, burst=1, engine="afxdp")
    (line,) = _says(cfg, 82_000, 3.0)
    assert "burst=1" in line and line.startswith("asked for 100,000 pps, sent 82,000 (82%)")
    cfg.burst = 64
    (line,) = _says(cfg, 440_000 / 4.5, 3.0)
    assert "queues=[0, 1]" in line and "engine='xdp'" in line
    assert _says(cfg, 99_500, 3.0) == []  # within 1%
    assert _says(cfg, 50_000, 0.5) == []  # too short a run to say
    assert _says(_cfg(), 10, 3.0) == []  # no rate asked
    assert "could not keep up" in _says(_cfg(pps=2e6, burst=64, engine="xdp"), 1e6, 3.0)[0]


def test_a_profiles_stream_short_of_its_own_rate_is_named():
    slow = {"asked_pps": 1000.0, "pps": 500.0, "packets": 5000}
    fine = {"asked_pps": 1000.0, "pps": 999.0, "packets": 5000}
    unpaced = {"asked_pps": None, "pps": 10.0, "packets": 50}
    cfg = _cfg(from_profile=True, burst=64)
    (line,) = _says(cfg, 0, 5.0, {"slow": slow, "fine": fine, "unpaced": unpaced})
    assert line.startswith("stream 'slow': asked for 1,000 pps, sent 500 (50%)") and "queues=" in line
    assert _says(_cfg(burst=64), 0, 5.0, {"slow": slow}) == []  # the options' one stream: the run's line says it


def test_a_stream_asking_more_than_the_machine_reaches_is_named_however_far_short():
    """900k pps asked, 200k sent for 5 s: a million frames, fewer than a second's worth of the
    asked rate (this went unsaid); a burst over in 50 ms is too short to judge."""
    far = {"asked_pps": 900_000.0, "pps": 200_000.0, "packets": 1_000_000}
    burst = {"asked_pps": 600_000.0, "pps": 200_000.0, "packets": 10_000}
    (line,) = stream_rate_warnings({"per_stream": {"far": far, "burst": burst}})
    assert line.startswith("stream 'far': asked for 900,000 pps, sent 200,000 (22%)")


def _plan(name: str, start: float = 0.0, dst: bytes = b"\x02" * 6) -> StreamPlan:
    frame = dst + bytes(54)
    return StreamPlan(0, name, frame, frame, np.array([60], dtype=np.uint32), sizes_random=False, start=start)


def test_a_stream_that_sent_nothing_is_named_and_a_late_start_said():
    plans = [_plan("early"), _plan("late", start=5.0), _plan("idle")]
    summary = {"seconds": 3.0, "per_stream": {"early": {"packets": 9}, "late": {"packets": 0},
                                               "idle": {"packets": 0}}}
    late, idle = stream_warnings(plans, summary)
    assert late.startswith("stream 'late' was to start 5 s into the run, which ended after 3.0 s: it sent nothing")
    assert idle == "stream 'idle' sent nothing"


def test_frames_to_broadcast_for_want_of_a_destination_are_said():
    bcast, unicast = _plan("b", dst=b"\xff" * 6), _plan("u")
    assert broadcast_warning([("u", unicast.frame)]) is None
    assert "go to the broadcast address ff:ff:ff:ff:ff:ff" in str(broadcast_warning([("b", bcast.frame)]))
    assert "(streams 'b')" in str(broadcast_warning([("b", bcast.frame), ("u", unicast.frame)]))


def test_inputs_tools_fuzz_found_are_clear_errors():
    """Regressions from tools/fuzz: each raised something other than ConfigError before."""
    import pytest

    from xsk._filter import parse as parse_filter
    from xsk.errors import ConfigError
    from xsk.traffic import _ranges as ranges
    from xsk.traffic._template import parse as parse_template

    with pytest.raises(ConfigError, match="scapy cannot build it"):
        parse_template("UDP(-0,0)")  # TypeError from scapy's build
    with pytest.raises(ConfigError, match=r"only bytes \* count"):
        parse_template("UDP('x'*0*" + "9" * 100 + ")")  # OverflowError: an empty string times a huge count
    with pytest.raises(ConfigError, match="IP protocol out of range"):
        parse_filter("proto:" + "6" * 90)  # struct.error when packed
    with pytest.raises(ConfigError, match="bad MAC range"):
        ranges.macs(":::::0" + "E" * 60)  # OverflowError
    assert ranges.macs("2:0:0:0:0:1-02:00:00:00:00:02").tolist() == [[2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]]
