"""A veth with TX checksum offload on, as `ip link add` and container runtimes make it.

The kernel's UDP sender then puts only the pseudo-header sum in the checksum and leaves the
rest to the device; frames that take the XDP path arrive that way. These tests leave offload
on (VethPair hides it by default) and check that the echo example still answers every
request, and that sink and capture count such frames and say why.
"""

from __future__ import annotations

from xsk import netns

from .test_cli import finish, last_json, start, wait_attached
from .test_examples import HANDLERS, udp_socket
from .test_examples import start as start_example
from .test_examples import stop as stop_example


def _udp_in_csum_errors(ns: str) -> int:
    with netns.entered(ns), open("/proc/thread-self/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    names, values = rows[0], rows[1]
    return int(values[names.index("InCsumErrors")])


@HANDLERS
def test_echo_answers_a_client_whose_kernel_leaves_checksums_to_offload(veth_pair_factory, flags):
    pair = veth_pair_factory(tx_checksum_offload=True)
    a, b = pair.a, pair.b
    server = start_example("udp_echo.py", b.ifname, "--netns", b.netns, "--port", "7777", *flags)
    try:
        wait_attached(b)
        with udp_socket(a.netns) as client:
            for i in range(50):
                msg = b"request %d" % i
                client.sendto(msg, (b.ip, 7777))
                assert client.recvfrom(2048) == (msg, (b.ip, 7777))
    finally:
        final = stop_example(server)[-1]
    assert final["echoed"] == 50 and final["checksums_finished"] == 50  # every request came partial
    assert _udp_in_csum_errors(a.netns) == 0


@HANDLERS
def test_echo_leaves_valid_checksums_alone(veth_pair, flags):
    a, b = veth_pair.a, veth_pair.b
    server = start_example("udp_echo.py", b.ifname, "--netns", b.netns, "--port", "7777", *flags)
    try:
        wait_attached(b)
        with udp_socket(a.netns) as client:
            for i in range(20):
                client.sendto(b"%d" % i, (b.ip, 7777))
                assert client.recvfrom(100)[0] == b"%d" % i
    finally:
        final = stop_example(server)[-1]
    assert final["echoed"] == 20 and final["checksums_finished"] == 0


def _kernel_datagrams_into(tool: list[str], pair, count: int) -> tuple[dict, str]:
    a, b = pair.a, pair.b
    proc = start(*tool, b.ifname, "--netns", b.netns, "--filter", "udp:9999", "--count", str(count), "--json")
    wait_attached(b)
    with udp_socket(a.netns) as client:
        for i in range(count):
            client.sendto(b"datagram %d" % i, (b.ip, 9999))
    out, err = finish(proc)
    return last_json(out), err


def test_sink_counts_partial_checksums_and_says_why(veth_pair_factory):
    s, err = _kernel_datagrams_into(["sink"], veth_pair_factory(tx_checksum_offload=True), 10)
    assert s["packets"] == 10 and s["l4_checksums"] == {"partial": 10, "bad": 0}
    assert len(s["warnings"]) == 1 and "checksum offload" in s["warnings"][0]
    assert err.count("warning:") == 1 and "finish_partial_checksums" in err


def test_capture_counts_them_too_and_a_clean_link_shows_none(veth_pair_factory, veth_pair, tmp_path):
    c, _ = _kernel_datagrams_into(["capture", "-w", str(tmp_path / "p.pcap")],
                                  veth_pair_factory(tx_checksum_offload=True), 5)
    assert c["l4_checksums"] == {"partial": 5, "bad": 0} and "warnings" in c
    s, err = _kernel_datagrams_into(["sink"], veth_pair, 5)
    assert s["l4_checksums"] == {"partial": 0, "bad": 0} and "warnings" not in s and "warning" not in err


def test_a_natural_echo_with_the_swaps_answers_a_client_whose_kernel_leaves_checksums_to_offload(veth_pair_factory):
    """Written as a new user would (parse without verify_checksums, swap_macs/swap_ips/swap_ports,
    send back) over a veth as `ip link` makes it: every request is answered, none is dropped by
    the client's kernel for its checksum (the swaps finish partial checksums by default)."""
    import threading

    import xsk
    from xsk import headers, replies

    pair = veth_pair_factory(tx_checksum_offload=True)
    a, b = pair.a, pair.b
    requests = 100

    def echo(batch: xsk.Batch, h: headers.Headers) -> bool:  # h: the Runner's parse, no verify_checksums
        replies.swap_macs(batch)
        replies.swap_ips(batch, h)
        replies.swap_ports(batch, h)
        return True

    answered = []
    with xsk.Umem(frame_count=256, hugepages="off") as umem, \
            xsk.Socket(umem, b.ifname, netns=b.netns, filter="udp:7777") as sock:
        runner = xsk.Runner(sock, echo)
        server = threading.Thread(target=runner.run, kwargs={"count": requests, "handle_signals": False})
        server.start()
        try:
            with udp_socket(a.netns) as client:
                for i in range(requests):
                    client.sendto(b"request %d" % i, (b.ip, 7777))
                    answered.append(client.recvfrom(2048)[0] == b"request %d" % i)
        finally:
            runner.stop()
            server.join(timeout=10)
    assert answered == [True] * requests
    assert _udp_in_csum_errors(a.netns) == 0
