"""``xsk cluster run|check|local``: one traffic run across several hosts (``xsk.cluster``) from the shell.

``run PLAN --scheduler ADDR_OR_FILE`` starts the plan's run (``ClusterRun``), follows it (a live
table on a terminal, a line a second elsewhere, JSON lines with ``--json``), then prints the
joined per-stream table, the hosts lost with their streams and the clock note; ``--results DIR``
writes the files ``xsk report`` joins. ``check PLAN`` loads the plan and says what each host sends,
receives and what its loss would take, with no engine. ``local A B ...`` runs a scheduler and a
worker per host on this machine (``LocalHosts``) until Ctrl-C or SIGTERM. This module parses and
prints; the run, the plan and their text are ``xsk.cluster``'s (``xsk.cluster._text``).

Exit status of ``run``: 0 when every stream's received equals its sent and no host was lost; 1
when a host was lost or frames were lost (the one-line error says which), or the run failed; 2 on
bad input (a plan's mistake, a bad option); 130/143 after SIGINT/SIGTERM, which stop the run on
every host, the summary saying ``interrupted``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import common

PROG = "xsk cluster"
RUN_HELP = "run a plan's streams across the hosts of a Dask scheduler, with a live table, then the joined results"
CHECK_HELP = "load and check a plan with no engine: what each host sends and receives, what each host's loss takes"
LOCAL_HELP = ("start a scheduler and a worker per host on this machine (loopback only), to try a plan without a "
              "cluster; runs until Ctrl-C or SIGTERM")
EXIT_STATUS = ("exit status: 0 when every stream's received equals its sent and no host was lost; 1 when a host or "
               "frames were lost (the error says which) or the run failed; 2 on bad input; 130/143 after "
               "Ctrl-C/SIGTERM, which stop the run on every host")


def _results_dir(text: str | None) -> Path | None:
    """The --results directory, made now: a run is not thrown away for want of a place to write it."""
    if text is None:
        return None
    d = Path(text)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--results {d}: can't make the directory: {exc.strerror or exc}") from None
    return d


def _check_timeout(value: float | None) -> None:
    """--timeout, more than 0 (the library's own timeouts are not this option: no ``argument=``)."""
    if value is not None and not value > 0:
        raise ConfigError(f"--timeout: must be positive, got {value}")


def run(args: argparse.Namespace) -> int:
    from ..cluster import ClusterRun, Plan
    from ..cluster import _text as text

    common.check_positive("--count", args.count)
    common.check_positive("--duration", args.duration)
    _check_timeout(args.timeout)
    plan = Plan.load(args.plan)
    where = _results_dir(args.results)
    tty = sys.stdout.isatty() and not args.json
    with ClusterRun(plan, args.scheduler) as cluster:
        cluster.start(count=args.count, duration=args.duration)
        print(f"{PROG}: started on hosts {', '.join(plan.hosts())}", file=sys.stderr, flush=True)
        with common.ctrl_c_stops() as stop:
            if tty:
                from rich.console import Console

                results = cluster.live(console=Console(file=sys.stdout, force_terminal=True), timeout=args.timeout,
                                       stop=stop.is_set)
            else:
                results = cluster.follow(lambda snap: _line(snap, args.json), timeout=args.timeout, stop=stop.is_set)
        files = cluster.write_jsonl(where) if where is not None else None
    out: dict[str, Any] = {"test": "cluster", **results}
    if files is not None:
        out["files"] = [str(p) for p in files]
    status = common.interrupted(out, stop)
    if args.json:
        print(json.dumps(out), flush=True)
    else:
        print(text.results_table(results["streams"]))
        for line in text.lost_lines(results):
            print(line)
        print(text.clock_line(results))
        if files is not None:
            print(f"results: {' '.join(map(str, files))} (xsk report {' '.join(map(str, files))})")
        if "interrupted" in out:
            print(f"interrupted: {out['interrupted']}")
    problems = text.problems(results)
    if status or not problems:
        return status
    return common.fail(PROG, "; ".join(problems), common.EXIT_FAILURE)


def _line(snap: dict[str, Any], as_json: bool) -> None:
    """A second of the run: a JSON line, or tx/rx per stream in words."""
    if as_json:
        print(json.dumps({"t": round(float(snap["seconds"]), 3), "time": round(time.time(), 3),
                          "streams": snap["streams"], "lost_hosts": sorted(snap["lost_hosts"])}), flush=True)
        return
    cells = ", ".join(f"{name} {'-' if r['tx'] is None else format(r['tx'], ',')}/"
                      f"{'-' if r['rx'] is None else format(r['rx'], ',')}" for name, r in snap["streams"].items())
    lost = f"; hosts lost: {', '.join(snap['lost_hosts'])}" if snap["lost_hosts"] else ""
    print(f"{time.strftime('%H:%M:%S')} tx/rx {cells}{lost}", flush=True)


def check(args: argparse.Namespace) -> int:
    from ..cluster import Plan
    from ..cluster._text import plan_text

    print(plan_text(Plan.load(args.plan)))
    return common.EXIT_OK


def local(args: argparse.Namespace) -> int:
    from ..cluster import LocalHosts

    _check_timeout(args.timeout)
    hosts = LocalHosts(args.hosts, scheduler_file=args.scheduler_file, timeout=args.timeout)
    with hosts, common.ctrl_c_stops() as stop:
        address = hosts.scheduler_info().get("address")
        print(f"scheduler {address}\nscheduler file {hosts.address}\nhosts {', '.join(hosts.hosts)}: one worker "
              f"each\ntry: xsk cluster run PLAN --scheduler {hosts.address}\nCtrl-C or SIGTERM stops them",
              flush=True)
        said: set[str] = set()
        while not stop.wait(1.0):
            if hosts.scheduler is None or hosts.scheduler.poll() is not None:
                return common.fail(PROG, "the scheduler exited; the workers are stopped",
                                   common.EXIT_FAILURE)
            for h, p in hosts.workers.items():
                if h not in said and p.poll() is not None:
                    said.add(h)
                    print(f"{PROG}: host {h}'s worker exited (status {p.returncode}): a run sees it lost",
                          file=sys.stderr, flush=True)
    out: dict[str, Any] = {}
    status = common.interrupted(out, stop)
    print(f"interrupted: {out.get('interrupted')}; the scheduler and the workers of {', '.join(args.hosts)} "
          "are stopped", flush=True)
    return status


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="{run,check,local}",
                           parser_class=common.ArgumentParser)
    r = sub.add_parser("run", help=RUN_HELP, description=RUN_HELP, epilog=EXIT_STATUS)
    r.add_argument("plan", metavar="PLAN", help="the plan: TOML (a profile whose streams say from and to, "
                   "\"HOST:IFACE\", and [hosts.NAME] tables) or a Python file defining `plan`")
    r.add_argument("--scheduler", required=True, metavar="ADDR_OR_FILE",
                   help="the Dask scheduler: tcp://HOST:PORT or a scheduler file (what `xsk cluster local` prints)")
    r.add_argument("--count", type=int, help="packets each sending interface sends in all (the streams' own "
                   "counts end them earlier)")
    r.add_argument("--duration", type=float, help="seconds each sending interface sends")
    r.add_argument("--timeout", type=float, metavar="S", help="stop the run after S seconds, finished or not")
    r.add_argument("--results", metavar="DIR", help="write DIR/gen.jsonl and DIR/sink.jsonl (every host's streams "
                   "by name), which `xsk report DIR/gen.jsonl DIR/sink.jsonl` joins")
    r.add_argument("--json", action="store_true", help="JSON lines: one a second (per stream from, to, state, tx, "
                   "rx, tx - rx, hosts lost), then the results (per stream joined, the hosts lost, the clock note, "
                   "each endpoint's own results)")
    r.set_defaults(func=run)
    c = sub.add_parser("check", help=CHECK_HELP, description=CHECK_HELP)
    c.add_argument("plan", metavar="PLAN", help="the plan file (TOML or Python), as `xsk cluster run` takes it")
    c.set_defaults(func=check)
    loc = sub.add_parser("local", help=LOCAL_HELP, description=LOCAL_HELP)
    loc.add_argument("hosts", nargs="+", metavar="HOST", help="the hosts' names, as the plan's from/to give them")
    loc.add_argument("--scheduler-file", metavar="FILE", help="where the scheduler writes its address (it must not "
                     "exist; removed again on exit; default: a file in a scratch directory, printed)")
    loc.add_argument("--timeout", type=float, default=90.0, metavar="S",
                     help="seconds to wait for the scheduler and every worker to start (default 90)")
    loc.set_defaults(func=local)
