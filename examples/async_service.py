#!/usr/bin/env python3
"""An AF_XDP UDP service and an asyncio TCP control endpoint, in one process and one event loop.

    python examples/async_service.py IFACE [--netns NS] [--port 7007] [--control 7100] [--uvloop]

UDP to --port is steered to an AF_XDP socket and echoed by a Runner on the event loop
(checksums a local sender left to offload are finished, as in udp_echo.py). Everything else,
the control endpoint's TCP included, stays with the kernel. The control endpoint (TCP, on
the interface's address) takes one command per line and answers one JSON line:

    stats         what the service did so far and the UMEM's frame accounting
    port N        steer UDP port N to the service instead (the filter changes, no re-attach)
    quit          stop: the service finishes its batch, flushes TX, and the process exits

Prints a JSON line when listening and a summary at the end (also on SIGTERM or Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket

import xsk
from xsk import Runner, netns, replies
from xsk.link import ipv4_address


def echo(batch: xsk.Batch, h) -> object:  # h: xsk.headers.Headers, checksums verified
    answer = h.udp & ~h.l4_csum_bad
    replies.reflect(batch, h)
    replies.finish_partial_checksums(batch, h)
    return answer


class Service:
    """The socket, its Runner and the control endpoint; all on the loop that runs ``serve``."""

    def __init__(self, umem: xsk.Umem, sock: xsk.Socket, port: int) -> None:
        self.umem, self.sock, self.port = umem, sock, port
        self.runner = Runner(sock, echo, verify_checksums=True)
        self.clients: set[asyncio.StreamWriter] = set()  # open control connections, closed on the way out

    def stats(self) -> dict:
        s = self.runner.stats
        return {"port": self.port, "received": s.received, "echoed": s.replied, "returned": s.returned,
                "batches": s.batches, "accounting": self.umem.accounting()._asdict()}

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        try:
            while line := (await reader.readline()).decode().strip():
                words = line.split()
                if words == ["stats"]:
                    reply = self.stats()
                elif len(words) == 2 and words[0] == "port" and words[1].isdigit() and 0 < int(words[1]) < 65536:
                    self.sock.set_filter(f"udp:{words[1]}")
                    self.port = int(words[1])
                    reply = {"port": self.port}
                elif words == ["quit"]:
                    self.runner.stop()
                    reply = {"stopping": True}
                else:
                    reply = {"error": f"unknown command {line!r}: stats, port N or quit"}
                writer.write((json.dumps(reply) + "\n").encode())
                await writer.drain()
                if words == ["quit"]:
                    break
        except ConnectionError:
            pass  # the client went away; nothing to answer
        finally:
            self.clients.discard(writer)
            writer.close()

    def close_clients(self) -> None:
        """Close every open control connection: since Python 3.12, leaving ``async with server``
        waits for them (``Server.wait_closed``), so a client left connected would hold the exit."""
        for writer in list(self.clients):
            writer.close()


def _listening_socket(ns: str | None, address: str, port: int) -> socket.socket:
    """A TCP listening socket made inside the namespace (asyncio then serves it from here)."""
    with netns.entered(ns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        s.listen()
        s.setblocking(False)
    return s


async def main(args: argparse.Namespace) -> dict:
    with netns.entered(args.netns):
        address = ipv4_address(args.ifname) or "0.0.0.0"
    with xsk.Umem(frame_count=4096) as umem, \
         xsk.Socket(umem, args.ifname, netns=args.netns, filter=f"udp:{args.port}") as sock:
        service = Service(umem, sock, args.port)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.runner.stop)
        listening = _listening_socket(args.netns, address, args.control)
        server = await asyncio.start_server(service.control, sock=listening)
        print(json.dumps({"listening": args.port, "control": f"{address}:{args.control}",
                          "loop": type(loop).__module__.split(".")[0]}), flush=True)
        async with server:
            try:
                await service.runner.run_async()
            finally:
                server.close()  # no new control connections, then close the open ones
                service.close_clients()
        summary = service.stats()
    summary["accounting"] = umem.accounting()._asdict()  # after close: every frame in the pool
    return summary


def cli() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ifname")
    p.add_argument("--netns")
    p.add_argument("--port", type=int, default=7007)
    p.add_argument("--control", type=int, default=7100)
    p.add_argument("--uvloop", action="store_true", help="run on uvloop (pip install uvloop)")
    args = p.parse_args()
    if args.uvloop:
        import uvloop

        summary = uvloop.run(main(args))
    else:
        summary = asyncio.run(main(args))
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
