"""xsk.jit: frame handlers compiled by numba, run per frame by the C loop, on a MemorySocket.

Every run ends with the ledger balanced (every frame back in the pool after a flush), and the
same handler run uncompiled (its Python, called from the same C loop) gives the same replies
and counts. scapy and the batch helpers of xsk.replies are the oracles for the frame helpers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether

import xsk
from xsk import Runner, _jitcore, checksum, headers, jit, replies
from xsk._umem import XDP_PACKET_HEADROOM
from xsk.errors import CompileError, ConfigError, UnsupportedError
from xsk.headers import CSUM_OK, CSUM_PARTIAL
from xsk.testing import MemorySocket

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import arp_icmp_responder
import udp_echo
import udp_kv

RX_LEN = 128  # every request padded to this (the stand-in kernel's packets are of one length)
FRAMES = 256
ETH = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")


def _partial(pkt: Ether) -> bytes:
    """The frame as a local sender with checksum offload sends it: only the pseudo-header sum."""
    raw = bytearray(bytes(pkt))
    layer = pkt[UDP] if UDP in pkt else pkt[TCP]
    ip = pkt[IP] if IP in pkt else pkt[IPv6]
    seg = len(bytes(layer))
    src, dst = (ip.src, ip.dst)
    at = len(raw) - seg + (6 if UDP in pkt else 16)
    raw[at:at + 2] = checksum.pseudo_header_sum(src, dst, 17 if UDP in pkt else 6, seg).to_bytes(2, "big")
    return bytes(raw)


V4 = Ether(bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=40000, dport=7) / b"hello"))
V6 = Ether(bytes(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=7) / (b"x" * 33)))
TCP4 = Ether(bytes(ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=80) / b"odd"))
BAD = bytearray(bytes(V4))
BAD[40:42] = b"\x12\x34"  # a wrong UDP checksum
REQUESTS = [bytes(V4), _partial(V4), bytes(V6), _partial(V6), bytes(BAD), bytes(TCP4), bytes(ETH / ARP())]


def serve(requests: list[bytes], handler: object, compiled: bool, count: int = 64, rx_len: int = RX_LEN,
          use_async: bool = False, **options: object) -> tuple[dict[int, bytes], xsk.RunnerStats]:
    """Frame f of a fresh UMEM holds requests[f % len(requests)]; the socket receives ``count``
    of them (each frame once) and the handler answers. Returns each sent frame's bytes by frame
    index, and the Runner's stats; checks that every frame came back. ``use_async``: served by
    ``run_async`` under asyncio.run instead of ``run``."""
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        start = XDP_PACKET_HEADROOM + umem.headroom
        for f in range(FRAMES):
            umem.frames[f, start:start + rx_len] = np.frombuffer(requests[f % len(requests)].ljust(rx_len, b"\0"),
                                                                  np.uint8)
        with MemorySocket(umem, rx_len=rx_len) as sock:
            runner = Runner(sock, handler, compiled=compiled, **options)  # type: ignore[arg-type]
            if use_async:
                stats = asyncio.run(runner.run_async(count=count, handle_signals=False))
            else:
                stats = runner.run(count=count, handle_signals=False)
            tx = sock.rings["tx"]
            sent = tx.entries[:int(tx.producer[0])]
            replies = {int(a) // umem.frame_size: bytes(umem.array[int(a):int(a) + int(n)])
                       for a, n in zip(sent["addr"], sent["len"], strict=True)}
            assert sock.flush(timeout=1)
        umem.verify()
        acc = umem.accounting()
        assert acc.pool == acc.total, acc  # every frame back: none lost, none kept
    return replies, stats


@pytest.mark.parametrize("batch", [1, 64])
def test_the_echo_answers_the_same_compiled_and_in_python(batch):
    got = {compiled: serve(REQUESTS, udp_echo.echo_frame, compiled, batch=batch, verify_checksums=True)
           for compiled in (True, False)}
    assert got[True][0] == got[False][0]
    assert got[True][1].received == got[False][1].received == 64
    for name in ("replied", "returned", "dropped", "invalid", "raised", "tx_dropped"):
        assert getattr(got[True][1], name) == getattr(got[False][1], name), name
    replies, stats = got[True]
    kinds = [f % len(REQUESTS) for f in replies]
    assert sorted(set(kinds)) == [0, 1, 2, 3]  # UDP over IPv4 and IPv6, with full or partial checksums
    assert stats.replied == len(replies) and stats.dropped == 64 - len(replies)  # bad checksum, TCP, ARP
    for f, raw in replies.items():
        request = Ether(REQUESTS[f % len(REQUESTS)].ljust(RX_LEN, b"\0"))
        reply = Ether(raw)
        ip, rip = (IP, IP) if IP in request else (IPv6, IPv6)
        assert (reply.src, reply.dst) == (request.dst, request.src)
        assert (reply[rip].src, reply[rip].dst) == (request[ip].dst, request[ip].src)
        assert (reply[UDP].sport, reply[UDP].dport) == (request[UDP].dport, request[UDP].sport)
        assert bytes(reply[UDP].payload).rstrip(b"\0") == bytes(request[UDP].payload).rstrip(b"\0")
    with xsk.Umem(frame_count=8, hugepages="off") as umem:  # each reply's checksum holds: partial ones finished
        b = umem.take_packets([Ether(r) for r in replies.values()][:8])
        assert set(headers.parse(b, verify_checksums=True).l4_csum.tolist()) == {CSUM_OK}
        b.release()


def _kv_exchange(handler: object, compiled: bool, requests: list[bytes]) -> list[bytes]:
    answers = []
    for payload in requests:
        frame = bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5000, dport=7400) / payload)
        replies, stats = serve([frame], handler, compiled, count=1, rx_len=max(RX_LEN, len(frame)),
                               verify_checksums=True)
        assert stats.replied == 1
        (raw,) = replies.values()
        assert _h(raw).l4_csum == CSUM_OK
        answers.append(bytes(Ether(raw)[UDP].payload))
    return answers


KV = [b"GET missing", b"SET k1 " + b"v" * 900, b"GET k1", b"SET  spaced  ", b"GET ", b"SET a 1", b"SET a 22",
      b"GET a", b"HELLO", b"GET a b", b"SET " + b"k" * 65 + b" v", b"  GET a\n"]


def test_the_compiled_store_answers_as_the_python_store_does():
    expected_store = udp_kv.Store()
    expected = [expected_store.answer(r) for r in KV]
    expected[10] = b"ERROR key or value too long"  # the compiled store's keys are at most KEY_MAX bytes
    for compiled in (True, False):
        store = udp_kv.CompiledStore()
        answers = _kv_exchange(store.handler, compiled, KV)
        assert answers == expected
        assert len(store) == 3  # k1, "" (SET with an empty key) and a


def test_the_compiled_responder_answers_as_the_batch_handler_does():
    ours = "192.0.2.99"
    requests = [bytes(Ether(src="02:00:00:00:00:0a", dst="ff:ff:ff:ff:ff:ff")
                      / ARP(op=1, hwsrc="02:00:00:00:00:0a", psrc="192.0.2.1", pdst=ours)),
                bytes(ETH / IP(src="192.0.2.1", dst=ours) / ICMP(type=8, id=7, seq=3) / b"ping data"),
                bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.50") / ICMP(type=8)),  # not ours
                bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst="192.0.2.50"))]
    batch_replies, _ = serve(requests, arp_icmp_responder.make_handler(ours, "02:00:00:00:99:99"), False)
    frame_handler = arp_icmp_responder.make_frame_handler(ours, "02:00:00:00:99:99")
    for compiled in (True, False):
        replies, stats = serve(requests, frame_handler, compiled)
        assert replies == batch_replies
        assert stats.replied == len(replies) and stats.returned == 64 - len(replies)
    kinds = {f % 4 for f in batch_replies}
    assert kinds == {0, 1}
    ping = next(r for f, r in batch_replies.items() if f % 4 == 1)
    assert Ether(ping)[ICMP].type == 0 and Ether(ping)[IP].dst == "192.0.2.1"
    assert _icmp_ok(ping)


def _icmp_ok(raw: bytes) -> bool:
    """The ICMP message's checksum holds (summed over the IP length, not the frame's padding)."""
    return checksum.checksum(raw[34:14 + int.from_bytes(raw[16:18], "big")]) == 0


def _misbehaving(frame, length, h):
    kind = frame[60]  # set per request below
    if kind == 1:
        return 10**6  # past the frame
    if kind == 2:
        return -7  # no such action
    if kind == 3:
        return frame[100_000]  # an index past the frame: bounds are checked, so it raises
    if kind == 4:
        return jit.DROP
    if kind == 5:
        return jit.PASS
    if kind == 6:
        return 60  # a shorter reply
    return jit.SEND


def _kinds(n: int) -> list[bytes]:
    out = []
    for kind in range(n):
        raw = bytearray(bytes(V4).ljust(RX_LEN, b"\0"))
        raw[60] = kind
        out.append(bytes(raw))
    return out


def test_bad_actions_lengths_and_exceptions_give_the_frame_back_and_are_counted():
    replies, stats = serve(_kinds(7), jit.handler(_misbehaving), True, count=70)
    assert stats.received == 70
    assert (stats.invalid, stats.raised, stats.dropped, stats.returned) == (20, 10, 10, 10)
    assert stats.replied == len(replies) == 20
    assert sorted({len(r) for r in replies.values()}) == [60, RX_LEN]


def test_without_bounds_checks_a_length_past_the_frame_is_still_refused():
    replies, stats = serve(_kinds(3)[1:2], jit.handler(_misbehaving, boundscheck=False), True, count=10)
    assert stats.invalid == 10 and stats.replied == 0 and not replies


def test_an_exception_in_the_python_handler_stops_the_run_and_is_raised():
    def fails(frame, length, h):
        raise ValueError("a bug in the handler")

    with pytest.raises(ValueError, match="a bug in the handler"):
        serve(REQUESTS, jit.handler(fails), False)  # serve() checks every frame came back first


def test_a_python_handler_returning_no_action_is_told_what_to_return():
    with pytest.raises(ConfigError, match=r"returned None: return jit.SEND"):
        serve(REQUESTS, jit.handler(lambda frame, length, h: None), False)
    with pytest.raises(ConfigError, match="returned True"):
        serve(REQUESTS, jit.handler(lambda frame, length, h: True), False)


def test_state_arrays_are_the_handler_s_to_read_and_write():
    seen = np.zeros(2, dtype=np.int64)

    @jit.handler(state=(seen,))
    def count(frame, length, h, seen):
        seen[0] += 1
        seen[1] += length
        return jit.PASS

    for compiled in (True, False):
        seen[:] = 0
        _, stats = serve(REQUESTS, count, compiled, count=20)
        assert seen.tolist() == [20, 20 * RX_LEN] and stats.returned == 20
    with pytest.raises(ConfigError, match="state"):
        jit.handler(lambda f, n, h, s: 0, state=(np.zeros((4, 4))[:, 1],))
    with pytest.raises(ConfigError, match="state"):
        jit.handler(lambda f, n, h, s: 0, state=([1, 2],))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"must take \(frame, length, h\) and then one argument per state array"):
        jit.handler(lambda f, n, h: 0, state=(seen,))
    with pytest.raises(ConfigError, match="must take"):
        jit.handler(lambda frame: 0)
    with pytest.raises(ConfigError, match="not a function"):
        jit.handler(42)  # type: ignore[call-overload]


def _unsupported(frame, length, h):
    return len(open("/dev/null").read()) + length  # numba compiles no file objects


def test_a_handler_numba_cannot_compile_fails_at_start_with_numba_s_message_and_the_line():
    line = _unsupported.__code__.co_firstlineno + 1
    with xsk.Umem(frame_count=64, hugepages="off") as umem, MemorySocket(umem) as sock:
        with pytest.raises(CompileError) as info:
            Runner(sock, jit.handler(_unsupported))
        assert f"line {line}" in str(info.value) and "_unsupported" in str(info.value)
        assert "open" in info.value.output
        with pytest.raises(CompileError, match="returns bool"):
            Runner(sock, jit.handler(lambda frame, length, h: h.udp))
        assert umem.accounting().user == 0


def test_without_numba_the_compiled_path_says_what_to_install(monkeypatch):
    monkeypatch.setattr(_jitcore, "_numba", None)
    with xsk.Umem(frame_count=64, hugepages="off") as umem, MemorySocket(umem) as sock, pytest.raises(
            UnsupportedError, match=r"pip install 'xsk\[jit\]'"):
        Runner(sock, jit.handler(lambda frame, length, h: jit.SEND))
    _, stats = serve(REQUESTS, jit.handler(lambda frame, length, h: jit.SEND), False, count=5)
    assert stats.replied == 5  # the Python path needs no numba


def test_runner_options_that_do_not_fit_a_frame_handler_are_refused():
    with xsk.Umem(frame_count=64, hugepages="off") as umem, MemorySocket(umem) as sock:
        with pytest.raises(ConfigError, match="compiled=True"):
            Runner(sock, lambda b, h: True, compiled=True)
        with pytest.raises(ConfigError, match="batch"):
            Runner(sock, jit.handler(lambda frame, length, h: 0), batch=0, compiled=False)


def test_stop_from_another_thread_ends_a_compiled_run_and_every_frame_is_back():
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        with MemorySocket(umem, rx_len=RX_LEN) as sock:
            runner = Runner(sock, udp_echo.echo_frame)
            started = threading.Event()
            result: list[xsk.RunnerStats] = []

            def run() -> None:
                started.set()
                result.append(runner.run(handle_signals=False))

            t = threading.Thread(target=run)
            t.start()
            started.wait()
            while not runner.stats.received and t.is_alive():
                t.join(0.01)  # the loop publishes its counts when a C call returns
                if sock.umem.accounting().fill < FRAMES:  # it is receiving
                    break
            runner.stop()
            t.join(30)
            assert not t.is_alive()
            assert sock.flush(timeout=1)
        acc = umem.accounting()
        assert acc.pool == acc.total
        assert result[0].received > 0


@pytest.mark.parametrize("compiled", [True, False])
def test_run_async_serves_a_frame_handler_as_run_does(compiled):
    expected, stats = serve(REQUESTS, udp_echo.echo_frame, compiled=True)
    got, async_stats = serve(REQUESTS, udp_echo.echo_frame, compiled=compiled, use_async=True)
    assert got == expected
    assert (async_stats.received, async_stats.replied, async_stats.returned) == (
        stats.received, stats.replied, stats.returned)
    assert async_stats.seconds > 0


def test_a_cancelled_run_async_of_a_compiled_handler_ends_its_thread_and_every_frame_is_back():
    async def main(sock: MemorySocket) -> xsk.RunnerStats:
        runner = Runner(sock, udp_echo.echo_frame)
        task = asyncio.create_task(runner.run_async(handle_signals=False))
        while not runner.stats.received and sock.umem.accounting().fill == FRAMES:
            await asyncio.sleep(0.005)  # until the C loop is receiving
        await asyncio.sleep(0.05)  # the event loop goes on meanwhile
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return runner.stats

    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        with MemorySocket(umem, rx_len=RX_LEN) as sock:
            stats = asyncio.run(main(sock))
            assert sock.flush(timeout=1)
        acc = umem.accounting()
        assert acc.pool == acc.total
        assert stats.received > 0


def test_sigterm_ends_run_async_of_a_frame_handler_with_its_stats_and_the_previous_handler_is_put_back():
    """(The batch handler's run_async waits on the socket's fd: tests/kernel/test_asyncio.py.)"""
    seen: list[int] = []

    def before(signum: int, _frame: object) -> None:
        seen.append(signum)

    async def main(sock: MemorySocket) -> xsk.RunnerStats:
        runner = Runner(sock, udp_echo.echo_frame)
        asyncio.get_running_loop().call_later(0.3, os.kill, os.getpid(), signal.SIGTERM)
        return await runner.run_async(duration=60)  # ended by the signal, not the duration

    old = signal.signal(signal.SIGTERM, before)
    try:
        with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
            with MemorySocket(umem, rx_len=RX_LEN) as sock:
                stats = asyncio.run(main(sock))
                assert sock.flush(timeout=1)
            assert umem.accounting().pool == umem.accounting().total
        assert stats.received > 0 and stats.seconds < 30
        assert seen == []  # the Runner's handler took it while it ran
        assert signal.getsignal(signal.SIGTERM) is before  # and gave it back
    finally:
        signal.signal(signal.SIGTERM, old)


# --- the frame helpers, against scapy and xsk.replies ---------------------------------------------
def _frame(pkt: bytes, room: int = 256) -> np.ndarray:
    out = np.zeros(room, dtype=np.uint8)
    out[:len(pkt)] = np.frombuffer(pkt, np.uint8)
    return out


def _h(pkt: bytes) -> np.recarray:
    with xsk.Umem(frame_count=2, hugepages="off") as umem:
        b = umem.take_packets([Ether(pkt)])
        rec = headers.parse(b, verify_checksums=True).records().copy()
        b.release()
    return rec.view(np.recarray)[0]


@pytest.mark.parametrize("pkt", [bytes(V4), bytes(V6), bytes(TCP4)])
def test_fix_and_finish_checksum_give_what_scapy_computes(pkt):
    partial = _partial(Ether(pkt))
    h = _h(partial)
    assert h.l4_csum == CSUM_PARTIAL
    f = _frame(partial)
    assert jit.finish_checksum(f, h)
    assert bytes(f[:len(pkt)]) == pkt
    g, hg = _frame(pkt), _h(pkt)
    g[hg.l4 + (6 if hg.udp else 16)] ^= 0xFF  # a wrong checksum
    assert jit.fix_l4_checksum(g, hg) and bytes(g[:len(pkt)]) == pkt
    assert not jit.finish_checksum(_frame(pkt), _h(pkt))  # a whole checksum is left alone


@pytest.mark.parametrize("pkt", [bytes(V4), bytes(V6), bytes(TCP4)])
@pytest.mark.parametrize("answer", [b"", b"ok", b"a longer answer than the request had" * 3])
def test_set_payload_makes_the_frame_whole_as_scapy_builds_it(pkt, answer):
    f = _frame(pkt)
    n = jit.set_payload(f, _h(pkt), np.frombuffer(answer, np.uint8), len(answer))
    with xsk.Umem(frame_count=2, hugepages="off") as umem:  # the batch helper of xsk.replies: the oracle
        b = umem.take_packets([Ether(pkt)])
        replies.set_payload(b, headers.parse(b), 0, answer)
        want = bytes(b.data(0))
        b.release()
    assert n == len(want) and bytes(f[:n]) == want
    assert Ether(want).payload.payload.payload.load == answer if answer else True


def test_set_payload_refuses_what_does_not_fit_and_changes_nothing():
    f = _frame(bytes(V4), room=80)
    before = f.copy()
    assert jit.set_payload(f, _h(bytes(V4)), np.zeros(100, np.uint8), 100) == jit.INVALID
    assert jit.set_payload_length(f, _h(bytes(TCP4)), 1000) == jit.INVALID
    assert (f == before).all()
    arp = bytes(ETH / ARP())
    assert jit.set_payload(_frame(arp), _h(arp), np.zeros(2, np.uint8), 2) == jit.INVALID


def test_update_word_and_swaps_keep_checksums_valid():
    ping = bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.9") / ICMP(type=8, id=1, seq=2) / b"data")
    f, h = _frame(ping), _h(ping)
    jit.update_word(f, h.l4, h.l4 + 2, 0x0000)  # echo request -> reply
    assert Ether(bytes(f[:len(ping)]))[ICMP].type == 0
    assert _icmp_ok(bytes(f[:len(ping)]))
    for pkt in (bytes(V4), bytes(V6), bytes(TCP4)):
        f = _frame(pkt)
        jit.reflect(f, _h(pkt))
        assert _h(bytes(f[:len(pkt)])).l4_csum == CSUM_OK
        assert jit.get_u16(f, 12) == int.from_bytes(pkt[12:14], "big")


@pytest.mark.parametrize(("csum", "old", "new"), [(0x1234, 0x0800, 0x0000), (0xFFFF, 0, 0xFFFF), (0, 0xABCD, 1)])
def test_checksum_update_is_rfc_1624(csum, old, new):
    data = bytearray(b"\x45\x00" + old.to_bytes(2, "big") + b"\x12\x34\xab\xcd")
    full = checksum.checksum(bytes(data))
    data[2:4] = new.to_bytes(2, "big")
    assert jit.checksum_update(full, old, new) == checksum.checksum(bytes(data))
    assert jit.checksum_update(csum, old, new) == checksum.incremental(csum, old.to_bytes(2, "big"),
                                                                        new.to_bytes(2, "big"))
    f = np.zeros(8, np.uint8)
    jit.put_u32(f, 2, 0xDEADBEEF)
    assert jit.get_u32(f, 2) == 0xDEADBEEF and jit.get_u16(f, 4) == 0xBEEF


# --- the helpers' word-wide accesses: exact bytes, bounds, and the same without numba ----------------
def _swapped(raw: bytes, a: int, b: int, n: int) -> bytes:
    out = bytearray(raw)
    out[a:a + n], out[b:b + n] = raw[b:b + n], raw[a:a + n]
    return bytes(out)


@pytest.mark.parametrize("pkt", [bytes(V4), bytes(V6), bytes(TCP4)])
def test_the_swaps_move_exactly_their_fields_bytes(pkt):
    h = _h(pkt)
    ip_at, ip_n = (h.l3 + 12, 4) if h.ip_version == 4 else (h.l3 + 8, 16)
    want = _swapped(_swapped(_swapped(pkt, 0, 6, 6), ip_at, ip_at + ip_n, ip_n), h.l4, h.l4 + 2, 2)
    f = _frame(pkt)
    jit.reflect(f, h)
    assert bytes(f[:len(pkt)]) == want and not f[len(pkt):].any()


@pytest.mark.parametrize("size", range(10))
def test_the_checksum_of_every_payload_length_is_scapy_s(size):
    """The sum runs four bytes at a time, then two, then an odd last one: every remainder."""
    data = bytes(range(1, size + 1))
    for pkt in (ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=40000, dport=7) / data,
                ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=7) / data,
                ETH / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=5, dport=80) / data):
        whole = bytes(pkt)
        h = _h(whole)
        f = _frame(whole)
        at = h.l4 + (6 if h.udp else 16)
        f[at:at + 2] = 0x55
        assert jit.fix_l4_checksum(f, h) and bytes(f[:len(whole)]) == whole, (pkt.summary(), size)


def test_a_helper_given_a_field_outside_the_frame_raises_and_writes_nothing():
    f = np.zeros(16, np.uint8)
    for call in (lambda: jit.put_u16(f, 15, 0xFFFF), lambda: jit.put_u32(f, 13, 0xFFFFFFFF),
                 lambda: jit.put_u16(f, -1, 0xFFFF), lambda: jit.get_u32(f, 14), lambda: jit.swap_macs(f[:11])):
        with pytest.raises(IndexError, match="outside the frame"):
            call()
    assert not f.any()


def _writes_past_the_frame(frame, length, h):
    jit.put_u16(frame, len(frame) - 1, 0xABCD)  # a helper, not the handler's own indexing
    return jit.SEND


@pytest.mark.parametrize("boundscheck", [True, False])
def test_a_compiled_handler_whose_helper_writes_past_its_frame_has_it_given_back_and_counted(boundscheck):
    """The helpers check their fields whatever the handler's boundscheck: a helper's write past
    the frame's room would land in the next UMEM frame, another owner's."""
    handler = jit.handler(_writes_past_the_frame, boundscheck=boundscheck)
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        with MemorySocket(umem, rx_len=RX_LEN) as sock:
            stats = Runner(sock, handler).run(count=20, handle_signals=False)
            assert sock.flush(timeout=1)
        assert (stats.raised, stats.replied) == (20, 0)
        assert not (umem.array == 0xAB).any() and not (umem.array == 0xCD).any()
        umem.verify()


_WITHOUT_NUMBA = r"""
import sys, json
sys.modules["numba"] = None  # as on a machine without the jit extra
import numpy as np
from xsk import jit
raw = np.frombuffer(bytes.fromhex(sys.argv[1]), np.uint8)
class H:  # the fields the helpers read
    pass
h = H()
for k, v in json.loads(sys.argv[2]).items():
    setattr(h, k, v)
f = np.zeros(256, np.uint8); f[:len(raw)] = raw
jit.reflect(f, h)
ok = jit.fix_l4_checksum(f, h)
jit.put_u32(f, 200, 0x01020304); jit.put_u16(f, 210, 0xBEEF)
print(json.dumps([bool(ok), bytes(f).hex(), jit.get_u32(f, 200), jit.get_u16(f, 210)]))
"""


@pytest.mark.parametrize("pkt", [bytes(V4), bytes(V6), bytes(TCP4)])
def test_the_helpers_give_the_same_bytes_without_numba(pkt):
    import json
    import subprocess

    h = _h(_partial(Ether(pkt)))
    fields = {k: (bool(h[k]) if k in ("udp", "tcp") else int(h[k])) for k in ("l3", "l4", "ip_version", "proto", "udp",
                                                                              "tcp", "l4_csum")}
    out = subprocess.run([sys.executable, "-c", _WITHOUT_NUMBA, _partial(Ether(pkt)).hex(), json.dumps(fields)],
                         capture_output=True, text=True, check=True)
    ok, raw, u32, u16 = json.loads(out.stdout)
    f = _frame(_partial(Ether(pkt)))
    jit.reflect(f, h)
    assert ok == jit.fix_l4_checksum(f, h)
    jit.put_u32(f, 200, 0x01020304)
    jit.put_u16(f, 210, 0xBEEF)
    assert bytes.fromhex(raw) == bytes(f) and (u32, u16) == (0x01020304, 0xBEEF)


def _catches_a_helper_error(frame, length, h):
    try:
        jit.put_u16(frame, len(frame), 0xABCD)  # just past the frame
    except Exception:  # numba matches no narrower class
        return jit.DROP
    return jit.SEND


@pytest.mark.parametrize("compiled", [True, False])
def test_a_handler_catches_a_helper_s_error_compiled_as_in_python(compiled):
    _, stats = serve(REQUESTS, jit.handler(_catches_a_helper_error), compiled, count=14)
    assert (stats.dropped, stats.raised, stats.replied) == (14, 0, 0)


def _allocates(frame, length, h):
    scratch = np.zeros(2, np.uint8)  # numba needs its reference counts for this
    scratch[0] = frame[0]
    frame[0] = scratch[0]
    return jit.SEND


def test_a_handler_that_makes_arrays_still_compiles_and_answers():
    _, stats = serve(REQUESTS, jit.handler(_allocates), True, count=14)
    assert (stats.replied, stats.raised) == (14, 0)


_CACHED_HANDLER = '''
from xsk import jit

def reply(frame, length, h):
    jit.swap_macs(frame)
    return jit.SEND
'''


def test_handlers_are_cached_per_build_of_the_helpers_not_beside_their_source(tmp_path, monkeypatch):
    """A handler's machine code holds the helpers it inlined, but numba checks a cache against the
    handler's own file only: one cached against earlier helpers was loaded after they changed and
    crashed the process. So handlers are cached under a directory named for xsk.jit's build."""
    import importlib.util

    import numba

    src = tmp_path / "user_handler.py"
    src.write_text(_CACHED_HANDLER)
    spec = importlib.util.spec_from_file_location("user_handler", src)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    jit.handler(mod.reply).compile()
    builds = list((tmp_path / "cache" / "xsk" / "handlers").iterdir())
    assert len(builds) == 1 and any(builds[0].rglob("*.nbi"))
    assert not (tmp_path / "__pycache__").exists() or not any((tmp_path / "__pycache__").glob("*.nb*"))
    monkeypatch.setattr(numba, "__version__", numba.__version__ + "+other")  # another build
    jit.handler(mod.reply).compile()
    assert len(list((tmp_path / "cache" / "xsk" / "handlers").iterdir())) == 2
    assert numba.config.CACHE_DIR == ""  # type: ignore[attr-defined]  # put back


@pytest.mark.parametrize("handler", ["compiled", "python batch"])
def test_received_is_current_while_a_run_goes_on_and_count_is_each_run_s(handler):
    """A thread watching runner.stats.received sees it grow during a run (what a rate monitor
    reads), and run(count=N) receives N more each time it is called, on either path."""
    with xsk.Umem(frame_count=FRAMES, hugepages="off") as umem:
        with MemorySocket(umem, rx_len=RX_LEN) as sock:
            runner = Runner(sock, udp_echo.echo_frame if handler == "compiled" else (lambda b, h: True),
                            verify_checksums=True)
            assert runner.run(count=1000, handle_signals=False).received == 1000
            assert runner.run(count=1000, handle_signals=False).received == 2000
            seen: list[int] = []
            t = threading.Thread(target=runner.run, kwargs={"duration": 10, "handle_signals": False})
            t.start()
            try:
                while len(set(seen)) < 3 and t.is_alive():
                    seen.append(runner.stats.received)
                    t.join(0.005)
            finally:
                runner.stop()
                t.join(30)
            assert not t.is_alive()
            assert len(set(seen)) == 3 and seen == sorted(seen) and seen[0] >= 2000
            assert seen[-1] <= runner.stats.received
            assert sock.flush(timeout=1)
        acc = umem.accounting()
        assert acc.pool == acc.total
