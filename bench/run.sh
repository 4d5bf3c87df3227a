#!/usr/bin/env bash
# Switchyard benchmark: the gateway in front of a fast fake OpenAI upstream, compared in the
# same run with that upstream directly and with a plain nginx reverse proxy in front of it.
#
#   bash bench/run.sh                      # from anywhere; prints a table, writes bench/last-results.txt
#   CARGO_TARGET_DIR=/tmp/x bash bench/run.sh
#
# Layout (2 cores): the proxy under test (switchyard, or the nginx proxy) runs alone on CPU0;
# the load generator (oha) and the fake upstream (nginx) share CPU1.
#   fake upstream  127.0.0.1:18081  /json/v1/chat/completions -> fixed chat.completion JSON
#                                   /sse/v1/chat/completions  -> fixed SSE stream
#   nginx proxy    127.0.0.1:18082  proxy_pass to the fake, upstream keep-alive
#   switchyard     127.0.0.1:18080  bench/switchyard-bench.toml (bench/fast, bench/stream)
# For each of JSON and streaming, against each of direct / nginx / switchyard:
#   open loop at BENCH_RATE req/s (latency-corrected) and full load at BENCH_CONC connections.
# Targets are interleaved and the whole sequence repeated BENCH_ROUNDS times; the report gives
# medians over rounds (the machine is shared and noisy), plus how busy the SUT's core was with
# other work during each phase.
# Knobs (environment): BENCH_ROUNDS (3), BENCH_DURATION (4s per phase and round),
#   BENCH_RATE (1000), BENCH_CONC (50), BENCH_SETTLE (0.5 s after each phase),
#   BENCH_OPEN_CONC (connections for the open-loop phase, 50), BENCH_WORK (/tmp/sy-bench),
#   BENCH_WARMUP_N (5000 requests before each target), BENCH_SUT_CPU (0), BENCH_LOAD_CPU (1),
#   BENCH_REV (build this git commit from a clean export instead of the work tree),
#   BENCH_SKIP_BUILD (set to skip cargo build), BENCH_PERF (set: also profile the gateway with
#   perf and write bench/last-profile.txt).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
WORK=${BENCH_WORK:-/tmp/sy-bench}
DUR=${BENCH_DURATION:-4s}
ROUNDS=${BENCH_ROUNDS:-3}
SETTLE=${BENCH_SETTLE:-0.5}
RATE=${BENCH_RATE:-1000}
CONC=${BENCH_CONC:-50}
OPEN_CONC=${BENCH_OPEN_CONC:-50}
WARMUP_N=${BENCH_WARMUP_N:-5000}
SUT_CPU=${BENCH_SUT_CPU:-0}
LOAD_CPU=${BENCH_LOAD_CPU:-1}
GW_PORT=18080
FAKE_PORT=18081
PROXY_PORT=18082
export PATH="$HOME/.cargo/bin:$PATH"

source "$HERE/lib.sh"

[ "$(nproc --all)" -ge 2 ] || log "warning: fewer than 2 CPUs; pinning will overlap"

# ------------------------------------------------------------------ build
# BENCH_REV=<git rev> builds that commit from a clean export (git archive) instead of the work
# tree, so that edits in progress do not end up in (or break) the measured binary.
SRC=$ROOT
REV_DESC=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')
if [ -n "${BENCH_REV:-}" ]; then
    rev=$(git -C "$ROOT" rev-parse --short "$BENCH_REV^{commit}") || die "unknown BENCH_REV $BENCH_REV"
    SRC="$WORK-src-$rev"
    if [ ! -f "$SRC/Cargo.toml" ]; then
        log "exporting $rev to $SRC"
        rm -rf "$SRC" && mkdir -p "$SRC"
        git -C "$ROOT" archive "$rev" | tar -x -C "$SRC"
    fi
    REV_DESC=$rev
fi
cd "$SRC"
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then
    log "cargo build --release (target dir $TARGET_DIR)"
    cargo build --release --quiet
fi
BIN="$TARGET_DIR/release/switchyard"
[ -x "$BIN" ] || die "no binary at $BIN"

# ------------------------------------------------------------------ processes
start_processes
ports_free $GW_PORT $FAKE_PORT $PROXY_PORT

if [ -e "$WORK" ] && [ ! -e "$WORK/.switchyard-bench" ]; then
    die "$WORK exists and was not made by this script; set BENCH_WORK to a fresh path"
fi
rm -rf "$WORK"
mkdir -p "$WORK"
touch "$WORK/.switchyard-bench"
mkdir -p "$WORK/fake" "$WORK/proxy" "$WORK/results"
for d in fake proxy; do
    mkdir -p "$WORK/$d/client_body" "$WORK/$d/proxy_temp" "$WORK/$d/fastcgi" "$WORK/$d/uwsgi" "$WORK/$d/scgi"
done
chmod -R a+rwx "$WORK/fake" "$WORK/proxy"

{
    nginx_common "$WORK/fake"
    echo "http {"
    nginx_http_common "$WORK/fake"
    cat <<EOF
    server {
        listen 127.0.0.1:$FAKE_PORT backlog=4096;
        location = /json/v1/chat/completions {
            default_type application/json;
            return 200 '$JSON_BODY';
        }
        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 '$SSE_BODY';
        }
        location = /msg/v1/messages {
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 '$MSG_BODY';
        }
        location / { return 404 '{"error":{"message":"fake: no such path"}}'; }
    }
}
EOF
} >"$WORK/fake/nginx.conf"

{
    nginx_common "$WORK/proxy"
    echo "http {"
    nginx_http_common "$WORK/proxy"
    cat <<EOF
    upstream fake {
        server 127.0.0.1:$FAKE_PORT;
        keepalive 128;
        keepalive_requests 10000000;
    }
    server {
        listen 127.0.0.1:$PROXY_PORT backlog=4096;
        location / {
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
EOF
} >"$WORK/proxy/nginx.conf"

start_nginx() { # $1 = instance, $2 = cpu
    taskset -c "$2" nginx -p "$WORK/$1/" -e "$WORK/$1/error.log" -c "$WORK/$1/nginx.conf" &
    PIDS+=($!)
}
wait_port() { # $1 = port, $2 = what
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    die "$2 did not start listening on $1"
}
worker_of() { # nginx master pid -> its (single) worker pid
    local w
    for _ in $(seq 1 100); do
        w=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')
        [ -n "$w" ] && { echo "$w"; return 0; }
        sleep 0.05
    done
    die "no worker under nginx master $1"
}

start_nginx fake "$LOAD_CPU"
FAKE_MASTER=${PIDS[-1]}
start_nginx proxy "$SUT_CPU"
PROXY_MASTER=${PIDS[-1]}
wait_port $FAKE_PORT "fake upstream"
wait_port $PROXY_PORT "nginx proxy"
PROXY_WORKER=$(worker_of "$PROXY_MASTER")

# A key with a budget, rate limits and a concurrency cap far above what the load reaches:
# the "keyed" target measures what admission through the ledger costs per request.
# (A binary from before keys had limits cannot make one: the keyed target is then left out.)
TARGETS=(direct nginx switchyard keyed)
BENCH_KEY=$(SWITCHYARD_DATABASE_URL="sqlite://$WORK/bench.db" SWITCHYARD_LOG=warn \
    "$BIN" --config "$HERE/switchyard-bench.toml" keys create --name bench-limited \
    --budget-usd 1000000 --budget-reset monthly --rpm 1000000000 --tpm 1000000000000 \
    --max-concurrency 100000 2>/dev/null) || { log "this binary cannot make a limited key: no keyed target"; TARGETS=(direct nginx switchyard); }
SWITCHYARD_LISTEN="127.0.0.1:$GW_PORT" \
SWITCHYARD_DATABASE_URL="sqlite://$WORK/bench.db" \
SWITCHYARD_LOG=warn \
    taskset -c "$SUT_CPU" "$BIN" --config "$HERE/switchyard-bench.toml" serve \
    >"$WORK/switchyard.log" 2>&1 &
GW_PID=$!
PIDS+=("$GW_PID")
wait_port $GW_PORT "switchyard (see $WORK/switchyard.log)"
sleep 2
GW_IDLE_RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
GW_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$GW_PID/status")
log "switchyard pid $GW_PID: idle RSS ${GW_IDLE_RSS_KB} kB, $GW_THREADS threads; nginx proxy worker $PROXY_WORKER"

# ------------------------------------------------------------------ sanity checks
REQ_JSON='{"model":"bench/fast","messages":[{"role":"user","content":"hi"}]}'
REQ_SSE='{"model":"bench/stream","messages":[{"role":"user","content":"hi"}],"stream":true}'
URL_DIRECT_JSON="http://127.0.0.1:$FAKE_PORT/json/v1/chat/completions"
URL_DIRECT_SSE="http://127.0.0.1:$FAKE_PORT/sse/v1/chat/completions"
URL_PROXY_JSON="http://127.0.0.1:$PROXY_PORT/json/v1/chat/completions"
URL_PROXY_SSE="http://127.0.0.1:$PROXY_PORT/sse/v1/chat/completions"
URL_GW="http://127.0.0.1:$GW_PORT/v1/chat/completions"
# Anthropic Messages passed through to an anthropic-kind provider (a binary without the
# Messages door answers 404 there: the mode is then left out).
REQ_MSG='{"model":"bench/claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
URL_DIRECT_MSG="http://127.0.0.1:$FAKE_PORT/msg/v1/messages"
URL_PROXY_MSG="http://127.0.0.1:$PROXY_PORT/msg/v1/messages"
URL_GW_MSG="http://127.0.0.1:$GW_PORT/v1/messages"

check() { # $1 = what, $2 = url, $3 = body, $4 = must-contain...
    local out
    out=$(curl -sS -m 5 -H 'content-type: application/json' -d "$3" "$2") || die "$1: curl failed"
    shift 3
    for want in "$@"; do
        case "$out" in *"$want"*) ;; *) die "$1: response lacks '$want': $out" ;; esac
    done
}
check "fake json" "$URL_DIRECT_JSON" "$REQ_JSON" '"chat.completion"'
check "fake sse" "$URL_DIRECT_SSE" "$REQ_SSE" 'data: [DONE]'
check "proxy json" "$URL_PROXY_JSON" "$REQ_JSON" '"chat.completion"'
check "proxy sse" "$URL_PROXY_SSE" "$REQ_SSE" 'data: [DONE]'
check "switchyard json" "$URL_GW" "$REQ_JSON" '"model":"bench/fast"' '"provider"' '"choices"'
check "switchyard sse" "$URL_GW" "$REQ_SSE" '"content":"Hello"' 'finish_reason":"stop"' 'data: [DONE]'
if [ ${#TARGETS[@]} = 4 ]; then
    curl -sS -m 5 -D - -o /dev/null -H "authorization: Bearer $BENCH_KEY" -H 'content-type: application/json' \
        -d "$REQ_JSON" "$URL_GW" | grep -qi '^x-ratelimit-limit-requests' || die "keyed: no rate-limit headers"
fi
MODES=(json stream)
if curl -sS -m 5 -H 'content-type: application/json' -d "$REQ_MSG" "$URL_GW_MSG" | grep -q 'event: message_stop'; then
    check "proxy messages" "$URL_PROXY_MSG" "$REQ_MSG" 'event: message_stop'
    MODES+=(messages)
else
    log "this binary has no Messages passthrough: no messages mode"
fi
log "sanity checks passed (gateway JSON, SSE and ${#MODES[@]} modes through the fake)"

# ------------------------------------------------------------------ load
cpu_ticks() { # utime+stime of a pid (all its threads)
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
core_ticks() { # "busy total" ticks of one CPU from /proc/stat (busy includes steal)
    awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat
}
RECORDS="$WORK/results/records.tsv"
: >"$RECORDS"

# run_phase ROUND MODE TARGET PHASE URL BODY PID_OR_- oha-args...
# Records the oha JSON, the process's CPU ticks and the SUT core's busy/total ticks.
run_phase() {
    local round=$1 mode=$2 target=$3 phase=$4 url=$5 body=$6 pid=$7
    shift 7
    # Streaming at a fixed rate: per-request CSV, whose Response-delay column is the time to the
    # first body byte, i.e. the first SSE event; everything else: oha's JSON summary.
    local fmt=("${OHA_JSON[@]}") ext=json
    if [ "$mode/$phase" = stream/open ] && [ -n "$OHA_CSV" ]; then fmt=(--output-format csv) ext=csv; fi
    local out="$WORK/results/r$round-$mode-$target-$phase.$ext" t0=0 t1=0 c0 c1
    [ "$pid" != - ] && t0=$(cpu_ticks "$pid")
    c0=$(core_ticks "$SUT_CPU")
    taskset -c "$LOAD_CPU" oha "${OHA_NOTUI[@]}" "${fmt[@]}" -m POST \
        -H 'content-type: application/json' -d "$body" "$@" "$url" >"$out" 2>"$out.err" ||
        die "oha failed for $mode/$target/$phase: $(cat "$out.err")"
    sleep "$SETTLE" # let the gateway's background request-log batches land inside this phase
    [ "$pid" != - ] && t1=$(cpu_ticks "$pid")
    c1=$(core_ticks "$SUT_CPU")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$target" "$phase" "$out" \
        "$((t1 - t0))" "$(($(echo "$c1" | cut -d' ' -f1) - $(echo "$c0" | cut -d' ' -f1)))" \
        "$(($(echo "$c1" | cut -d' ' -f2) - $(echo "$c0" | cut -d' ' -f2)))" >>"$RECORDS"
}

# Targets are interleaved within each round (and their order rotated between rounds), so that
# the machine's background noise hits all three alike; the report takes medians over rounds.
NT=${#TARGETS[@]}
for round in $(seq 1 "$ROUNDS"); do
    for mode in "${MODES[@]}"; do
        for i in $(seq 0 $((NT - 1))); do
            target=${TARGETS[$(((i + round - 1) % NT))]}
            auth=()
            case "$mode/$target" in
                json/direct) url=$URL_DIRECT_JSON body=$REQ_JSON pid=- ;;
                json/nginx) url=$URL_PROXY_JSON body=$REQ_JSON pid=$PROXY_WORKER ;;
                json/switchyard) url=$URL_GW body=$REQ_JSON pid=$GW_PID ;;
                stream/direct) url=$URL_DIRECT_SSE body=$REQ_SSE pid=- ;;
                stream/nginx) url=$URL_PROXY_SSE body=$REQ_SSE pid=$PROXY_WORKER ;;
                stream/switchyard) url=$URL_GW body=$REQ_SSE pid=$GW_PID ;;
                messages/direct) url=$URL_DIRECT_MSG body=$REQ_MSG pid=- ;;
                messages/nginx) url=$URL_PROXY_MSG body=$REQ_MSG pid=$PROXY_WORKER ;;
                messages/switchyard) url=$URL_GW_MSG body=$REQ_MSG pid=$GW_PID ;;
                messages/keyed) url=$URL_GW_MSG body=$REQ_MSG pid=$GW_PID auth=(-H "authorization: Bearer $BENCH_KEY") ;;
                json/keyed) url=$URL_GW body=$REQ_JSON pid=$GW_PID auth=(-H "authorization: Bearer $BENCH_KEY") ;;
                stream/keyed) url=$URL_GW body=$REQ_SSE pid=$GW_PID auth=(-H "authorization: Bearer $BENCH_KEY") ;;
            esac
            log "round $round/$ROUNDS $mode / $target: open loop ${RATE}/s for $DUR, full load c=$CONC for $DUR"
            if [ "$round" = 1 ]; then # warm-up: connections, allocator, caches
                taskset -c "$LOAD_CPU" oha "${OHA_NOTUI[@]}" -m POST -H 'content-type: application/json' \
                    "${auth[@]}" -d "$body" -c "$CONC" -n "$WARMUP_N" "$url" >/dev/null 2>&1 || true
            fi
            run_phase "$round" "$mode" "$target" open "$url" "$body" "$pid" \
                "${auth[@]}" -c "$OPEN_CONC" -q "$RATE" --latency-correction -z "$DUR"
            run_phase "$round" "$mode" "$target" full "$url" "$body" "$pid" "${auth[@]}" -c "$CONC" -z "$DUR"
        done
    done
done

GW_PEAK_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$GW_PID/status")
GW_END_RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$GW_PID/status")
PROXY_PEAK_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$PROXY_WORKER/status")
sleep 1

# ------------------------------------------------------------------ report
GW_IDLE_RSS_KB=$GW_IDLE_RSS_KB GW_PEAK_RSS_KB=$GW_PEAK_RSS_KB GW_END_RSS_KB=$GW_END_RSS_KB \
PROXY_PEAK_RSS_KB=$PROXY_PEAK_RSS_KB CLK_TCK=$(getconf CLK_TCK) DB="$WORK/bench.db" \
ROUNDS=$ROUNDS WARMUP_N=$WARMUP_N RATE=$RATE CONC=$CONC DUR=$DUR SUT_CPU=$SUT_CPU LOAD_CPU=$LOAD_CPU GW_THREADS=$GW_THREADS \
GIT_REV="$REV_DESC${BENCH_SKIP_BUILD:+ (prebuilt binary)}" \
    python3 "$HERE/report.py" "$RECORDS" | tee "$HERE/last-results.txt"

# Optional: where does the gateway's CPU go? (BENCH_PERF=1; needs perf, e.g. Debian's linux-perf)
PROFILE_OUT="$HERE/last-profile.txt"
if [ -n "${BENCH_PERF:-}" ]; then
    command -v perf >/dev/null 2>&1 || apt_install linux-perf
    echo "switchyard profile  rev $REV_DESC  $(date '+%Y-%m-%d %H:%M')  (perf cpu-clock samples of the gateway process, pinned to CPU$SUT_CPU)" >"$PROFILE_OUT"
    for phase in full open; do
        if [ $phase = full ]; then args=(-c "$CONC" -z "$DUR"); else args=(-c "$OPEN_CONC" -q "$RATE" -z "$DUR"); fi
        log "perf: switchyard JSON $phase"
        taskset -c "$LOAD_CPU" perf record -q -e cpu-clock -F 4999 -g -p "$GW_PID" \
            -o "$WORK/perf-$phase.data" 2>"$WORK/perf-$phase.err" &
        perf_pid=$!
        sleep 0.3
        taskset -c "$LOAD_CPU" oha "${OHA_NOTUI[@]}" -m POST -H 'content-type: application/json' \
            -d "$REQ_JSON" "${args[@]}" "$URL_GW" >/dev/null 2>&1 || true
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true
        {
            echo "=== switchyard, JSON, $phase load: share of on-CPU samples by thread"
            perf report -i "$WORK/perf-$phase.data" --stdio --no-children -g none --sort comm 2>/dev/null |
                grep -E '^ +[0-9]' | sed -n '1,8p'
            echo "=== by binary/library"
            perf report -i "$WORK/perf-$phase.data" --stdio --no-children -g none --sort dso 2>/dev/null |
                grep -E '^ +[0-9]' | sed -n '1,8p'
            echo "=== by symbol (self time), top 40"
            perf report -i "$WORK/perf-$phase.data" --stdio --no-children -g none --sort comm,dso,sym 2>/dev/null |
                grep -E '^ +[0-9]' | sed -n '1,40p' | cut -c1-200
            echo
        } >>"$PROFILE_OUT" || true
    done
    log "profile written to $PROFILE_OUT"
fi
