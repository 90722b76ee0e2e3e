"""`xsk run`'s bad input: one line naming what to fix, exit status 2, before any interface is
touched (the runs themselves are in tests/kernel/test_run_command.py)."""

from __future__ import annotations

import pytest

from xsk.cli import main


def test_a_profile_mistake_is_one_line_naming_the_file_stream_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stream]]\nname = "x"\npacket = "Ether()/IP()/UDP()"\nrate = "fast"\n')
    assert main(["run", "tx0", "rx0", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xsk run: error: {bad}: stream 0 ('x'): rate: bad rate 'fast'")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_numbers_name_their_option(tmp_path, capsys):
    ok = tmp_path / "ok.toml"
    ok.write_text('[[stream]]\npacket = "Ether()/IP()/UDP()"\ncount = 10\n')
    assert main(["run", "tx0", "rx0", "--profile", str(ok), "--settle", "-1"]) == 2
    assert capsys.readouterr().err == "xsk run: error: --settle: must be positive, got -1.0\n"
    assert main(["run", "tx0", "rx0", "--profile", str(ok), "--duration", "0"]) == 2
    assert "--duration: must be positive" in capsys.readouterr().err


def test_the_profile_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "tx0", "rx0"])
    assert info.value.code == 2
    assert "--profile" in capsys.readouterr().err


def test_two_interfaces_or_ports_not_both_nor_neither(tmp_path, capsys):
    ok = tmp_path / "ok.toml"
    ok.write_text('[[stream]]\npacket = "Ether()/IP()/UDP()"\ncount = 10\n')
    assert main(["run", "tx0", "rx0", "--profile", str(ok), "--port", "a=tx0"]) == 2
    assert capsys.readouterr().err == "xsk run: error: give TX_IFACE RX_IFACE or --port (one per port), not both\n"
    assert main(["run", "--profile", str(ok)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xsk run: error: give TX_IFACE RX_IFACE (gen on one, sink on the other) or --port NAME=")
    assert err.count("\n") == 1
    assert main(["run", "tx0", "--profile", str(ok)]) == 2
    assert capsys.readouterr().err.startswith("xsk run: error: RX_IFACE missing")
    # the two-interface form's options: each --port says its own namespace and destination
    assert main(["run", "--profile", str(ok), "--port", "a=tx0", "--netns", "ns", "--dst-mac", "02:00:00:00:00:01"]) \
        == 2
    assert capsys.readouterr().err.startswith("xsk run: error: --netns, --dst-mac: with --port, each port gives")


def test_a_bad_port_is_one_line_naming_it(tmp_path, capsys):
    ok = tmp_path / "ok.toml"
    ok.write_text('[[stream]]\npacket = "Ether()/IP()/UDP()"\ncount = 10\n')
    assert main(["run", "--profile", str(ok), "--port", "a=tx0,rx=x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xsk run: error: --port: 'a=tx0,rx=x': rx=x: a queue or a range") and err.count("\n") == 1
