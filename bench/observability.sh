#!/usr/bin/env bash
# What observability costs: the gateway's CPU per request with metrics and traces off versus
# on (spans exported over OTLP/HTTP to a local receiver that accepts and discards them), in
# the same run, interleaved.
#
#   bash bench/observability.sh             # prints a table, writes bench/last-observability.txt
#   BENCH_ROUNDS=2 BENCH_SKIP_BUILD=1 bash bench/observability.sh
#
# Layout (2 cores): both gateways on CPU0 (only the one under load is busy), the fake upstream
# (nginx), the load generator (oha) and the OTLP receiver (python3) on CPU1.
#   fake upstream  127.0.0.1:18081   (bench/lib.sh's fixed bodies)
#   gateway "off"  127.0.0.1:18083   SWITCHYARD_METRICS_ENABLED=false, no OTEL_* endpoint
#   gateway "on"   127.0.0.1:18084   metrics counted, every request traced (the default
#                                    parent-based always-on sampler), OTEL_EXPORTER_OTLP_ENDPOINT
#   receiver       127.0.0.1:18085   POST /v1/traces -> 200, body discarded
# Each round runs, for JSON and streaming, the two gateways one after the other (order
# rotated between rounds) at a fixed rate (BENCH_RATE req/s, open loop, BENCH_DURATION).
# CPU is the gateway process's on-CPU time (the sum of its threads' schedstat run time, in
# nanoseconds: /proc/<pid>/stat's ticks are too coarse for a 3% question). The report gives
# CPU per request for each and the ratio on/off per round and over all rounds.
# Knobs: BENCH_ROUNDS (3), BENCH_DURATION (8s), BENCH_RATE (1000), BENCH_CONC (50),
#   BENCH_WARMUP_N (5000), BENCH_WORK (/tmp/sy-obs), BENCH_SKIP_BUILD, BENCH_SUT_CPU (0),
#   BENCH_LOAD_CPU (1), BENCH_BIN (a gateway binary to measure instead of this work tree's
#   release build, e.g. one an earlier bench/instructions.sh run left in /tmp/sy-instr-bin),
#   BENCH_SAMPLER / BENCH_SAMPLER_ARG (the "on" gateway's
#   OTEL_TRACES_SAMPLER(_ARG); default parentbased_always_on: every request traced).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/sy-obs}
DUR=${BENCH_DURATION:-8s}
ROUNDS=${BENCH_ROUNDS:-3}
RATE=${BENCH_RATE:-1000}
CONC=${BENCH_CONC:-50}
WARMUP_N=${BENCH_WARMUP_N:-5000}
SUT_CPU=${BENCH_SUT_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
FAKE_PORT=18081
OFF_PORT=18083
ON_PORT=18084
RECV_PORT=18085
export PATH="$HOME/.cargo/bin:$PATH"
LOG_TAG=obs
source "$HERE/lib.sh"

cd "$ROOT"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${BENCH_SKIP_BUILD:-}" ] && [ -z "${BENCH_BIN:-}" ]; then
    log "cargo build --release (target dir $TARGET_DIR)"
    cargo build --release --quiet
fi
BIN=${BENCH_BIN:-"$TARGET_DIR/release/switchyard"}
[ -x "$BIN" ] || die "no binary at $BIN"
REV_DESC=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')
if [ -n "${BENCH_BIN:-}" ]; then REV_DESC="binary $BENCH_BIN"; fi

start_processes
ports_free $FAKE_PORT $OFF_PORT $ON_PORT $RECV_PORT
if [ -e "$WORK" ] && [ ! -e "$WORK/.switchyard-bench" ]; then
    die "$WORK exists and was not made by this script; set BENCH_WORK to a fresh path"
fi
rm -rf "$WORK"
mkdir -p "$WORK/fake" "$WORK/results"
touch "$WORK/.switchyard-bench"
for d in client_body proxy_temp fastcgi uwsgi scgi; do mkdir -p "$WORK/fake/$d"; done
chmod -R a+rwx "$WORK/fake"
{
    nginx_common "$WORK/fake"
    echo "http {"
    nginx_http_common "$WORK/fake"
    cat <<EOF
    server {
        listen 127.0.0.1:$FAKE_PORT backlog=4096;
        location = /json/v1/chat/completions { default_type application/json; return 200 '$JSON_BODY'; }
        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 '$SSE_BODY';
        }
        location = /msg/v1/messages { default_type text/event-stream; return 200 '$MSG_BODY'; }
        location / { return 404; }
    }
}
EOF
} >"$WORK/fake/nginx.conf"
taskset -c "$LOAD_CPU" nginx -p "$WORK/fake/" -e "$WORK/fake/error.log" -c "$WORK/fake/nginx.conf" &
PIDS+=($!)

# The OTLP receiver: accepts and discards (counts bodies and bytes, for the report).
cat >"$WORK/receiver.py" <<'EOF'
import http.server, sys, threading
stats = {"posts": 0, "bytes": 0}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        self.rfile.read(n)
        stats["posts"] += 1
        stats["bytes"] += n
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def do_GET(self):
        body = f'{stats["posts"]} {stats["bytes"]}'.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
taskset -c "$LOAD_CPU" python3 "$WORK/receiver.py" $RECV_PORT &
PIDS+=($!)

wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "$2 did not start listening on $1"
}
start_gateway() { # $1 = name, $2 = port, then VAR=value...
    local name=$1 port=$2
    shift 2
    env "$@" SWITCHYARD_LISTEN="127.0.0.1:$port" SWITCHYARD_DATABASE_URL="sqlite://$WORK/$name.db" \
        SWITCHYARD_LOG=warn taskset -c "$SUT_CPU" "$BIN" --config "$HERE/switchyard-bench.toml" serve \
        >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port" "gateway $name (see $WORK/$name.log)"
}
start_gateway off $OFF_PORT SWITCHYARD_METRICS_ENABLED=false
OFF_PID=${PIDS[-1]}
# BENCH_TRACES=0: the "on" gateway counts metrics but exports no traces (what metrics cost).
OTLP="http://127.0.0.1:$RECV_PORT"
[ "${BENCH_TRACES:-1}" = 0 ] && OTLP=
start_gateway on $ON_PORT SWITCHYARD_METRICS_ENABLED=true \
    OTEL_EXPORTER_OTLP_ENDPOINT="$OTLP" OTEL_SERVICE_NAME=switchyard-bench \
    OTEL_TRACES_SAMPLER="${BENCH_SAMPLER:-parentbased_always_on}" OTEL_TRACES_SAMPLER_ARG="${BENCH_SAMPLER_ARG:-1.0}"
ON_PID=${PIDS[-1]}
wait_port $FAKE_PORT "fake upstream"
wait_port $RECV_PORT "OTLP receiver"

REQ_JSON='{"model":"bench/fast","messages":[{"role":"user","content":"hi"}]}'
REQ_SSE='{"model":"bench/stream","messages":[{"role":"user","content":"hi"}],"stream":true}'
for port in $OFF_PORT $ON_PORT; do
    curl -sS -m 5 -H 'content-type: application/json' -d "$REQ_JSON" "http://127.0.0.1:$port/v1/chat/completions" |
        grep -q '"choices"' || die "gateway on $port: no chat answer"
done

cpu_ns() { # on-CPU nanoseconds of all threads of a pid
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}'
}
RECORDS="$WORK/results/records.tsv"
: >"$RECORDS"
TARGETS=(off on)
for round in $(seq 1 "$ROUNDS"); do
    for mode in json stream; do
        body=$REQ_JSON
        [ $mode = stream ] && body=$REQ_SSE
        for i in 0 1; do
            target=${TARGETS[$(((i + round - 1) % 2))]}
            if [ "$target" = off ]; then pid=$OFF_PID port=$OFF_PORT; else pid=$ON_PID port=$ON_PORT; fi
            url="http://127.0.0.1:$port/v1/chat/completions"
            if [ "$round" = 1 ]; then
                taskset -c "$LOAD_CPU" oha "${OHA_NOTUI[@]}" -m POST -H 'content-type: application/json' \
                    -d "$body" -c "$CONC" -n "$WARMUP_N" "$url" >/dev/null 2>&1 || true
                sleep 1
            fi
            log "round $round/$ROUNDS $mode / $target: ${RATE}/s for $DUR"
            out="$WORK/results/r$round-$mode-$target.json"
            c0=$(cpu_ns "$pid")
            taskset -c "$LOAD_CPU" oha "${OHA_NOTUI[@]}" "${OHA_JSON[@]}" -m POST \
                -H 'content-type: application/json' -d "$body" -c "$CONC" -q "$RATE" \
                --latency-correction -z "$DUR" "$url" >"$out" 2>"$out.err" || die "oha: $(cat "$out.err")"
            # The 'on' gateway's batch processor exports every 5 s: let it land in the phase.
            sleep 5.5
            c1=$(cpu_ns "$pid")
            printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$target" "$out" "$((c1 - c0))" >>"$RECORDS"
        done
    done
done
RECEIVED=$(curl -sS "http://127.0.0.1:$RECV_PORT/" || echo '? ?')

python3 - "$RECORDS" "$REV_DESC" "$RATE" "$DUR" "$ROUNDS" "$RECEIVED" <<'EOF' | tee "$HERE/last-observability.txt"
import json, statistics, sys
records, rev, rate, dur, rounds, received = sys.argv[1:7]
rows = {}
for line in open(records):
    rnd, mode, target, path, ns = line.rstrip("\n").split("\t")
    d = json.load(open(path))
    codes = {k: int(v) for k, v in (d.get("statusCodeDistribution") or {}).items()}
    ok = codes.get("200", 0)
    rows[(int(rnd), mode, target)] = (int(ns), ok, sum(codes.values()))
print(f"switchyard observability cost  rev {rev}  {rate} req/s open loop, {dur} x {rounds} rounds")
import os
print("off: SWITCHYARD_METRICS_ENABLED=false, no traces; on: metrics + traces to a local OTLP/HTTP receiver, "
      f"traces {'off' if os.environ.get('BENCH_TRACES') == '0' else 'on'}, sampler {os.environ.get('BENCH_SAMPLER', 'parentbased_always_on')} {os.environ.get('BENCH_SAMPLER_ARG', '')}")
posts, nbytes = (received.split() + ["?", "?"])[:2]
print(f"receiver got {posts} OTLP posts, {nbytes} bytes")
print(f"{'mode':8} {'round':>5} {'off us/req':>11} {'on us/req':>10} {'on/off':>7} {'ok off':>7} {'ok on':>7}")
for mode in ("json", "stream"):
    ratios, offs, ons = [], [], []
    tot = {"off": [0, 0], "on": [0, 0]}
    for rnd in range(1, int(rounds) + 1):
        a, b = rows.get((rnd, mode, "off")), rows.get((rnd, mode, "on"))
        if not a or not b or not a[1] or not b[1]:
            continue
        off, on = a[0] / a[1] / 1000, b[0] / b[1] / 1000
        offs.append(off); ons.append(on); ratios.append(on / off)
        for t, r in (("off", a), ("on", b)):
            tot[t][0] += r[0]; tot[t][1] += r[1]
        print(f"{mode:8} {rnd:>5} {off:>11.1f} {on:>10.1f} {on / off:>7.3f} {a[1]:>7} {b[1]:>7}")
    if ratios:
        off_all = tot["off"][0] / tot["off"][1] / 1000
        on_all = tot["on"][0] / tot["on"][1] / 1000
        print(f"{mode:8} {'all':>5} {off_all:>11.1f} {on_all:>10.1f} {on_all / off_all:>7.3f}"
              f"   (median of round ratios {statistics.median(ratios):.3f})")
EOF
