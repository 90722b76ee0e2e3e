"""xsk gen says when it fell short of the asked rate, and why (the sentences; the run is a kernel test)."""

from xsk.cli.gen import GenConfig, _rate_shortfall


def _cfg(**kw) -> GenConfig:
    return GenConfig(ifname="x", netns=None, mode="auto", batch=64, frame_size=2048, frames=4096, **kw)


def test_rate_shortfall_sentences():
    cfg = _cfg(pps=100_000, burst=1, engine="afxdp")
    assert "--burst 1" in _rate_shortfall(cfg, 82_000, 3.0, 1)
    cfg.burst = 64
    assert "--queues 0-1" in _rate_shortfall(cfg, 440_000 / 4.5, 3.0, 1)
    assert _rate_shortfall(cfg, 99_500, 3.0, 1) is None  # within 1%
    assert _rate_shortfall(cfg, 50_000, 0.5, 1) is None  # too short a run to say
    assert _rate_shortfall(_cfg(), 10, 3.0, 1) is None  # no rate asked
    assert "could not keep up" in _rate_shortfall(_cfg(pps=2e6, burst=64, engine="xdp"), 1e6, 3.0, 1)
