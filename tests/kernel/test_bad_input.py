"""Bad input gives a clear xsk error naming the problem, and leaves nothing behind."""

import os
import subprocess
import sys
import textwrap

import pytest

import xsk


def test_no_such_interface(veth_pair, make_umem):
    umem = make_umem(frame_count=64)
    message = f"no interface 'nope0' in network namespace '{veth_pair.a.netns}'"
    with pytest.raises(xsk.NoSuchInterfaceError, match=message):
        xsk.Socket(umem, "nope0", netns=veth_pair.a.netns)
    assert umem.accounting().pool == 64 and not umem.registered


def test_an_interface_in_another_namespace_is_named_with_its_namespace(veth_pair, make_umem):
    umem = make_umem(frame_count=64)
    b = veth_pair.b
    with pytest.raises(xsk.NoSuchInterfaceError, match=rf"it exists in network namespace '{b.netns}': "
                                                       rf"pass netns='{b.netns}'"):
        xsk.Socket(umem, b.ifname, rx=False)  # forgot netns=
    with pytest.raises(xsk.NoSuchInterfaceError, match=rf"it exists in network namespace '{b.netns}'"):
        xsk.Socket(umem, b.ifname, netns=veth_pair.a.netns, rx=False)  # the wrong one


def test_send_all_sends_more_than_the_tx_ring_holds(veth_pair, make_umem):
    ua = make_umem(frame_count=2048)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False, ring_size=64) as tx:
        before = veth_pair.counters()["a"]["tx_packets"]
        batch = ua.take(1000, 60)
        assert tx.send_all(batch, timeout=5) == 1000 and len(batch) == 0
        assert tx.flush()
        assert veth_pair.counters()["a"]["tx_packets"] - before == 1000


def test_no_such_namespace(make_umem):
    umem = make_umem(frame_count=64)
    with pytest.raises(xsk.NoSuchNamespaceError, match="no network namespace named 'xskt-missing'"):
        xsk.Socket(umem, "eth0", netns="xskt-missing")


def test_queue_beyond_the_queue_count(veth_pair_factory, make_umem):
    pair = veth_pair_factory(queues=2)
    umem = make_umem(frame_count=64)
    with pytest.raises(xsk.QueueRangeError, match=r"queue 2 is out of range: .* has 2 RX and 2 TX queues"):
        xsk.Socket(umem, pair.a.ifname, queue=2, netns=pair.a.netns)
    with xsk.Socket(umem, pair.a.ifname, queue=1, netns=pair.a.netns) as sock:
        assert sock.queue == 1


def test_oversized_frame_is_refused_before_the_kernel_sees_it(veth_pair, make_umem):
    ua, ub = make_umem(frame_count=64), make_umem(frame_count=64)
    with xsk.Socket(ua, veth_pair.a.ifname, netns=veth_pair.a.netns, rx=False) as tx, \
         xsk.Socket(ub, veth_pair.b.ifname, netns=veth_pair.b.netns, tx=False):
        b = ua.take(2)
        b.lens[:] = [60, 2049]
        with pytest.raises(xsk.FrameTooLargeError, match="do not fit in a 2048-byte frame"):
            tx.send(b)
        assert len(b) == 2 and ua.accounting().user == 2  # nothing changed
        ua.release(b)


def test_umem_close_with_open_sockets_names_them(veth_pair, make_umem):
    umem = make_umem(frame_count=64)
    with xsk.Socket(umem, veth_pair.a.ifname, netns=veth_pair.a.netns), \
         pytest.raises(xsk.StillInUseError, match=f"close the sockets on this UMEM first: .*{veth_pair.a.ifname}"):
        umem.close()
    umem.close()


def test_socket_rebinds_right_after_close(veth_pair, make_umem):
    umem = make_umem(frame_count=256)
    for _ in range(5):  # the kernel's teardown is asynchronous; bind retries on EBUSY
        with xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns):
            assert umem.accounting().fill > 0
        assert umem.accounting().pool == 256


DROPPED = "-net_raw,-net_admin,-bpf,-sys_admin,-perfmon"


@pytest.mark.parametrize(("code", "capability"), [
    ("xsk.Socket(xsk.Umem(frame_count=64, hugepages='off'), 'lo', tx=False)", "CAP_NET_RAW"),
    ("xsk.Socket(xsk.Umem(frame_count=64, hugepages='off'), 'lo', rx=False)", "CAP_NET_RAW"),
    ("xsk.testing.VethPair().create()", "CAP_NET_ADMIN"),
])
def test_missing_privileges_are_named(code, capability):
    script = textwrap.dedent(f"""
        import xsk, xsk.testing
        try:
            {code}
        except xsk.PrivilegeError as exc:
            print("PrivilegeError:", exc)
    """)
    out = subprocess.run(["setpriv", f"--bounding-set={DROPPED}", "--inh-caps=-all", sys.executable, "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("PrivilegeError:") and capability in out.stdout, out.stdout + out.stderr


def test_close_after_the_namespace_name_is_gone(veth_pair, make_umem):
    """The socket holds its namespace by fd: closing still detaches everything."""
    from pyroute2 import netns as pyroute2_netns

    umem = make_umem(frame_count=64)
    sock = xsk.Socket(umem, veth_pair.b.ifname, netns=veth_pair.b.netns)
    pyroute2_netns.remove(veth_pair.b.netns)
    sock.close()
    assert sock.closed and umem.accounting().pool == 64


def test_custom_program_misuse_is_explained(veth_pair, make_umem, test_program, tmp_path):
    a, b = veth_pair.a, veth_pair.b
    umem = make_umem(frame_count=64)
    with pytest.raises(xsk.ConfigError, match=r"^path: no BPF object file"):
        xsk.CustomProgram(tmp_path / "missing.o", b.ifname, netns=b.netns)
    not_bpf = tmp_path / "not_bpf.o"
    not_bpf.write_bytes(b"hello")
    with pytest.raises(xsk.KernelError, match="loading the XDP program"):
        xsk.CustomProgram(not_bpf, b.ifname, netns=b.netns)
    with pytest.raises(xsk.ConfigError, match="has no map named nope"):
        xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns, xskmap="nope")
    with pytest.raises(xsk.ConfigError, match="xskmap_key= needs program="):
        xsk.Socket(umem, b.ifname, netns=b.netns, xskmap_key=1)
    with xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns) as prog:
        with pytest.raises(xsk.ResourceBusyError, match="not ours to replace"):
            xsk.CustomProgram(test_program("xdp_drop_half"), b.ifname, netns=b.netns)
        with pytest.raises(xsk.ConfigError, match="attached to another interface"):
            xsk.Socket(umem, a.ifname, netns=a.netns, program=prog)
        with pytest.raises(xsk.ConfigError, match="with program= your program steers"):
            xsk.Socket(umem, b.ifname, netns=b.netns, program=prog, filter="udp")
        sock = xsk.Socket(umem, b.ifname, netns=b.netns, program=prog)
        with pytest.raises(xsk.StillInUseError, match="close the sockets"):
            prog.close()
        sock.close()
    assert prog.closed
    with xsk.CustomProgram(test_program("xdp_meta"), b.ifname, netns=b.netns, xskmap=None) as bare, \
         pytest.raises(xsk.ConfigError, match="no XSKMAP"):
        xsk.Socket(umem, b.ifname, netns=b.netns, program=bare)
    assert umem.accounting().pool == 64


@pytest.mark.parametrize("tool", ["sink", "gen", "fwd", "capture", "replay", "veth", "custom-program"])
def test_tools_without_privileges_refuse_before_changing_anything(veth_pair, tmp_path, tool):
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    a, b = veth_pair.a, veth_pair.b
    pcap = tmp_path / "one.pcap"
    wrpcap(str(pcap), [Ether()])
    argv = {
        "sink": ["sink", b.ifname, "--netns", b.netns, "--count", "1"],
        "gen": ["gen", a.ifname, "--netns", a.netns, "--count", "1"],
        "fwd": ["fwd", b.ifname, "--netns", b.netns, "--duration", "1"],
        "capture": ["capture", b.ifname, "--netns", b.netns, "-w", str(tmp_path / "out.pcap"), "--count", "1"],
        "replay": ["replay", str(pcap), a.ifname, "--netns", a.netns],
        "veth": ["veth", "up", "privtest"],
    }.get(tool)
    if argv is None:
        code = [sys.executable, "-c", f"import xsk; xsk.CustomProgram(xsk._program.object_path(), {b.ifname!r}, "
                                       f"netns={b.netns!r})"]
    else:
        code = [sys.executable, "-m", "xsk.cli", *argv]
    out = subprocess.run(["setpriv", f"--bounding-set={DROPPED}", "--inh-caps=-all", *code],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    message = out.stderr.strip().splitlines()[-1]
    assert "needs CAP_" in message, out.stderr
    assert tool == "custom-program" or "Traceback" not in out.stderr  # the tools: one line, no traceback
    for end in (a, b):  # nothing attached, nothing made
        links = subprocess.run(["ip", "-n", end.netns, "-o", "link"], capture_output=True, text=True).stdout
        assert "prog/xdp" not in links
    assert not os.path.exists("/run/netns/privtest-a")


def test_a_socket_that_fails_to_join_a_shared_queue_leaves_it_as_it_was(veth_pair, make_umem, test_program):
    """The second socket of a queue fails after binding (its XSKMAP slot is out of range): the
    error says so, the kernel socket goes, and the queue's frames still come back at the end."""
    b = veth_pair.b
    umem = make_umem(frame_count=256)
    with xsk.CustomProgram(test_program("xdp_by_dst_mac"), b.ifname, netns=b.netns) as prog:
        with xsk.Socket(umem, b.ifname, netns=b.netns, tx=False, program=prog, xskmap_key=0) as first:
            with pytest.raises(xsk.KernelError, match="XSKMAP"):
                xsk.Socket(umem, b.ifname, netns=b.netns, tx=False, program=prog, xskmap_key=1 << 20)
            assert first._place.group.members == 1
            umem.verify()
        assert umem.accounting().pool == umem.frame_count
