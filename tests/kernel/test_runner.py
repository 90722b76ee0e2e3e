"""Runner over veth: the kernel's UDP socket asks, a Python handler answers in place; every
frame is accounted for whichever way the handler decides."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

import xsk
from xsk import netns, replies
from xsk._runner import Runner


def _client(pair) -> socket.socket:
    with netns.entered(pair.a.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((pair.b.ip, 7200))
    s.settimeout(1)
    return s


def _serve(sock, handler, count):
    """Run a Runner in a thread; what it returned (or raised) lands in the list."""
    runner = Runner(sock, handler)
    done: list = []

    def run():
        try:
            done.append(runner.run(count=count, handle_signals=False))
        except Exception as exc:  # the test looks at it
            done.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, done


def test_echo_answers_every_request_in_place(veth_pair, make_umem):
    umem = make_umem()
    with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns, filter="udp:7200") as sock, \
         _client(veth_pair) as client:
        def echo(batch, h):
            replies.reflect(batch, h)
            return h.udp

        t, done = _serve(sock, echo, 200)
        for i in range(200):
            client.send(b"request %d" % i)
            assert client.recv(100) == b"request %d" % i
        t.join(5)
        stats = done[0]
        assert (stats.received, stats.replied, stats.returned, stats.tx_dropped) == (200, 200, 0, 0)
        assert stats.batches == 200 and stats.busy_us_per_batch > 0
    assert umem.accounting().pool == umem.accounting().total


def test_frames_not_selected_go_back_and_a_failing_handler_loses_none(veth_pair, make_umem):
    umem = make_umem()
    with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns, filter="udp:7200") as sock, \
         _client(veth_pair) as client:
        def odd_only(batch, h):
            payload_last = batch.read_at(np.where(h.payload >= 0, h.payload, 0), 1)[:, 0]
            replies.reflect(batch, h)
            return (payload_last - ord("0")) % 2 == 1

        t, done = _serve(sock, odd_only, 10)
        for i in range(10):
            client.send(b"%d" % i)
        got = []
        for _ in range(5):
            got.append(client.recv(100))
        with pytest.raises(TimeoutError):
            client.settimeout(0.3)
            client.recv(100)
        t.join(5)
        assert sorted(got) == [b"1", b"3", b"5", b"7", b"9"]
        assert (done[0].replied, done[0].returned) == (5, 5)

        def broken(batch, h):
            raise RuntimeError("the handler's bug")

        t, failed = _serve(sock, broken, 1)
        client.send(b"x")
        t.join(5)
        assert isinstance(failed[0], RuntimeError) and "the handler's bug" in str(failed[0])
    acc = umem.accounting()
    assert acc.user == 0 and acc.pool == acc.total  # the failing batch's frames went back


def test_two_queues_two_threads_each_a_compiled_loop_answer_all_of_their_queue(veth_pair_factory, make_umem):
    """One compiled Runner per queue, each in a thread of its own (its loop in C, no GIL): both
    answer every request that arrives on their queue, at once, and every frame comes back."""
    import sys
    from pathlib import Path

    pytest.importorskip("numba")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    import udp_echo

    from .traffic import send_seq, template

    udp_echo.echo_frame.compile()
    pair = veth_pair_factory(queues=2)
    a, b = pair.a, pair.b
    tpl = template(pair)  # a -> b, UDP to port 9000, sequence numbers at SEQ_OFFSET
    n = 3000
    server_umems = [make_umem(), make_umem()]
    client_umems = [make_umem(), make_umem()]
    with xsk.Socket(server_umems[0], b.ifname, queue=0, netns=b.netns, filter="udp:9000") as s0, \
         xsk.Socket(server_umems[1], b.ifname, queue=1, netns=b.netns, filter="udp:9000") as s1, \
         xsk.Socket(client_umems[0], a.ifname, queue=0, netns=a.netns) as c0, \
         xsk.Socket(client_umems[1], a.ifname, queue=1, netns=a.netns) as c1:
        runners = [Runner(s, udp_echo.echo_frame, verify_checksums=True) for s in (s0, s1)]
        results: list = [None, None]

        def serve(q: int) -> None:
            results[q] = runners[q].run(count=n, duration=60, handle_signals=False)

        threads = [threading.Thread(target=serve, args=(q,)) for q in (0, 1)]
        for t in threads:
            t.start()
        got = [0, 0]

        def collect(expected: int) -> None:
            deadline = time.monotonic() + 20
            while min(got) < expected and time.monotonic() < deadline:
                for q, client in enumerate((c0, c1)):  # the replies come back on the queue they left from
                    batch = client.recv(256, timeout=0.02)
                    for i in range(len(batch)):
                        frame = bytes(batch.data(i))
                        assert frame[26:30] == socket.inet_aton(b.ip) and frame[30:34] == socket.inet_aton(a.ip)
                    got[q] += len(batch)
                    client.release(batch)

        for first in range(0, n, 500):  # a chunk on each queue at once, then its replies
            for client in (c0, c1):  # veth: TX queue q of a arrives on RX queue q of b
                assert send_seq(client, tpl, first, 500) == 500
                client.flush()
            collect(first + 500)
        for r in runners:
            r.stop()
        for t in threads:
            t.join(30)
        assert got == [n, n]
        assert [r.received for r in results] == [n, n] and [r.replied for r in results] == [n, n]
    for umem in server_umems:
        assert umem.accounting().pool == umem.accounting().total
