"""The traffic generator's parts, under ``xsk gen``, ``xsk sink`` and ``xsk replay``.

* ``packet``: a template frame and its varying fields, patched a batch at a time in C
  (``PacketPlan``), and the sequence payload (stream, counter, transmit time) it can carry.
* ``ranges``: value ranges of addresses, ports and MACs for the varying fields.
* ``template``: scapy packets from a template string, built from its syntax tree, never run.
* ``pacer``: rates (``100k``, ``2Gbit``) and sending on an absolute schedule.
* ``xdpgen``: the in-kernel engine (BPF_PROG_RUN with live frames).
* ``seqstats``: per-stream loss, duplicates, reordering, latency histograms and jitter of
  received sequence payloads.
* ``profile``: ``Stream`` and ``Profile``, the streams of a run as a user writes them (TOML
  or Python files).
* ``mix``: a profile's streams resolved into frames and scheduled frame by frame in C.
* ``sender``: the one send loop over a socket, and its sources: a profile's streams (``Mix``),
  a capture in a cycle or at its recorded timing.
* ``plan``: a ``xsk gen`` run planned from its options (packets, engine, rate), checked up front.
* ``generator`` / ``receiver``: ``Generator`` and ``Sink``, worker processes per queue that
  send a profile and count what arrives, per stream; the workers under ``xsk gen``/``xsk sink``,
  and ``xsk capture``'s loop (``receiver.record``).
* ``forwarder``: reflecting or forwarding frames in place, the loop under ``xsk fwd``.
"""

from .generator import Generator
from .pacer import Pacer, parse_rate
from .packet import SEQ_LEN, PacketPlan, layout, varying_fields
from .profile import IMIX, Profile, Stream
from .receiver import Sink
from .seqstats import LatencyHistogram, SeqStats
from .xdpgen import XdpGenerator

__all__ = ["IMIX", "SEQ_LEN", "Generator", "LatencyHistogram", "Pacer", "PacketPlan", "Profile", "SeqStats", "Sink",
           "Stream", "XdpGenerator", "layout", "parse_rate", "varying_fields"]
