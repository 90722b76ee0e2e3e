"""The soak: 10 million packets at a paced rate from `xsk gen` to `xsk sink`, both checking
their whole frame ledger once a second (--verify-ledger). Zero loss, the ledgers consistent
throughout, every frame back in the pool, and the memory footprint flat in steady state.

XSK_SOAK_PACKETS overrides the count (e.g. for a quick local run); the suite runs 10M.
"""

from __future__ import annotations

import os

from .test_cli import finish, last_json, start, wait_attached, xsk

PACKETS = int(os.environ.get("XSK_SOAK_PACKETS", 10_000_000))
RATE = "300k"
RSS_GROWTH_LIMIT_KIB = 2048  # allocator noise; a per-packet leak of even 1 byte would be 10 MB


def test_soak_ten_million_packets_paced(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    timeout = PACKETS / 300_000 * 3 + 60
    sink = start("sink", b.ifname, "--netns", b.netns, "--count", str(PACKETS), "--json", "--verify-ledger")
    wait_attached(b)
    gen = xsk("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--count", str(PACKETS), "--rate", RATE,
              "--src-port", "1000-1999", "--json", "--verify-ledger", timeout=timeout)
    assert gen.returncode == 0, gen.stderr
    g = last_json(gen.stdout)
    s = last_json(finish(sink, timeout=30)[0])
    assert g["packets"] == PACKETS
    assert s["packets"] == PACKETS and s["lost"] == 0 and s["duplicates"] == 0 and s["reordered"] == 0
    seconds = PACKETS / 300_000
    assert g["ledger_checks"] >= seconds // 2 and s["ledger_checks"] >= seconds // 2
    assert g["rss_growth_kib"] < RSS_GROWTH_LIMIT_KIB, g
    assert s["rss_growth_kib"] < RSS_GROWTH_LIMIT_KIB, s
    for report in (g, s):
        assert report["kernel"]["rx_dropped"] == 0 and report["kernel"]["tx_invalid_descs"] == 0
