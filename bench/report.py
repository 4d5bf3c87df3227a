#!/usr/bin/env python3
"""Turn bench/run.sh's records (one oha JSON per phase + CPU ticks) into the result table.

usage: report.py RECORDS.tsv   (settings come from the environment run.sh sets)
"""
import datetime
import json
import os
import sqlite3
import sys

env = os.environ
CLK_TCK = int(env.get("CLK_TCK", "100"))
DEADLINE_MARKERS = ("deadline", "aborted")


def pct(sorted_vals, q):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return 0.0
    i = max(0, min(len(sorted_vals) - 1, int(round(q / 100 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[i]


def load_csv(path):
    """oha's per-request CSV (successful requests only): request-duration is latency-corrected,
    Response-delay is the time from sending to the first body byte (the first SSE event)."""
    dur, first, ok, bad, t_first, t_last = [], [], 0, 0, None, None
    with open(path) as f:
        header = f.readline().strip().split(",")
        i_start, i_first, i_dur, i_status = (header.index(c) for c in
                                             ("request-start", "Response-delay", "request-duration", "status"))
        for line in f:
            c = line.strip().split(",")
            if len(c) < len(header):
                continue
            st = float(c[i_start])
            t_first = st if t_first is None else min(t_first, st)
            t_last = st if t_last is None else max(t_last, st)
            if c[i_status].startswith("2"):
                ok += 1
                dur.append(float(c[i_dur]) * 1e3)
                first.append(float(c[i_first]) * 1e3)
            else:
                bad += 1
    dur.sort()
    first.sort()
    span = (t_last - t_first) if t_first is not None and t_last > t_first else 0
    return {"ok": ok, "completed": ok + bad, "failed": bad, "errors": {},
            "rps": ok / span if span else 0.0,
            "p50": pct(dur, 50), "p99": pct(dur, 99),
            "first_p50": pct(first, 50), "first_p99": pct(first, 99)}


def load(path):
    if path.endswith(".csv"):
        return load_csv(path)
    with open(path) as f:
        d = json.load(f)
    codes = {k: int(v) for k, v in (d.get("statusCodeDistribution") or {}).items()}
    errors = {k: int(v) for k, v in (d.get("errorDistribution") or {}).items()}
    ok = sum(v for k, v in codes.items() if k.startswith("2"))
    bad_status = sum(v for k, v in codes.items() if not k.startswith("2"))
    # oha cancels requests still in flight when -z runs out; those are not failures.
    deadline = sum(v for k, v in errors.items() if any(m in k.lower() for m in DEADLINE_MARKERS))
    other_err = sum(errors.values()) - deadline
    s = d["summary"]
    pct = d.get("latencyPercentiles") or {}
    total_time = float(s.get("total") or 0)
    return {
        "ok": ok,
        "completed": ok + bad_status,
        "failed": bad_status + other_err,
        "errors": {**{f"HTTP {k}": v for k, v in codes.items() if not k.startswith("2")},
                   **{k: v for k, v in errors.items()
                      if not any(m in k.lower() for m in DEADLINE_MARKERS)}},
        "rps": ok / total_time if total_time else float(s.get("requestsPerSec") or 0),
        "p50": float(pct.get("p50") or 0) * 1e3,
        "p99": float(pct.get("p99") or 0) * 1e3,
    }


import statistics

runs = {}  # (mode, target, phase) -> {round: result}
for line in open(sys.argv[1]):
    rnd, mode, target, phase, path, ticks, core_busy, core_total = line.rstrip("\n").split("\t")
    r = load(path)
    ticks, core_busy, core_total = int(ticks), int(core_busy), int(core_total)
    r["cpu_us"] = (ticks / CLK_TCK / r["completed"] * 1e6) if target != "direct" and r["completed"] else None
    # Busy time on the SUT's core not charged to the SUT process: other tenants, kernel work.
    r["other"] = max(0, core_busy - ticks) / core_total * 100 if core_total else None
    runs.setdefault((mode, target, phase), {})[int(rnd)] = r


def med(key, mode, target, phase):
    vals = [r[key] for r in runs.get((mode, target, phase), {}).values() if r[key] is not None]
    return statistics.median(vals) if vals else None


def paired(fn, mode, a, b, phase):
    """Median over rounds of fn(result of a, result of b) within the same round."""
    ra, rb = runs.get((mode, a, phase), {}), runs.get((mode, b, phase), {})
    vals = [fn(ra[k], rb[k]) for k in sorted(ra) if k in rb]
    vals = [v for v in vals if v is not None]
    return (statistics.median(vals) if vals else None), vals


def failed(mode, target, phase):
    return sum(r["failed"] for r in runs.get((mode, target, phase), {}).values())


ROUNDS = max((k for v in runs.values() for k in v), default=0)
MODES = [m for m in ("json", "stream", "messages") if any(k[0] == m for k in runs)]
TARGETS = ("direct", "nginx", "switchyard", "keyed")
out = []
p = out.append


def f(x, fmt="{:.3f}", none="-"):
    return none if x is None else fmt.format(x)


p(f"Switchyard bench  rev {env.get('GIT_REV', '?')}  {datetime.datetime.now():%Y-%m-%d %H:%M}  "
  f"proxy-under-test on CPU{env.get('SUT_CPU')}, oha + fake upstream on CPU{env.get('LOAD_CPU')}")
p(f"{ROUNDS} interleaved rounds, {env.get('DUR')} per phase; figures are medians over rounds, "
  "added latency and ratios are medians of same-round differences/ratios.")
p("CPU us/req: utime+stime delta of the process over the phase (+settle) / completed requests."
  f" other%: CPU{env.get('SUT_CPU')} busy with anything but the")
p("process under test (other tenants, kernel softirq) during the phase: high values mean a noisy phase.")
p("cap/s: 1e6 / CPU us/req, the rate one core could sustain at that CPU cost (robust to noise; the nginx")
p("proxy's measured req/s is often capped by the load generator's core, not its own).")
p("")
p(f"Open loop: {env.get('RATE')} req/s (oha -q, --latency-correction); latency in ms")
p(f"{'mode':<9}{'target':<12}{'p50':>8}{'p99':>8}{'+p50':>8}{'+p99':>8}{'CPU us/req':>12}{'other%':>8}{'failed':>8}")
for m in MODES:
    for t in TARGETS:
        if (m, t, "open") not in runs:
            continue
        add50 = add99 = None
        if t != "direct":
            add50, _ = paired(lambda x, d: x["p50"] - d["p50"], m, t, "direct", "open")
            add99, _ = paired(lambda x, d: x["p99"] - d["p99"], m, t, "direct", "open")
        p(f"{m:<9}{t:<12}{med('p50', m, t, 'open'):>8.3f}{med('p99', m, t, 'open'):>8.3f}"
          f"{f(add50, '{:+.3f}'):>8}{f(add99, '{:+.3f}'):>8}{f(med('cpu_us', m, t, 'open'), '{:.0f}'):>12}"
          f"{f(med('other', m, t, 'open'), '{:.0f}'):>8}{failed(m, t, 'open'):>8}")
if any("first_p50" in x for k, v in runs.items() if k[2] == "open" for x in v.values()):
    p("  stream first event (first body byte; from sending, not latency-corrected), ms:")
    for t in TARGETS:
        if ("stream", t, "open") not in runs:
            continue
        line = f"    {t:<11} p50 {med('first_p50', 'stream', t, 'open'):.3f}  p99 {med('first_p99', 'stream', t, 'open'):.3f}"
        if t != "direct":
            a50, _ = paired(lambda x, d: x["first_p50"] - d["first_p50"], "stream", t, "direct", "open")
            a99, _ = paired(lambda x, d: x["first_p99"] - d["first_p99"], "stream", t, "direct", "open")
            line += f"   added p50 {a50:+.3f}  p99 {a99:+.3f}"
        p(line)
p("")
p(f"Full load: {env.get('CONC')} connections")
p(f"{'mode':<9}{'target':<12}{'req/s':>9}{'xnginx':>8}{'xdirect':>8}{'p50 ms':>8}{'p99 ms':>8}"
  f"{'CPU us/req':>12}{'CPU xnginx':>11}{'cap/s':>8}{'other%':>8}{'failed':>8}")
for m in MODES:
    for t in TARGETS:
        if (m, t, "full") not in runs:
            continue
        ratio = lambda x, y: x["rps"] / y["rps"] if y["rps"] else None
        xn, _ = paired(ratio, m, t, "nginx", "full")
        xd, _ = paired(ratio, m, t, "direct", "full")
        cx = None
        if t != "direct":
            cx, _ = paired(lambda x, y: x["cpu_us"] / y["cpu_us"] if x["cpu_us"] and y["cpu_us"] else None,
                           m, t, "nginx", "full")
        p(f"{m:<9}{t:<12}{med('rps', m, t, 'full'):>9.0f}{f(xn, '{:.2f}'):>8}{f(xd, '{:.2f}'):>8}"
          f"{med('p50', m, t, 'full'):>8.3f}{med('p99', m, t, 'full'):>8.3f}"
          f"{f(med('cpu_us', m, t, 'full'), '{:.0f}'):>12}{f(cx, '{:.1f}x'):>11}"
          f"{f(1e6 / med('cpu_us', m, t, 'full') if med('cpu_us', m, t, 'full') else None, '{:.0f}'):>8}"
          f"{f(med('other', m, t, 'full'), '{:.0f}'):>8}{failed(m, t, 'full'):>8}")
for k, v in sorted(runs.items()):
    for rnd, r in sorted(v.items()):
        if r["errors"]:
            p(f"  failures round {rnd} {'/'.join(k)}: {r['errors']}")
p("")
p("Per round (switchyard): " + "; ".join(
    f"{m} +p99 " + "/".join(f"{x:+.2f}" for x in paired(lambda x, d: x["p99"] - d["p99"], m, "switchyard", "direct", "open")[1])
    + " ms, xnginx " + "/".join(f"{x:.2f}" for x in paired(lambda x, y: x["rps"] / y["rps"], m, "switchyard", "nginx", "full")[1])
    for m in MODES))
p("")
mb = lambda kb: int(kb) / 1024
idle, peak, end = mb(env["GW_IDLE_RSS_KB"]), mb(env["GW_PEAK_RSS_KB"]), mb(env["GW_END_RSS_KB"])
p(f"switchyard memory: idle RSS {idle:.1f} MB, peak RSS (VmHWM) {peak:.1f} MB, RSS after load {end:.1f} MB;"
  f" nginx proxy worker peak {mb(env['PROXY_PEAK_RSS_KB']):.1f} MB")

# Request log: did every gateway request get its row (written in background batches)?
try:
    db = sqlite3.connect(f"file:{env['DB']}?mode=ro", uri=True, timeout=5)
    total = db.execute("select count(*) from requests").fetchone()[0]
    by = db.execute("select streamed, outcome, usage_estimated, count(*) from requests "
                    "group by 1,2,3 order by 4 desc").fetchall()
    sent = sum(r["completed"] for (m, t, ph), v in runs.items() if t == "switchyard" for r in v.values())
    sent += len(MODES) * (int(env.get("WARMUP_N", "0")) + 1)  # a warm-up and a sanity check per mode
    p(f"request log: {total} rows in requests for {sent} requests the gateway answered "
      "(rows for requests oha cancelled at the deadline come on top); "
      "by (streamed, outcome, usage_estimated): " + ", ".join(f"({s},{o},{u})={c}" for s, o, u, c in by))
except Exception as e:  # noqa: BLE001 - report, don't fail the run
    p(f"request log: could not read {env.get('DB')}: {e}")
p("")


def verdict(ok):
    return "MET " if ok else "MISS"


aims = []
if ("json", "switchyard", "full") in runs:
    rps = med("rps", "json", "switchyard", "full")
    xn, _ = paired(lambda x, y: x["rps"] / y["rps"], "json", "switchyard", "nginx", "full")
    aims.append(f"[{verdict(rps >= 10000)}] JSON full load >= 10,000 req/s on one core: {rps:.0f} req/s"
                f" ({f(xn, '{:.2f}')}x the nginx proxy's {f(med('rps', 'json', 'nginx', 'full'), '{:.0f}')})")
if ("json", "switchyard", "open") in runs:
    a99, _ = paired(lambda x, d: x["p99"] - d["p99"], "json", "switchyard", "direct", "open")
    a50, _ = paired(lambda x, d: x["p50"] - d["p50"], "json", "switchyard", "direct", "open")
    n99, _ = paired(lambda x, d: x["p99"] - d["p99"], "json", "nginx", "direct", "open")
    aims.append(f"[{verdict(a99 <= 0.5)}] JSON added p99 at {env.get('RATE')} req/s <= 0.5 ms: {a99:+.3f} ms "
                f"(p50 {a50:+.3f} ms; nginx proxy's added p99 {f(n99, '{:+.3f}')} ms)")
if ("stream", "switchyard", "open") in runs:
    k50, k99 = ("first_p50", "first_p99") if "first_p50" in next(iter(runs[("stream", "switchyard", "open")].values())) \
        else ("p50", "p99")
    a50, _ = paired(lambda x, d: x[k50] - d[k50], "stream", "switchyard", "direct", "open")
    a99, _ = paired(lambda x, d: x[k99] - d[k99], "stream", "switchyard", "direct", "open")
    aims.append(f"[{verdict(a50 <= 0.3)}] stream first event <= 0.3 ms later than direct (p50, at {env.get('RATE')} req/s): "
                f"{a50:+.3f} ms (p99 {a99:+.3f} ms)")
aims.append(f"[{verdict(idle < 20)}] idle RSS < 20 MB: {idle:.1f} MB")
p("Aims")
for a in aims:
    p("  " + a)
noisy = [(k, max(x["other"] for x in v.values())) for k, v in sorted(runs.items())
         if k[1] != "direct" and max((x["other"] or 0) for x in v.values()) > 20]
if noisy:
    p(f"  WARNING: CPU{env.get('SUT_CPU')} was busy with other work during " + ", ".join(
        f"{'/'.join(k)} (up to {o:.0f}%)" for k, o in noisy[:6]) + (" ..." if len(noisy) > 6 else "")
      + ": latency tails and req/s are unreliable in this run; CPU us/req much less so. Rerun on a quiet machine.")
sc, nc = med("cpu_us", "json", "switchyard", "full"), med("cpu_us", "json", "nginx", "full")
so, no = med("cpu_us", "json", "switchyard", "open"), med("cpu_us", "json", "nginx", "open")
if sc and nc:
    p(f"  CPU per JSON request: switchyard {sc:.0f} us vs nginx proxy {nc:.0f} us at full load ({sc / nc:.1f}x),"
      f" {f(so, '{:.0f}')} vs {f(no, '{:.0f}')} us at {env.get('RATE')} req/s")
    p("  (issue's reference points on this machine: nginx ~45 us, best-known Rust gateway ~500 us)")
for m in MODES:
    kx, kv = paired(lambda x, y: x["cpu_us"] / y["cpu_us"] if x["cpu_us"] and y["cpu_us"] else None,
                    m, "keyed", "switchyard", "full")
    if kx:
        p(f"  {m}: a key with a budget, rpm, tpm and a concurrency cap costs {kx:.3f}x the CPU per request of no key"
          f" (per round: {', '.join(f'{v:.3f}' for v in kv)}; aim <= 1.10)")
p("")
p("Notes: the machine is shared and noisy; compare ratios within this run, not absolute numbers across runs.")
p("  Streaming p50/p99 in the tables are oha's full response times; the fake sends its whole SSE body")
p("  (7 events) in one write, so they are close to time to first event, measured directly above from oha's")
p("  per-request CSV (which lists successful requests only: 'failed' is 0 there by construction).")
p("  'failed' excludes requests oha cancelled at the -z deadline (the gateway logs those as cancelled).")
print("\n".join(out))
