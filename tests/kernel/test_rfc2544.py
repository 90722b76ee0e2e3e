"""RFC 2544 through a router namespace (kernel forwarding) whose ingress runs a policer with a
known capacity: the search finds that capacity, and every trial's loss (sent minus received)
is exactly what the policer counted as dropped."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from xsk.testing import RoutedPair
from xsk.traffic import Rfc2544

POLICED_PPS = 400  # low enough that a generator on a busy machine reaches four times it
DEPTH = 32


def _bench(net: RoutedPair, **options) -> Rfc2544:
    net.b.close_tools()  # the receiver attaches its own program in place of the harness's pass one
    assert net.b.ip is not None  # a RoutedPair's ends all have addresses
    return Rfc2544(net.a.ifname, net.b.ifname, net.ra.mac, net.b.ip, tx_netns=net.a.netns, rx_netns=net.b.netns,
                   **options)


def test_the_ndr_search_finds_the_devices_capacity_and_loss_is_what_the_device_dropped(test_program):
    with RoutedPair(forwarding=True) as net:
        policer = net.ra.attach(test_program("xdp_policer"), constants={"RATE_PPS": POLICED_PPS, "DEPTH": DEPTH})
        with _bench(net, trial=1.0, settle=0.3) as bench:
            found = bench.throughput(64, max_rate=4 * POLICED_PPS, resolution=0.03)
        dropped = policer.maps["bucket"][2]
    # a 1 s trial passes the rate plus the bucket's depth whole; the verification (2 s) less
    assert 0.8 * POLICED_PPS <= found.rate <= POLICED_PPS + DEPTH, found.as_dict()
    assert found.verified and found.resolution <= 0.03
    assert not found.limited_by_generator
    assert any(t.lost for t in found.trials)  # trials above the capacity lost frames...
    assert sum(t.lost for t in found.trials) == dropped  # ...exactly those the device dropped
    assert all(t.received <= t.sent for t in found.trials)


def test_a_pdr_accepts_a_device_that_loses_one_frame_in_a_thousand(test_program):
    with RoutedPair(forwarding=True) as net:
        lossy = net.ra.attach(test_program("xdp_policer"), constants={"RATE_PPS": 0, "DROP_EVERY": 1000})
        with _bench(net, trial=0.5, settle=0.3) as bench:
            ndr = bench.throughput(128, max_rate=20_000, resolution=0.05, max_trials=10)
            pdr = bench.throughput(128, max_rate=20_000, acceptable=0.002, resolution=0.05, max_trials=10)
        dropped = lossy.maps["bucket"][2]
    # 10,000 frames a trial at the ceiling: the NDR search can't pass there, the PDR at 0.2% can
    assert pdr.rate >= 0.95 * 20_000 or pdr.limited_by_generator, pdr.as_dict()
    assert ndr.rate < pdr.rate
    assert sum(t.lost for t in ndr.trials + pdr.trials) == dropped


def test_the_command_runs_through_a_routed_layout_and_prints_the_tables(tmp_path):
    run = subprocess.run([sys.executable, "-m", "xsk.cli", "rfc2544", "--routed", "--sizes", "64,9000",
                          "--trial", "0.3", "--resolution", "10", "--max-rate", "20k", "--loss-curve", "--json"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["skipped_sizes"] == [9000]  # over the 1500-byte MTU: said, not sent
    (row,) = result["sizes"]
    assert row["size"] == 64 and row["rate_pps"] > 0 and row["verified"]
    assert [p["percent"] for p in row["loss_curve"]] == list(range(100, 0, -10))
    assert all(p["lost"] == p["sent"] - p["received"] for p in row["loss_curve"])
    assert {"p50", "p99"} <= set(row["latency"]["latency_us"])
    assert row["l1_mbps"] == pytest.approx(row["rate_pps"] * 84 * 8 / 1e6, rel=1e-3)
    saved = tmp_path / "rfc2544.json"  # xsk report draws the standard tables and charts from it
    saved.write_text(run.stdout)
    report = subprocess.run([sys.executable, "-m", "xsk.cli", "report", str(saved), "-o", str(tmp_path / "r.html")],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    assert "RFC 2544 throughput, NDR" in page and "Frame loss rate, 64 bytes" in page
    assert page.count("<img") == 3  # throughput and latency by frame size, loss against offered load


@pytest.mark.parametrize(("argv", "message"), [
    (["--sizes", "64,abc", "--routed"], "bad --sizes"),
    (["--routed", "--sizes", "32"], "RFC 2544 sizes are 64 to 9018"),
    (["--routed", "--max-rate", "1Gbit"], "packets per second"),
    (["--routed", "--loss", "150"], "--loss"),
    (["eth0"], "name TX_IFACE and RX_IFACE"),
    (["--routed", "a", "b"], "leave TX_IFACE and RX_IFACE out"),
])
def test_bad_input_gets_one_line_that_says_what_to_do(argv, message):
    run = subprocess.run([sys.executable, "-m", "xsk.cli", "rfc2544", *argv], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and "Traceback" not in run.stderr
