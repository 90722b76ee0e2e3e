"""Sequence-numbered traffic for kernel tests: build, send, receive and verify in one process."""

from __future__ import annotations

import subprocess
import time

import numpy as np

import xsk

SEQ_OFFSET = 42


def template(pair, size: int = 64, reverse: bool = False) -> bytes:
    """An Ethernet/IPv4/UDP frame from one end of ``pair`` to the other, payload = seq + filler."""
    from xsk.testing._selfcheck import build_template

    src, dst = (pair.b, pair.a) if reverse else (pair.a, pair.b)
    return build_template(size, src.mac, dst.mac, src.ip, dst.ip)


def seq_rows(first: int, n: int) -> np.ndarray:
    return np.arange(first, first + n, dtype=">u8").view(np.uint8).reshape(n, 8)



def xdp_attached(pairs) -> list[str]:
    """Every end of these veth pairs that still has an XDP program (``ip -d link`` in its namespace)."""
    out = []
    for pair in pairs:
        for end in (pair.a, pair.b):
            text = subprocess.run(["ip", "-n", end.netns, "-d", "link", "show", end.ifname], capture_output=True,
                                  text=True).stdout
            if "xdp" in text:
                out.append(f"{end.netns}/{end.ifname}")
    return out


def ledger_whole(summary: dict) -> dict:
    """Check that a command's or worker's summary says its ledger was verified (at least once, the
    final check) and the kernel returned no descriptor naming a frame it did not hold; return it."""
    assert summary.get("ledger_checks", 0) >= 1, f"no ledger verification reported: {sorted(summary)}"
    assert summary.get("kernel_errors") == 0, f"kernel_errors {summary.get('kernel_errors')}"
    return summary

class Receiver:
    """Checks every received frame, byte for byte, against the template and the next expected
    sequence number (``first`` for the first frame)."""

    def __init__(self, sock: xsk.Socket, tpl: bytes, first: int = 0) -> None:
        self.sock = sock
        self.tpl = np.frombuffer(tpl, dtype=np.uint8).copy()
        self.next_seq = first
        self.received = 0
        self.corrupt = 0
        self.out_of_order = 0
        self.offsets: set[int] = set()
        self.addresses: set[int] = set()  # UMEM addresses the frames arrived at

    def drain(self, until: int, timeout: float = 2.0, batch: int = 256) -> int:
        deadline = time.monotonic() + timeout
        while self.received < until and time.monotonic() < deadline:
            b = self.sock.recv(batch, timeout=0.05)
            if len(b):
                self.check(b)
                b.release()
        return self.received

    def check(self, b: xsk.Batch) -> None:
        n = len(b)
        size = len(self.tpl)
        self.offsets.update(int(o) for o in np.unique(b.offsets))
        self.addresses.update(int(a) for a in np.unique(b.addrs))
        rows = b.gather(size)
        seqs = rows[:, SEQ_OFFSET:SEQ_OFFSET + 8].copy().view(">u8").ravel()
        rows[:, SEQ_OFFSET:SEQ_OFFSET + 8] = 0
        self.corrupt += int(np.count_nonzero(b.lens != size) + np.count_nonzero(np.any(rows != self.tpl, axis=1)))
        self.out_of_order += int(np.count_nonzero(seqs != np.arange(self.next_seq, self.next_seq + n)))
        self.next_seq = int(seqs[-1]) + 1
        self.received += n

    @property
    def perfect(self) -> bool:
        return self.corrupt == 0 and self.out_of_order == 0


def send_seq(sock: xsk.Socket, tpl: bytes, first: int, n: int, batch: int = 64) -> int:
    """Send frames first..first+n-1 (retrying on backpressure); return how many went."""
    umem = sock.umem
    sent = 0
    deadline = time.monotonic() + 5
    while sent < n and time.monotonic() < deadline:
        b = umem.take(min(batch, n - sent))
        if not len(b):
            sock.complete()
            continue
        b.write_template(tpl)
        b.patch(SEQ_OFFSET, seq_rows(first + sent, len(b)))
        k = sock.send(b)
        sent += k
        if len(b):
            umem.release(b)  # backpressure: these go again with the same numbers
    return sent


def transfer(tx: xsk.Socket, rx: xsk.Socket, tpl: bytes, count: int, chunk: int = 512, batch: int = 64) -> Receiver:
    """Send ``count`` frames tx -> rx in chunks small enough for the rings (``batch`` frames per ring
    operation), verifying as they land."""
    receiver = Receiver(rx, tpl)
    sent = 0
    while sent < count:
        n = min(chunk, count - sent)
        assert send_seq(tx, tpl, sent, n, batch=batch) == n
        sent += n
        tx.flush(timeout=2)
        receiver.drain(sent, batch=max(batch, 1))
        if receiver.received < sent:
            break
    return receiver
