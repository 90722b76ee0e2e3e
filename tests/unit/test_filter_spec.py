"""Filter specs (``filter=``, ``--filter``): the bounds docs/security.md states, at their edges."""

import re
from pathlib import Path

import pytest

from xsk import _filter as xsk_filter
from xsk._binding import lib
from xsk._filter import Rule
from xsk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_at_most_16_rules_per_queue():
    """docs/security.md: at most 16 filter rules per queue. 16 rules are taken, from a spec or a
    list of Rule; 17 are refused with the limit and the count named. The XDP program's rule
    table holds the same 16 per queue: the limit is declared once, in the header the program
    includes, and Python reads it from there."""
    assert xsk_filter.parse(", ".join(f"udp:{port}" for port in range(1, 17))) == [
        Rule(ip_proto=17, dport_lo=port, dport_hi=port) for port in range(1, 17)]
    with pytest.raises(ConfigError, match=r"at most 16 filter rules, got 17$"):
        xsk_filter.parse(", ".join(f"udp:{port}" for port in range(1, 18)))
    rules = [Rule(ip_proto=6)] * 16
    assert xsk_filter.parse(rules) == rules
    with pytest.raises(ConfigError, match=r"at most 16 filter rules, got 17$"):
        xsk_filter.parse([*rules, Rule()])
    header = (ROOT / "xsk" / "_ffi" / "redirect.h").read_text()
    defined = re.search(r"#define XSK_MAX_RULES (\d+)", header)
    assert defined is not None and defined.group(1) == "16" == str(lib.XSK_MAX_RULES)
    program = (ROOT / "bpf" / "xsk_redirect.c").read_text()
    assert '#include "redirect.h"' in program and "#define XSK_MAX_RULES" not in program


@pytest.mark.parametrize("kind", ["udp", "tcp", "port"])
def test_ports_are_1_to_65535(kind):
    """docs/security.md: out-of-range ports are errors. Ports 1 and 65535 are taken, alone and
    as a range's ends; 0 and 65536 are refused, with the allowed range named."""
    for spec, lo, hi in ((f"{kind}:1", 1, 1), (f"{kind}:65535", 65535, 65535), (f"{kind}:1-65535", 1, 65535)):
        (rule,) = xsk_filter.parse(spec)
        assert (rule.dport_lo, rule.dport_hi) == (lo, hi)
    for spec in (f"{kind}:0", f"{kind}:65536", f"{kind}:0-80", f"{kind}:80-65536"):
        with pytest.raises(ConfigError, match=re.escape("bad port range in filter term") + ".*1 <= N <= M <= 65535"):
            xsk_filter.parse(spec)
