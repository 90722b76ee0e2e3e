"""The soak: 10 million packets at a paced 300k pps from `xsk gen` to `xsk sink`, both verifying
their whole frame ledger every second (--verify-ledger). Asserted exactly: every packet arrives
once and in order, no scheduled second passes without a ledger verification, every frame of
both UMEMs is back in the pool at the end, the kernel dropped nothing. Bounded: the rate seen at
the sink (within 10% of the asked rate: the pacer paces, the benchmark measures precisely) and
the memory footprint (peak growth and least-squares slope over the per-second samples).

XSK_SOAK_PACKETS overrides the count (e.g. for a quick local run); the suite runs 10M.
"""

from __future__ import annotations

import os
import signal
import subprocess

from .test_cli import finish, last_json, start, wait_attached, xsk

PACKETS = int(os.environ.get("XSK_SOAK_PACKETS", 10_000_000))
RATE = 300_000
# Allocator noise is a bounded step; a leak of one byte per packet would be 17 MiB a minute
# at this rate, and 10 MiB of growth over the run.
RSS_PEAK_GROWTH_LIMIT_KIB = 2048
RSS_SLOPE_LIMIT_KIB_PER_MIN = 2048


def test_soak_ten_million_packets_paced(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    timeout = PACKETS / RATE * 3 + 60
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", str(PACKETS), "--json", "--verify-ledger")
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", str(PACKETS), "--rate", str(RATE),
              "--src-port", "1000-1999", "--json", "--verify-ledger", timeout=timeout)
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    try:
        s = last_json(finish(sink, timeout=30)[0])
    except subprocess.TimeoutExpired:  # it never got them all: say what it saw, not just that it waited
        sink.send_signal(signal.SIGINT)
        out, err = sink.communicate(timeout=30)
        raise AssertionError(f"the sink never reached {PACKETS} packets; gen: {g}\nsink's last lines:\n"
                             + "\n".join(line[:600] for line in out.strip().splitlines()[-4:])
                             + f"\nstderr: {err[-2000:]}") from None
    assert g["packets"] == PACKETS
    assert s["packets"] == PACKETS and s["lost"] == 0 and s["duplicates"] == 0 and s["reordered"] == 0
    assert 0.9 * RATE <= s["pps"] <= 1.1 * RATE, s
    for name, report in (("gen", g), ("sink", s)):
        keys = ("rss_", "ledger_", "accounting", "seconds")
        figures = {name: {k: v for k, v in report.items() if k.startswith(keys)}}
        acc = report["accounting"]
        assert acc["pool"] == acc["total"] and acc["user"] == acc["fill"] == acc["tx"] == 0, figures
        # every scheduled second had its verification (the schedule is fixed, see xsk/traffic/health.py);
        # the count is cross-checked against the run's length by the command's own clock
        assert report["ledger_missed"] == 0, figures
        assert report["ledger_checks"] >= int(report["seconds"]), figures
        assert report["rss_peak_growth_kib"] < RSS_PEAK_GROWTH_LIMIT_KIB, figures
        assert abs(report["rss_slope_kib_per_min"]) < RSS_SLOPE_LIMIT_KIB_PER_MIN, figures
    assert g["kernel"]["tx_invalid_descs"] == 0
    assert s["kernel"]["rx_dropped"] == 0 and s["kernel"]["rx_invalid_descs"] == 0 and s["kernel"]["rx_ring_full"] == 0
