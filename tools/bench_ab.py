#!/usr/bin/env python3
"""A->B over one veth pair: our engine next to the C reference (../shared/bench/xsk_ref.c), in one run.

    .venv/bin/python tools/bench_ab.py [--count 1000000] [--batch 256] [--rounds 3] [--json]

Each round runs, back to back so drift hits both alike:
  tx  C sender -> C receiver, then Python sender -> the same C receiver
  rx  C sender -> C receiver, then C sender -> Python receiver (drop)
and reports Mpps with the ratio Python / C, plus user and system CPU ns per packet.
The C reference is compiled on the fly with the system's cc, libxdp and libbpf.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "bench" / "xsk_ref.c"


def compile_reference(out_dir: str) -> str:
    binary = os.path.join(out_dir, "xsk_ref")
    subprocess.run(["cc", "-O2", "-o", binary, str(REFERENCE), "-lxdp", "-lbpf"], check=True)
    return binary


def _cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def worker(mode: str, ifname: str, netns: str, count: int, batch: int, seconds: float, dst_mac: str) -> None:
    """Our engine's side of a measurement, printing one JSON line like xsk_ref does."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import xsk
    from xsk.cli.demo import build_template

    with xsk.Umem(frame_count=4096, frame_size=2048) as umem:
        sock = xsk.Socket(umem, ifname, netns=netns, rx=mode == "rx", tx=mode == "tx")
        with sock:
            packets = 0
            if mode == "tx":
                tpl = build_template(60, "02:00:00:00:00:01", dst_mac, "10.0.0.1", "10.0.0.2")
                frames = umem.take(umem.frame_count)
                frames.fill(tpl)
                umem.release(frames)
                u0, s0 = _cpu()
                t0 = time.monotonic()
                deadline = t0 + seconds
                while packets < count and time.monotonic() < deadline:
                    b = umem.take(min(batch, count - packets), 60)
                    if not len(b):
                        sock.complete()
                        continue
                    packets += sock.send(b)
                    if len(b):
                        umem.release(b)
                sock.flush(timeout=1)
                first, last = t0, time.monotonic()
            else:
                u0 = s0 = 0.0
                first = last = 0.0
                deadline = time.monotonic() + seconds
                while packets < count and time.monotonic() < deadline:
                    b = sock.recv(batch, timeout=0.1)
                    n = len(b)
                    if n:
                        if not packets:
                            u0, s0 = _cpu()
                            first = time.monotonic()
                        packets += n
                        last = time.monotonic()
                        sock.release(b)
            u1, s1 = _cpu()
            dt = max(last - first, 1e-9)
            stats = sock.statistics()
    print(json.dumps({
        "tool": "xsk", "mode": mode, "batch": batch, "packets": packets, "seconds": round(dt, 3),
        "mpps": packets / dt / 1e6, "user_ns_per_pkt": (u1 - u0) * 1e9 / max(packets, 1),
        "sys_ns_per_pkt": (s1 - s0) * 1e9 / max(packets, 1), "rx_dropped": stats["rx_dropped"],
    }))


def _in_ns(netns: str, argv: list[str]) -> list[str]:
    return ["nsenter", f"--net=/run/netns/{netns}", *argv]


def _xdp_attached(netns: str, ifname: str) -> bool:
    out = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "dev", ifname], capture_output=True, text=True)
    return "prog/xdp" in out.stdout


def _run_pair(rx_cmd: list[str], tx_cmd: list[str], rx_end) -> tuple[dict, dict]:
    rx = subprocess.Popen(rx_cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 20
    while not _xdp_attached(rx_end.netns, rx_end.ifname) and time.monotonic() < deadline:
        time.sleep(0.05)  # the receiver binds and attaches its program
    time.sleep(0.2)  # and gets to its receive loop
    tx = subprocess.run(tx_cmd, capture_output=True, text=True, timeout=120)
    out, _ = rx.communicate(timeout=120)
    try:
        return json.loads(tx.stdout.strip().splitlines()[-1]), json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(f"a benchmark process failed:\n{tx.stderr[-2000:]}") from None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", nargs=7, metavar=("MODE", "IFNAME", "NETNS", "COUNT", "BATCH", "SECONDS", "DST"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        mode, ifname, netns, count, batch, seconds, dst = args.worker
        worker(mode, ifname, netns, int(count), int(batch), float(seconds), dst)
        return 0

    from xsk.testing import VethPair

    py = [sys.executable, str(Path(__file__).resolve())]
    results: dict[str, list[dict]] = {"c_tx": [], "py_tx": [], "c_rx": [], "py_rx": []}
    with tempfile.TemporaryDirectory() as tmp, VethPair() as pair:
        ref = compile_reference(tmp)
        a, b = pair.a, pair.b
        n, batch = str(args.count), str(args.batch)
        c_tx = _in_ns(a.netns, [ref, "tx", a.ifname, "--count", n, "--batch", batch, "--dst-mac", b.mac])
        c_rx = _in_ns(b.netns, [ref, "rx", b.ifname, "--count", n, "--batch", batch, "--seconds", "30"])
        py_tx = [*py, "--worker", "tx", a.ifname, a.netns, n, batch, "30", b.mac]
        py_rx = [*py, "--worker", "rx", b.ifname, b.netns, n, batch, "30", b.mac]
        for _ in range(args.rounds):
            tx, _rx = _run_pair(c_rx, c_tx, b)
            results["c_tx"].append(tx)
            tx, _rx = _run_pair(c_rx, py_tx, b)
            results["py_tx"].append(tx)
            _tx, rx = _run_pair(c_rx, c_tx, b)
            results["c_rx"].append(rx)
            _tx, rx = _run_pair(py_rx, c_tx, b)
            results["py_rx"].append(rx)

    def best(key: str) -> dict:
        return max(results[key], key=lambda r: r["mpps"])

    summary = {}
    for what in ("tx", "rx"):
        c, ours = best(f"c_{what}"), best(f"py_{what}")
        summary[what] = {
            "c_mpps": round(c["mpps"], 3), "xsk_mpps": round(ours["mpps"], 3),
            "ratio": round(ours["mpps"] / c["mpps"], 3) if c["mpps"] else None,
            "c_user_ns": round(c["user_ns_per_pkt"], 1), "xsk_user_ns": round(ours["user_ns_per_pkt"], 1),
            "c_sys_ns": round(c["sys_ns_per_pkt"], 1), "xsk_sys_ns": round(ours["sys_ns_per_pkt"], 1),
        }
    if args.json:
        print(json.dumps({"summary": summary, "runs": results}))
    else:
        print(f"A->B over veth, copy mode, batch {args.batch}, {args.count:,} frames, best of {args.rounds}")
        print(f"{'path':6} {'C Mpps':>8} {'xsk Mpps':>9} {'ratio':>6} "
              f"{'user ns/pkt C/xsk':>18} {'sys ns/pkt C/xsk':>18}")
        for what, s in summary.items():
            print(f"{what:6} {s['c_mpps']:8.3f} {s['xsk_mpps']:9.3f} {s['ratio']:6.2f} "
                  f"{s['c_user_ns']:>8} / {s['xsk_user_ns']:<8} {s['c_sys_ns']:>8} / {s['xsk_sys_ns']:<8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
