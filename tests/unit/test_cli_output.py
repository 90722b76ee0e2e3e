"""The command line's own printing: the live line a run prints once a second, and the per-stream
table a terminal gets. (Unit tests of xsk.cli's Reporter: no library module prints, and a run
that reaches these lines needs a live interface or a terminal.)"""

import io

from xsk.cli.common import Reporter


def test_the_live_line_names_kernel_counters_that_mean_loss_only():
    """An empty TX ring is how every paced send ends: the line stays quiet about it, and names
    what did lose frames."""
    for kernel, shown in (({"tx_ring_empty_descs": 19615, "rx_dropped": 0}, None),
                          ({"tx_ring_empty_descs": 5, "rx_ring_full": 3}, "'rx_ring_full': 3")):
        out = io.StringIO()
        r = Reporter(False, total=100, stream=out)
        r.tick(50, 5000, {"kernel": kernel})
        line = out.getvalue()
        assert "50 pkts" in line and "tx_ring_empty_descs" not in line
        assert (shown in line) if shown else ("kernel" not in line)


def test_a_terminal_gets_a_live_per_stream_table_and_a_pipe_plain_lines():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    per_stream = {"0": {"packets": 30, "lost": 1, "p50_us": 5.4, "p99_us": 100.2},
                  "1": {"packets": 20, "lost": 0, "p50_us": None, "p99_us": None}}
    tty, pipe = Terminal(), io.StringIO()
    for out in (tty, pipe):
        r = Reporter(False, total=100, stream=out)
        r.tick(50, 5000, {"per_stream": per_stream})
        r.finish()
    table = tty.getvalue()
    assert "stream" in table and "p99 us" in table and "100.2" in table and "│      1 │" in table
    assert "100.2" not in pipe.getvalue() and "50 pkts" in pipe.getvalue()
