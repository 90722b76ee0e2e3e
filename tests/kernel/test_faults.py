"""Faults under running sockets: a killed process, an interface going down or away, a
starved fill ring. Each ends in a clear error or a recovery, never a hang, and with
every frame accounted for (the make_umem fixture checks all come back to the pool)."""

import errno
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import xsk

from .traffic import SEQ_OFFSET, Receiver, send_seq, seq_rows, template


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _recv_seqs(sock, want, tpl: bytes, timeout=2.0):
    """The sequence numbers of the frames that arrived, each frame first compared byte for byte
    with the template (its sequence field aside)."""
    seqs: list[int] = []
    expected = np.frombuffer(tpl, dtype=np.uint8)
    deadline = time.monotonic() + timeout
    while len(seqs) < want and time.monotonic() < deadline:
        b = sock.recv(256, timeout=0.05)
        if len(b):
            assert (b.lens == len(tpl)).all(), b.lens
            rows = b.gather(len(tpl))
            seqs += rows[:, SEQ_OFFSET:SEQ_OFFSET + 8].copy().view(">u8").ravel().tolist()
            rows[:, SEQ_OFFSET:SEQ_OFFSET + 8] = expected[SEQ_OFFSET:SEQ_OFFSET + 8]
            assert (rows == expected).all(), "a frame arrived with other bytes than were sent"
            b.release()
    return seqs


def test_sigkill_mid_transfer_then_the_next_run_starts_cleanly(veth_pair, make_umem):
    a, b = veth_pair.a, veth_pair.b
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time, xsk
        umem = xsk.Umem()
        sock = xsk.Socket(umem, {b.ifname!r}, netns={b.netns!r}, tx=False)
        print("ready", flush=True)
        while True:
            batch = sock.recv(256, timeout=0.1)
            batch.release()
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    ua = make_umem()
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx:
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 2000) == 2000  # traffic flowing into the child's socket
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        shown = subprocess.run(["ip", "-n", b.netns, "-o", "link", "show", "dev", b.ifname],
                               capture_output=True, text=True).stdout
        assert "prog/xdp" not in shown  # its bpf_link died with it: the kernel detached the program
        ub = make_umem()
        with xsk.Socket(ub, b.ifname, netns=b.netns, tx=False) as rx:
            r = Receiver(rx, tpl)
            assert send_seq(tx, tpl, 0, 1000) == 1000
            tx.flush()
            assert r.drain(1000) == 1000 and r.perfect
    shown = subprocess.run(["ip", "-n", b.netns, "-o", "link", "show", "dev", b.ifname],
                           capture_output=True, text=True).stdout
    assert "prog/xdp" not in shown


def test_sender_link_down_then_up(veth_pair, make_umem):
    """Frames sent while the sender's link is down wait on the TX ring and go when it is up."""
    a, b = veth_pair.a, veth_pair.b
    ua, ub = make_umem(frame_count=512), make_umem(frame_count=512)
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False) as rx:
        tpl = template(veth_pair)
        assert send_seq(tx, tpl, 0, 64) == 64
        assert _recv_seqs(rx, 64, tpl) == list(range(64))
        _ip("-n", a.netns, "link", "set", a.ifname, "down")
        batch = ua.take(64)
        batch.write_template(tpl)
        batch.patch(42, seq_rows(64, 64))
        with pytest.raises(xsk.KernelError, match=r"Network is down .*go when it is up again") as info:
            tx.send(batch)
        assert info.value.errno == errno.ENETDOWN and info.value.accepted == 64 and batch.spent
        assert ua.accounting().tx == 64  # on the TX ring, still accounted as the kernel's
        _ip("-n", a.netns, "link", "set", a.ifname, "up")
        deadline = time.monotonic() + 5
        while not tx.flush(timeout=0.2) and time.monotonic() < deadline:
            pass
        assert ua.accounting().tx == 0
        assert _recv_seqs(rx, 64, tpl) == list(range(64, 128))


def test_receiver_link_down_then_up(veth_pair, make_umem):
    """While the receiver's link is down the sender's TX is accepted and dropped by the sender's
    veth (its carrier follows the peer: tx_dropped counts every frame, each completes back to
    the pool); recv times out cleanly, and traffic resumes when the link is back."""
    a, b = veth_pair.a, veth_pair.b
    ua, ub = make_umem(frame_count=512), make_umem(frame_count=512)
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False) as rx:
        tpl = template(veth_pair)
        _ip("-n", b.netns, "link", "set", b.ifname, "down")
        t0 = time.monotonic()
        assert len(rx.recv(64, timeout=0.2)) == 0
        assert time.monotonic() - t0 < 1
        before = veth_pair.counters()["a"]["tx_dropped"]
        assert send_seq(tx, tpl, 0, 64) == 64
        tx.flush(timeout=0.5)
        assert ua.accounting().pool == 512  # each dropped frame completed
        assert veth_pair.counters()["a"]["tx_dropped"] - before == 64
        assert _recv_seqs(rx, 1, tpl, timeout=0.3) == []
        _ip("-n", b.netns, "link", "set", b.ifname, "up")
        time.sleep(0.2)
        assert send_seq(tx, tpl, 100, 64) == 64
        tx.flush()
        assert _recv_seqs(rx, 64, tpl) == list(range(100, 164))
        assert ub.accounting().balanced


def test_peer_deleted_under_running_sockets(veth_pair, make_umem):
    """Deleting the veth (both ends go) under open sockets: a blocking recv wakes with
    InterfaceGoneError, send says the same, held frames can still be released, close()
    works and every frame is back in the pool."""
    a, b = veth_pair.a, veth_pair.b
    ua, ub = make_umem(frame_count=512), make_umem(frame_count=512)
    tx = xsk.Socket(ua, a.ifname, netns=a.netns, rx=False)
    rx = xsk.Socket(ub, b.ifname, netns=b.netns)
    tpl = template(veth_pair)
    assert send_seq(tx, tpl, 0, 32) == 32
    held = rx.recv(64, timeout=2)
    received = len(held)
    while received < 32:  # nothing left to receive: the next recv would wait for traffic
        more = rx.recv(64, timeout=2)
        assert len(more)
        received += len(more)
        more.release()
    outcome: list[BaseException | None] = []

    def blocking_recv():
        try:
            rx.recv(64, timeout=None)  # would wait forever for traffic
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    polled: list[BaseException | None] = []

    def blocking_poll():
        try:
            tx.poll(timeout=None, rx=True)  # a TX-only socket never becomes readable
            polled.append(None)
        except BaseException as exc:
            polled.append(exc)

    waiters = [threading.Thread(target=blocking_recv), threading.Thread(target=blocking_poll)]
    for w in waiters:
        w.start()
    time.sleep(0.2)
    _ip("-n", b.netns, "link", "del", b.ifname)
    for w in waiters:
        w.join(timeout=5)
        assert not w.is_alive(), "a blocking call hung after the interface was deleted"
    assert isinstance(outcome[0], xsk.InterfaceGoneError) and "is gone" in str(outcome[0])
    assert isinstance(polled[0], xsk.InterfaceGoneError)
    with pytest.raises(xsk.InterfaceGoneError):
        rx.poll(timeout=0.1)
    batch = ua.take(8)
    batch.write_template(tpl)
    with pytest.raises(xsk.InterfaceGoneError, match="close\\(\\) the socket"):
        tx.send(batch)  # already known gone: refused before the ring
    assert not batch.spent and len(batch) == 8  # refused whole: the frames are still the caller's
    batch.release()
    held.release()  # to the pool: the fill ring has no one to fill any more
    tx.close()
    rx.close()
    assert ua.accounting().pool == 512 and ub.accounting().pool == 512


def test_fill_ring_starvation_and_recovery(veth_pair, make_umem):
    """The receiver holds every frame it gets: the fill ring runs dry and the kernel counts what
    it could not deliver; once frames are released, reception resumes. Every sent frame is
    either received or counted in rx_fill_ring_empty_descs."""
    a, b = veth_pair.a, veth_pair.b
    ua, ub = make_umem(frame_count=1024), make_umem(frame_count=256)
    with xsk.Socket(ua, a.ifname, netns=a.netns, rx=False) as tx, \
         xsk.Socket(ub, b.ifname, netns=b.netns, tx=False) as rx:
        tpl = template(veth_pair)
        hoard = []
        for first in range(0, 1000, 100):
            assert send_seq(tx, tpl, first, 100) == 100
            tx.flush()
            got = rx.recv(256, timeout=0.1)
            if len(got):
                hoard.append(got)
        held = sum(len(h) for h in hoard)
        assert held == 256 and ub.accounting().user == 256 and ub.accounting().fill == 0
        starved = rx.statistics()["rx_fill_ring_empty_descs"]
        assert held + starved == 1000
        for h in hoard:
            h.release()
        seqs = []
        for first in range(5000, 5500, 100):  # at most 256 frames: no more than the UMEM holds
            assert send_seq(tx, tpl, first, 100) == 100
            tx.flush()
            seqs += _recv_seqs(rx, 100, tpl)
        assert seqs == list(range(5000, 5500))
        assert rx.statistics()["rx_fill_ring_empty_descs"] == starved
