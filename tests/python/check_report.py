"""Checks a pair of a `crossdev-compare diff --json` report
(tests/scripts/test_torch_traces.sh, test_keras_traces.sh).

    python3 tests/python/check_report.py REPORT.json [--pair N] [--verdict V1,V2] [--first-step N]
        [--first-op NAME | --some-op] [--init-identical] [--mentions WORD] [--magnitudes]

--verdict: the pair's verdict is one of these (the verdict names of the
report's version: today's and issue 13's, see the test scripts);
--mentions: WORD appears in what the pair says (its note, or any text
field of issue 13's settings comparison); --magnitudes: per-tensor
differences are reported (max rel > 0 for some tensor at the first
divergent step or later).  Prints each check; exit 1 if one fails.
"""
import argparse
import json
import sys


def texts(v):
    """Every string in a JSON value (a pair's notes and settings, whatever their shape)."""
    if isinstance(v, str):
        yield v
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from texts(x)
    elif isinstance(v, list):
        for x in v:
            yield from texts(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--pair", type=int, default=0)
    ap.add_argument("--verdict")
    ap.add_argument("--first-step", type=int)
    ap.add_argument("--first-op")
    ap.add_argument("--some-op", action="store_true")
    ap.add_argument("--init-identical", action="store_true")
    ap.add_argument("--mentions")
    ap.add_argument("--magnitudes", action="store_true")
    a = ap.parse_args()
    with open(a.report) as f:
        p = json.load(f)["pairs"][a.pair]
    checks = []
    if a.verdict:
        checks.append((f"verdict {p['verdict']!r} in {a.verdict.split(',')}", p["verdict"] in a.verdict.split(",")))
    if a.first_step is not None:
        checks.append((f"first divergent step {p['first_divergent_step']} == {a.first_step}",
                       p["first_divergent_step"] == a.first_step))
    if a.first_op:
        checks.append((f"first divergent op {p['first_divergent_op']!r} == {a.first_op!r}",
                       p["first_divergent_op"] == a.first_op))
    if a.some_op:
        checks.append((f"first divergent op named ({p['first_divergent_op']!r})", bool(p["first_divergent_op"])))
    if a.init_identical:
        checks.append(("initial weights identical", p["init_identical"] is True))
    if a.mentions:
        said = [s for s in texts({k: v for k, v in p.items() if k != "tensors"}) if a.mentions in s]
        checks.append((f"{a.mentions!r} mentioned ({said[:1]})", bool(said)))
    if a.magnitudes:
        worst = max((t["max_rel"] or 0 for t in p["tensors"] if t["step"] >= max(p["first_divergent_step"], 1)),
                    default=0)
        checks.append((f"per-tensor magnitudes reported (worst max rel {worst:.3g})", worst > 0))
    bad = 0
    for what, ok in checks:
        print(("ok   " if ok else "FAIL ") + what)
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
