"""The driver's RX hints through AF_XDP (xsk._rxmeta) over veth, native mode: what veth gives
for frames that reach XDP as socket buffers (the kernel's flow hash, the accelerated VLAN tag,
a hardware timestamp of 0), nothing for frames another XDP program redirected in, and the
errors for what cannot work."""

from __future__ import annotations

import socket
import subprocess

import numpy as np
import pytest

import xsk
from xsk import _rxmeta as rxmeta
from xsk import netns
from xsk.errors import ConfigError

from .test_cli import XSK as XSK_CLI
from .test_cli import last_json, wait_attached
from .test_cli import xsk as xsk_cli


def _send_udp(a, b, sports, payload=b"hint"):
    with netns.entered(a.netns):
        for port in sports:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.bind((a.ip, port))
                c.sendto(payload, (b.ip, 9000))




def test_hash_and_timestamp_of_kernel_sent_datagrams(veth_pair):
    a, b = veth_pair.a, veth_pair.b
    with xsk.Umem(frame_count=256) as umem, \
            xsk.Socket(umem, b.ifname, netns=b.netns, filter="udp:9000", rx_metadata=("hash", "timestamp")) as sock:
        assert sock.xdp_mode == "native" and sock.rx_metadata == {"hash", "timestamp"}
        _send_udp(a, b, [1000, 1000, 1001, 1002])
        batch = sock.recv(8, timeout=2)
        assert len(batch) == 4
        m = batch.rx_metadata()
        assert m.has_hash.all() and m.has_timestamp.all() and not m.has_vlan.any()
        # veth's hash is the kernel's flow hash over the addresses and ports (L4)
        assert m.hash[0] == m.hash[1] and len({int(h) for h in m.hash[1:]}) == 3
        assert (m.hash_type == rxmeta.RSS_L4).all()
        assert (m.timestamp == 0).all()  # veth has no hardware clock: the skb's hwtstamp, 0
        assert isinstance(batch.rx_hash, np.ma.MaskedArray) and batch.rx_hash.tolist() == m.hash.tolist()
        assert batch.rx_vlan.mask.all()
        # the frames themselves are untouched: the hints lie before their data
        assert all(bytes(batch.data(i)).endswith(b"hint") for i in range(4))
        batch.release()
        assert umem.accounting().user == 0


def test_vlan_tag_the_kernel_took_out_of_the_frame(veth_pair, test_program):
    a, b = veth_pair.a, veth_pair.b
    # a static neighbour: the ARP request would be tagged too, and b has no VLAN device to answer it
    subprocess.run(["ip", "-n", a.netns, "neigh", "replace", b.ip, "lladdr", b.mac, "dev", a.ifname], check=True)
    subprocess.run(["ip", "netns", "exec", a.netns, "tc", "qdisc", "add", "dev", a.ifname, "clsact"], check=True)
    subprocess.run(["ip", "netns", "exec", a.netns, "tc", "filter", "add", "dev", a.ifname, "egress", "bpf", "da",
                    "obj", test_program("tc_vlan_push"), "sec", "tc"], check=True, capture_output=True)
    with xsk.Umem(frame_count=256) as umem, \
            xsk.Socket(umem, b.ifname, netns=b.netns, filter="udp:9000", rx_metadata=True) as sock:
        _send_udp(a, b, [1000, 1001])
        batch = sock.recv(8, timeout=2)
        assert len(batch) == 2
        m = batch.rx_metadata()
        assert m.has_vlan.all() and m.has_hash.all()
        assert (m.vlan_proto == 0x8100).all() and (m.vlan_id == 100).all() and (m.vlan_tci >> 13 == 5).all()
        assert batch.rx_vlan.tolist() == [100, 100]
        assert bytes(batch.data(0))[12:14] == b"\x08\x00"  # no 802.1Q header left in the data
        batch.release()


def test_frames_redirected_by_xdp_carry_no_hints(veth_pair):
    """gen --engine xdp transmits from an XDP program: the frames reach b as XDP frames, for
    which veth has no hash, timestamp or tag; every mask says so, nothing is made up."""
    a, b = veth_pair.a, veth_pair.b
    with xsk.Umem(frame_count=256) as umem, xsk.Socket(umem, b.ifname, netns=b.netns, rx_metadata=True) as sock:
        gen = xsk_cli("gen", a.ifname, "--netns", a.netns, "--dst-mac", b.mac, "--engine", "xdp", "--count", "8",
                      "--json")
        assert gen.returncode == 0, gen.stderr
        assert last_json(gen.stdout)["packets"] == 8
        batch = sock.recv(16, timeout=2)
        assert len(batch) == 8
        m = batch.rx_metadata()
        assert not (m.has_hash.any() or m.has_timestamp.any() or m.has_vlan.any())
        assert (m.hash == 0).all() and batch.rx_hash.mask.all()
        batch.release()


def test_what_cannot_work_is_refused_with_the_reason(veth_pair_factory):
    b = veth_pair_factory(queues=2).b
    with xsk.Umem(frame_count=256) as umem:
        with pytest.raises(ConfigError, match="runs in the driver: it needs xdp_mode='native'"):
            xsk.Socket(umem, b.ifname, netns=b.netns, xdp_mode="skb", rx_metadata=True)
        with pytest.raises(ConfigError, match="unknown 'mac': the hints are hash, timestamp, vlan"):
            xsk.Socket(umem, b.ifname, netns=b.netns, rx_metadata=("hash", "mac"))
        with pytest.raises(ConfigError, match="it needs rx=True"):
            xsk.Socket(umem, b.ifname, netns=b.netns, rx=False, rx_metadata=True)
        with xsk.Socket(umem, b.ifname, netns=b.netns) as plain:
            with pytest.raises(ConfigError, match="open them all with rx_metadata, or none"):
                xsk.Socket(umem, b.ifname, queue=1, netns=b.netns, rx_metadata=True)
            batch = umem.take(1)
            with pytest.raises(ConfigError, match="carry no RX metadata"):
                batch.rx_metadata()
            umem.release(batch)
            assert plain.rx_metadata == frozenset()
        assert umem.accounting().pool == umem.frame_count


def test_a_second_process_cannot_ask_for_hints_the_shared_program_lacks(veth_pair_factory):
    """One process per queue shares the interface's program: a plain one attached first, another
    process asking for hints gets an error naming it, not frames without them."""
    pair = veth_pair_factory(queues=2)
    b = pair.b
    holder = subprocess.Popen(["nsenter", f"--net=/run/netns/{b.netns}", *XSK_CLI, "sink", b.ifname, "--queue", "0",
                               "--duration", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_attached(b)
        busy = pytest.raises(xsk.errors.ResourceBusyError, match=r"without RX metadata, shared by .*sink")
        with xsk.Umem(frame_count=256) as umem, busy:
            xsk.Socket(umem, b.ifname, queue=1, netns=b.netns, rx_metadata=True)
    finally:
        holder.terminate()
        holder.wait(timeout=10)
