"""The table of bench/instructions.sh: instructions per request of each run and kind, ratios
against the base run (the first revision; with INSTR_OBS, the same revision's "off" run of
the same repeat), medians over repeats, and, with INSTR_OBS, what observability's own
functions cost.

    instructions_report.py RUNS.tsv N CONC OBS LABEL...

RUNS.tsv lines: run ("index:mode:repeat"), kind, total Ir, callgrind dump.
"""

import re
import statistics
import subprocess
import sys

# Observability's entry points on a request's path, each kept out of line
# (`#[inline(never)]`) so that its inclusive cost is its own. None calls another, so their
# inclusive costs add up without counting anything twice. Left out, being too small or not
# separable: the task-local that carries an attempt's trace context across its polls, the
# flag telling the outermost middleware whether a request was admitted, and writing the
# upstream's extra header.
OWN = [
    "switchyard::telemetry::trace::RequestTrace::begin_with",
    "switchyard::telemetry::propagate::Incoming::from_headers",
    "switchyard::telemetry::trace::RequestTrace::attempt_started",
    "switchyard::telemetry::trace::RequestTrace::attempt_ended",
    "switchyard::telemetry::trace::RequestTrace::content",
    "switchyard::telemetry::trace::RequestTrace::finish",
    "switchyard::telemetry::propagate::inject",
    "switchyard::metrics::Metrics::admitted",
    "switchyard::metrics::Metrics::ended",
    "switchyard::metrics::Metrics::stream_started",
    "switchyard::metrics::Metrics::stream_ended",
    # The export task (the queue's copy into a request body, and the post).
    "switchyard::telemetry::otlp::run::{{closure}}",
]
# In the part that splits the total.
PARTS = {
    "encoding the spans (finish)": ["switchyard::telemetry::trace::RequestTrace::finish"],
    "metrics": [f for f in OWN if f.startswith("switchyard::metrics::")],
    "the export task": ["switchyard::telemetry::otlp::run::{{closure}}"],
}

LINE = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(?:[^:\s]*:)?(.+?)(?:\s+\[[^\]]*\])?\s*$")


def inclusive(dump):
    """Inclusive Ir of each function in a callgrind dump (across its threads)."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    costs = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if m:
            name = m.group(2).strip()
            # Closures and generic instances carry a hash suffix in some names.
            costs[name] = costs.get(name, 0) + int(m.group(1).replace(",", ""))
    return costs


def own(costs, names):
    return sum(costs.get(n, 0) for n in names)


def main():
    tsv, n, conc, obs, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    rows = []
    for line in open(tsv):
        run, kind, ir, dump = line.rstrip("\n").split("\t")
        index, mode, repeat = run.split(":")
        rows.append((int(index), mode, int(repeat), kind, int(ir), dump))
    kinds = list(dict.fromkeys(r[3] for r in rows))
    per = {(i, m, rep, k): ir / n for i, m, rep, k, ir, _ in rows}
    dumps = {(i, m, rep, k): d for i, m, rep, k, _, d in rows}
    runs = list(dict.fromkeys((i, m, rep) for i, m, rep, *_ in rows))

    def base(i, m, rep):
        return (i, "off", rep) if obs else (0, "", rep)

    print(f"instructions per request (callgrind, {n} requests per kind, {conc} connection(s))")
    if obs:
        print(
            "off: SWITCHYARD_METRICS_ENABLED=false, no traces; on: metrics + every request "
            "traced to a local OTLP/HTTP receiver; ratios on/off"
        )
    print(f"{'run':<24}" + "".join(f"{k:>22}" for k in kinds))
    ratios = {}
    for i, m, rep in runs:
        label = f"{labels[i]}{' ' + m if m else ''}{f' #{rep}' if len(set(r[2] for r in runs)) > 1 else ''}"
        cells = []
        for k in kinds:
            ratio = per[(i, m, rep, k)] / per[(*base(i, m, rep), k)]
            ratios.setdefault((i, m, k), []).append(ratio)
            cells.append(f"{per[(i, m, rep, k)]:>12,.0f} ({ratio:.3f})")
        print(f"{label:<24}" + "".join(f"{c:>22}" for c in cells))
    if len({r[2] for r in runs}) > 1:
        print("median ratio")
        for i, m in dict.fromkeys((i, m) for i, m, _ in runs):
            label = f"{labels[i]}{' ' + m if m else ''}"
            print(f"{label:<24}" + "".join(f"{statistics.median(ratios[(i, m, k)]):>22.3f}" for k in kinds))
    if not obs:
        return

    print()
    print("observability's own functions, inclusive instructions per request, on less off")
    print("(bench/instructions_report.py lists them), and as a share of the off run's total")
    shares = {}
    for i, m, rep in runs:
        if m != "on":
            continue
        parts = {k: {} for k in kinds}
        for k in kinds:
            on = inclusive(dumps[(i, "on", rep, k)])
            off = inclusive(dumps[(i, "off", rep, k)])
            total = (own(on, OWN) - own(off, OWN)) / n
            share = total / per[(i, "off", rep, k)]
            shares.setdefault((i, k), []).append(share)
            parts[k]["total"] = f"{total:,.0f} ({share:.1%})"
            for name, fns in PARTS.items():
                parts[k][name] = f"{(own(on, fns) - own(off, fns)) / n:,.0f}"
        tag = f"{labels[i]}{f' #{rep}' if len(set(r[2] for r in runs)) > 1 else ''}"
        print(f"{tag:<30}" + "".join(f"{k:>18}" for k in kinds))
        for row in ["total"] + list(PARTS):
            print(f"  {row:<28}" + "".join(f"{parts[k][row]:>18}" for k in kinds))
    if len({r[2] for r in runs}) > 1:
        for i in dict.fromkeys(i for i, _, _ in runs):
            print(
                f"{labels[i] + ' median share':<30}"
                + "".join(f"{statistics.median(shares[(i, k)]):>18.1%}" for k in kinds)
            )


if __name__ == "__main__":
    main()
