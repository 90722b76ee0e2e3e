"""Runner over veth: the kernel's UDP socket asks, a Python handler answers in place; every
frame is accounted for whichever way the handler decides."""

from __future__ import annotations

import socket
import threading

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
