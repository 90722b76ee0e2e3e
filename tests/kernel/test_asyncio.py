"""asyncio: everything that talks netlink works inside a running event loop, and sockets wait on
the loop itself (recv_async, send_async, flush_async, batches, Runner.run_async), on asyncio's
own loop and on uvloop.

pyroute2's synchronous API cannot run in a thread whose event loop is running; xsk runs its
netlink calls in a helper thread in the caller's namespace there (xsk/_netlink.py). Each test
does its whole job inside ``asyncio.run`` and fails on the "never awaited" warning pyroute2
leaves behind when that goes wrong.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import xsk
from xsk import link, netns, replies
from xsk._runner import Runner
from xsk.testing import RoutedPair, VethPair


def _in_loop(coro_fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return asyncio.run(coro_fn())


def test_veth_pair_socket_and_link_lookups_inside_a_running_loop(make_umem):
    async def main():
        assert asyncio.get_running_loop().is_running()
        with VethPair() as pair:
            umem = make_umem()
            with xsk.Socket(umem, pair.b.ifname, netns=pair.b.netns, filter="udp:7007") as sock:
                with netns.entered(pair.a.netns), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
                    for i in range(5):
                        client.sendto(b"datagram %d" % i, (pair.b.ip, 7007))
                got = []
                for _ in range(50):
                    batch = sock.recv(16, timeout=0.05)
                    got += [bytes(batch.data(i))[-10:] for i in range(len(batch))]
                    sock.release(batch)
                    if len(got) == 5:
                        break
                    await asyncio.sleep(0)
                assert got == [b"datagram %d" % i for i in range(5)]
                with netns.entered(pair.b.netns):
                    assert link.driver_name(pair.b.ifname) == "veth"
                    assert link.mac_address(pair.b.ifname) == pair.b.mac
                    assert link.ipv4_address(pair.b.ifname) == pair.b.ip
                    assert link.queue_counts(link.ifindex(pair.b.ifname)) == (1, 1)
                assert pair.counters()["a"]["tx_packets"] >= 5
            assert umem.accounting().pool == umem.accounting().total
            return pair.a.netns, pair.b.netns

    made = _in_loop(main)
    assert not any(netns.exists(name) for name in made)


def test_routed_pair_send_and_receive_inside_a_running_loop():
    async def main():
        with RoutedPair(forwarding=True) as net:
            frame = (Ether(src=net.a.mac, dst=net.ra.mac) / IP(src=net.a.ip, dst=net.b.ip, ttl=9)
                     / UDP(sport=1, dport=9) / b"routed")
            assert net.a.send(frame) == 1
            got = [p for p in net.b.receive(timeout=1.0) if UDP in p and p[UDP].dport == 9]
            assert len(got) == 1 and got[0][IP].ttl == 8 and bytes(got[0][UDP].payload) == b"routed"
            return [end.netns for end in net.ends]

    made = _in_loop(main)
    assert not any(netns.exists(name) for name in set(made))


# --- the socket on the event loop -----------------------------------------------------------------


LOOPS = ["asyncio", "uvloop"]


def _run(loop_kind: str, coro_fn):
    if loop_kind == "uvloop":
        import uvloop

        return uvloop.run(coro_fn())
    return _in_loop(coro_fn)


def _client(pair) -> socket.socket:
    """A kernel UDP socket in namespace a, connected to b:7300 (uvloop has no sock_sendto)."""
    with netns.entered(pair.a.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((pair.b.ip, 7300))
    s.setblocking(False)
    return s


async def _ask(client: socket.socket, pair, payload: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(client, payload)
    return await asyncio.wait_for(loop.sock_recv(client, 2048), 3)


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_recv_and_send_async_answer_the_kernel_socket(veth_pair, make_umem, loop_kind):
    umem = make_umem()

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns, filter="udp:7300") as sock, \
             _client(veth_pair) as client:
            assert sock.fileno() == sock.fd
            t = asyncio.create_task(ticker())
            empty = await sock.recv_async(16, timeout=0.3)  # nothing comes: the loop runs meanwhile
            assert len(empty) == 0 and ticks >= 1

            async def serve(n):
                served = 0
                while served < n:
                    batch = await sock.recv_async(16)
                    h = xsk.headers.parse(batch)
                    replies.reflect(batch, h)
                    served += await sock.send_async(batch)
                assert await sock.flush_async()
                return served

            server = asyncio.create_task(serve(100))
            for i in range(100):
                assert await _ask(client, veth_pair, b"question %d" % i) == b"question %d" % i
            assert await server == 100
            t.cancel()

    _run(loop_kind, main)
    assert umem.accounting().pool == umem.accounting().total


def test_a_cancelled_recv_takes_nothing_and_batches_iterate(veth_pair, make_umem):
    umem = make_umem(frame_count=512)

    async def main():
        with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns, filter="udp:7300") as sock, \
             _client(veth_pair) as client:
            waiting = asyncio.create_task(sock.recv_async(16))
            await asyncio.sleep(0.05)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            acc = umem.accounting()
            assert acc.user == 0 and acc.pool + acc.fill == acc.total  # nothing taken by the cancelled wait

            async def echo_with_batches():
                async for batch in sock.batches(8):
                    replies.reflect(batch, xsk.headers.parse(batch))
                    await sock.send_async(batch)

            server = asyncio.create_task(echo_with_batches())
            for i in range(20):
                assert await _ask(client, veth_pair, b"%d" % i) == b"%d" % i
            server.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server
            assert await sock.flush_async()
            assert umem.accounting().user == 0

    _in_loop(main)
    assert umem.accounting().pool == umem.accounting().total


def test_runner_run_async_cancelled_mid_traffic_loses_nothing(veth_pair, make_umem):
    umem = make_umem()

    def echo(batch, h):
        replies.reflect(batch, h)
        return h.udp

    async def main():
        with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns, filter="udp:7300") as sock, \
             _client(veth_pair) as client:
            runner = Runner(sock, echo)
            task = asyncio.create_task(runner.run_async())
            for i in range(50):
                assert await _ask(client, veth_pair, b"r%d" % i) == b"r%d" % i
            loop = asyncio.get_running_loop()
            for i in range(200):  # a burst still arriving when the runner is cancelled
                await loop.sock_sendall(client, b"burst %d" % i)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert runner.stats.received >= 50 and runner.stats.replied == runner.stats.received
            assert umem.accounting().user == 0 and umem.accounting().tx == 0

            while len(leftover := sock.recv(256, timeout=0.3)):  # what is left of the burst, so that
                leftover.release()  # the counted runs below start on an empty ring
            for i in range(8):
                await loop.sock_sendall(client, b"counted %d" % i)
            counted = Runner(sock, echo)
            assert (await counted.run_async(count=5, duration=10)) is counted.stats
            assert counted.stats.received == counted.stats.replied == 5  # stopped at 5 of the 8 waiting
            rest = Runner(sock, echo)
            await rest.run_async(count=3, duration=10)
            assert rest.stats.received == rest.stats.replied == 3  # the other 3 were left on the ring
            assert await sock.flush_async()

    _in_loop(main)
    assert umem.accounting().pool == umem.accounting().total


@pytest.mark.parametrize("loop_kind", LOOPS)
@pytest.mark.parametrize("kind", ["batch", "compiled"])
def test_sigterm_ends_run_async_with_its_stats_and_the_loop_s_handlers_are_put_back(veth_pair_factory, make_umem,
                                                                                     loop_kind, kind):
    """A service under run_async answers over a veth made as `ip link` makes it (partial checksums),
    with a batch handler or a compiled one (its C loop in a thread while the event loop goes on);
    SIGTERM ends it as it ends run(): stats returned, nothing with the user, the previous
    SIGTERM handler back."""
    pair = veth_pair_factory(tx_checksum_offload=True)
    umem = make_umem()
    sys.path.insert(0, str(EXAMPLE.parent))
    import udp_echo

    def echo(batch, h):
        replies.reflect(batch, h)
        return h.udp

    handler = udp_echo.echo_frame if kind == "compiled" else echo
    seen: list[int] = []

    async def main():
        with xsk.Socket(umem, pair.b.ifname, netns=pair.b.netns, filter="udp:7300") as sock, \
             _client(pair) as client:
            runner = Runner(sock, handler, verify_checksums=True)
            task = asyncio.create_task(runner.run_async(duration=60))
            for i in range(30):
                assert await _ask(client, pair, b"q%d" % i) == b"q%d" % i
            signal.raise_signal(signal.SIGTERM)
            stats = await asyncio.wait_for(task, 10)  # returns: the signal stopped it, not the duration
            assert stats is runner.stats and stats.received >= 30 and stats.replied == stats.received
            assert stats.seconds < 30
            assert umem.accounting().user == 0
            assert await sock.flush_async()

    old = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        before = signal.getsignal(signal.SIGTERM)
        _run(loop_kind, main)
        assert seen == []  # the Runner took the signal while it ran
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        signal.signal(signal.SIGTERM, old)
    assert umem.accounting().pool == umem.accounting().total


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "async_service.py"


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_async_service_example_udp_and_tcp_control_in_one_loop(veth_pair_factory, loop_kind):
    pair = veth_pair_factory(tx_checksum_offload=True)  # as `ip link` makes it: partial checksums
    args = [sys.executable, str(EXAMPLE), pair.b.ifname, "--netns", pair.b.netns, "--port", "7007",
            "--control", "7100", *(["--uvloop"] if loop_kind == "uvloop" else [])]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        hello = json.loads(proc.stdout.readline())
        assert hello["loop"] == loop_kind and hello["control"] == f"{pair.b.ip}:7100"
        with netns.entered(pair.a.netns):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            control = socket.create_connection((pair.b.ip, 7100), timeout=3)
        udp.settimeout(2)
        ctl = control.makefile("rw")

        def command(line: str) -> dict:
            ctl.write(line + "\n")
            ctl.flush()
            return json.loads(ctl.readline())

        with udp, control:
            for i in range(30):
                udp.sendto(b"ping %d" % i, (pair.b.ip, 7007))
                assert udp.recvfrom(100) == (b"ping %d" % i, (pair.b.ip, 7007))
            stats = command("stats")
            assert stats["received"] == 30 and stats["echoed"] == 30 and stats["port"] == 7007
            assert command("port 7008") == {"port": 7008}
            udp.sendto(b"moved", (pair.b.ip, 7008))
            assert udp.recvfrom(100)[0] == b"moved"
            assert "error" in command("bogus")
            assert command("quit") == {"stopping": True}
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    assert final["received"] == 31 and final["echoed"] == 31
    assert final["accounting"]["pool"] == final["accounting"]["total"]
