"""Per-stream results as CSV: the generator's and the sink's rows under one header."""

import csv

import pytest

from xsk.errors import ConfigError
from xsk.traffic._csv import COLUMNS, rows, write

GEN = {"packets": 3000, "per_stream": {"voice": {"ids": [0], "packets": 1000, "bytes": 60000, "pps": 100.0,
                                                 "asked_pps": 100.0},
                                       "bulk": {"ids": [1, 3], "packets": 2000, "bytes": 3000000, "pps": None,
                                                "asked_pps": None}}}
SINK = {"packets": 1010, "interrupted": "SIGTERM",
        "per_stream": {"0": {"name": "voice", "packets": 1000, "bytes": 60000, "pps": 100.0, "lost": 2,
                             "duplicates": 0, "reordered": 1, "too_late": 0, "jitter_us": 1.5,
                             "latency_us": {"min": 1.0, "mean": 2.0, "p50": 2.0, "p90": 3.0, "p99": 4.0,
                                            "p99.9": 5.0, "max": 6.0}}},
        "unsequenced": {"packets": 10, "bytes": 600}}


def test_gen_and_sink_rows_share_one_header(tmp_path):
    path = write(tmp_path / "run.csv", rows(GEN, "gen.jsonl") + rows(SINK, "sink.jsonl"))
    with path.open() as f:
        reader = csv.DictReader(f)
        got = list(reader)
    assert tuple(reader.fieldnames or ()) == COLUMNS
    voice, bulk, received, unsequenced = got
    assert (voice["side"], voice["stream"], voice["ids"], voice["asked_pps"], voice["mbit_s"]) == (
        "gen", "voice", "0", "100.0", "0.048")
    assert bulk["ids"] == "1 3" and bulk["pps"] == "" and bulk["lost"] == ""
    assert (received["side"], received["name"], received["lost"], received["latency_p99.9_us"],
            received["interrupted"]) == ("sink", "voice", "2", "5.0", "SIGTERM")
    assert (unsequenced["stream"], unsequenced["packets"], unsequenced["bytes"]) == ("unsequenced", "10", "600")


def test_an_unwritable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="can't write it"):
        write(tmp_path / "no" / "such" / "dir.csv", [])
