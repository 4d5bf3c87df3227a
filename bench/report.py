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


def load(path):
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


rows = {}
for line in open(sys.argv[1]):
    mode, target, phase, path, ticks = line.rstrip("\n").split("\t")
    r = load(path)
    r["cpu_us"] = (int(ticks) / CLK_TCK / r["completed"] * 1e6) if target != "direct" and r["completed"] else None
    rows[(mode, target, phase)] = r

MODES = [m for m in ("json", "stream") if any(k[0] == m for k in rows)]
TARGETS = ("direct", "nginx", "switchyard")
out = []
p = out.append


def f(x, fmt="{:.3f}", none="-"):
    return none if x is None else fmt.format(x)


p(f"Switchyard bench  rev {env.get('GIT_REV', '?')}  {datetime.datetime.now():%Y-%m-%d %H:%M}  "
  f"proxy-under-test on CPU{env.get('SUT_CPU')}, oha + fake upstream on CPU{env.get('LOAD_CPU')}")
p(f"switchyard: {env.get('GW_THREADS')} threads at idle; CPU/req = utime+stime delta over the phase "
  f"(incl. 1 s settle for request-log batches) / completed requests")
p("")
p(f"Open loop: {env.get('RATE')} req/s for {env.get('DUR')} (oha -q, --latency-correction); latency in ms")
p(f"{'mode':<7}{'target':<12}{'p50':>8}{'p99':>8}{'+p50':>8}{'+p99':>8}{'CPU us/req':>12}{'failed':>8}")
for m in MODES:
    d = rows.get((m, "direct", "open"))
    for t in TARGETS:
        r = rows.get((m, t, "open"))
        if not r:
            continue
        add50 = None if t == "direct" or not d else r["p50"] - d["p50"]
        add99 = None if t == "direct" or not d else r["p99"] - d["p99"]
        p(f"{m:<7}{t:<12}{r['p50']:>8.3f}{r['p99']:>8.3f}{f(add50, '{:+.3f}'):>8}{f(add99, '{:+.3f}'):>8}"
          f"{f(r['cpu_us'], '{:.0f}'):>12}{r['failed']:>8}")
p("")
p(f"Full load: {env.get('CONC')} connections for {env.get('DUR')}")
p(f"{'mode':<7}{'target':<12}{'req/s':>9}{'xnginx':>8}{'xdirect':>8}{'p50 ms':>8}{'p99 ms':>8}"
  f"{'CPU us/req':>12}{'CPU xnginx':>11}{'failed':>8}")
for m in MODES:
    d = rows.get((m, "direct", "full"))
    n = rows.get((m, "nginx", "full"))
    for t in TARGETS:
        r = rows.get((m, t, "full"))
        if not r:
            continue
        xn = r["rps"] / n["rps"] if n and n["rps"] else None
        xd = r["rps"] / d["rps"] if d and d["rps"] else None
        cx = r["cpu_us"] / n["cpu_us"] if n and n["cpu_us"] and r["cpu_us"] else None
        p(f"{m:<7}{t:<12}{r['rps']:>9.0f}{f(xn, '{:.2f}'):>8}{f(xd, '{:.2f}'):>8}{r['p50']:>8.3f}"
          f"{r['p99']:>8.3f}{f(r['cpu_us'], '{:.0f}'):>12}{f(cx, '{:.1f}x'):>11}{r['failed']:>8}")
for k, r in sorted(rows.items()):
    if r["errors"]:
        p(f"  failures {'/'.join(k)}: {r['errors']}")
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
    sent = sum(r["completed"] for (m, t, ph), r in rows.items() if t == "switchyard")
    sent += 2 * int(env.get("WARMUP_N", "0")) + 2  # two warm-ups and two sanity checks
    p(f"request log: {total} rows in requests for {sent} requests the gateway answered "
      "(rows for requests oha cancelled at the deadline come on top); "
      "by (streamed, outcome, usage_estimated): " + ", ".join(f"({s},{o},{u})={c}" for s, o, u, c in by))
except Exception as e:  # noqa: BLE001 - report, don't fail the run
    p(f"request log: could not read {env.get('DB')}: {e}")
p("")


def verdict(ok):
    return "MET " if ok else "MISS"


aims = []
jf = rows.get(("json", "switchyard", "full"))
jn = rows.get(("json", "nginx", "full"))
if jf:
    aims.append(f"[{verdict(jf['rps'] >= 10000)}] JSON full load >= 10,000 req/s on one core: {jf['rps']:.0f} req/s"
                + (f" ({jf['rps'] / jn['rps']:.2f}x the nginx proxy's {jn['rps']:.0f})" if jn else ""))
jo, jd = rows.get(("json", "switchyard", "open")), rows.get(("json", "direct", "open"))
if jo and jd:
    a = jo["p99"] - jd["p99"]
    aims.append(f"[{verdict(a <= 0.5)}] JSON added p99 at {env.get('RATE')} req/s <= 0.5 ms: {a:+.3f} ms "
                f"(p50 {jo['p50'] - jd['p50']:+.3f} ms)")
so, sd = rows.get(("stream", "switchyard", "open")), rows.get(("stream", "direct", "open"))
if so and sd:
    a50, a99 = so["p50"] - sd["p50"], so["p99"] - sd["p99"]
    aims.append(f"[{verdict(a50 <= 0.3)}] stream first event <= 0.3 ms later than direct (p50): {a50:+.3f} ms "
                f"(p99 {a99:+.3f} ms)")
aims.append(f"[{verdict(idle < 20)}] idle RSS < 20 MB: {idle:.1f} MB")
p("Aims")
for a in aims:
    p("  " + a)
if jf and jn and jf["cpu_us"] and jn["cpu_us"]:
    p(f"  CPU per JSON request at full load: switchyard {jf['cpu_us']:.0f} us vs nginx proxy {jn['cpu_us']:.0f} us "
      f"({jf['cpu_us'] / jn['cpu_us']:.1f}x); issue's reference points: nginx ~45 us, best-known Rust gateway ~500 us")
p("")
p("Notes: the machine is shared and noisy; compare ratios within this run, not absolute numbers across runs.")
p("  Streaming latency is oha's full response time: the fake sends its whole SSE body (7 events) in one write,")
p("  so full response time ~ time to first event. 'failed' excludes requests oha cancelled at the -z deadline.")
print("\n".join(out))
