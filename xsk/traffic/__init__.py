"""The traffic generator as a library: the parts under ``xsk gen``, ``xsk sink`` and ``xsk replay``.

Everything public is importable from here; the modules behind it, listed below by job, are
internal (``xsk.traffic._profile``...).

* ``_fields``: a template frame and its varying fields, patched a batch at a time in C
  (``PacketPlan``), and the sequence payload (stream, counter, transmit time) it can carry.
* ``_ranges``: value ranges of addresses, ports and MACs for the varying fields.
* ``_vary``: any field varied per packet, by scapy name or offset (``Vary``, ``locate``), and
  payload patterns.
* ``_template``: scapy packets from a template string, built from its syntax tree, never run.
* ``_pacer``: rates (``100k``, ``2Gbit``) and sending on an absolute schedule.
* ``_xdpgen``: the in-kernel engine (BPF_PROG_RUN with live frames).
* ``_seqstats``: per-stream loss, duplicates, reordering, latency histograms and jitter of
  received sequence payloads.
* ``_profile``: ``Stream`` and ``Profile``, the streams of a run as a user writes them (TOML
  or Python files).
* ``_mix``: a profile's streams resolved into frames and scheduled frame by frame in C.
* ``_pcapstream``: a capture's frames as a profile's stream (``Stream(pcap=...)``).
* ``_sender``: the one send loop over a socket, and its sources: a profile's streams (``Mix``),
  a capture in a cycle or at its recorded timing.
* ``_run_plan``: a ``xsk gen`` run planned from its options (packets, engine, rate), checked up front.
* ``_generator`` / ``_receiver``: ``Generator`` and ``Sink``, worker processes per queue that
  send a profile and count what arrives, per stream; the workers under ``xsk gen``/``xsk sink``,
  and ``xsk capture``'s loop (``receiver.record``).
* ``_rfc2544``: RFC 2544 throughput by binary search, latency, loss curve, back-to-back (``Rfc2544``).
* ``_join``: loss as sent minus received, per stream: a generator's results joined with a sink's.
* ``_control``: pause, resume, stop and new rates for a Generator's streams while they run.
* ``_flows``: counting streams without a sequence header by a match on their frames.
* ``_ports``: ``Port``, the interfaces of a run over several, and the queues each side uses.
* ``_session``: ``Session``, a Generator and a Sink run together, joined live and at the end.
* ``_forwarder``: reflecting or forwarding frames in place, the loop under ``xsk fwd``.
"""

from ._fields import SEQ_LEN, PacketPlan, layout, varying_fields
from ._generator import Generator
from ._join import StreamLoss, loss_per_stream
from ._pacer import Pacer, parse_rate
from ._ports import Port
from ._profile import IMIX, Profile, Stream
from ._receiver import Sink
from ._rfc2544 import Rfc2544
from ._seqstats import LatencyHistogram, SeqStats
from ._session import Session
from ._template import parse as parse_template
from ._vary import Location, Vary, locate
from ._xdpgen import XdpGenerator

__all__ = ["IMIX", "SEQ_LEN", "Generator", "LatencyHistogram", "Location", "Pacer", "PacketPlan", "Port", "Profile",
           "Rfc2544", "SeqStats", "Session", "Sink", "Stream", "StreamLoss", "Vary", "XdpGenerator", "layout", "locate",
           "loss_per_stream", "parse_rate", "parse_template", "varying_fields"]
