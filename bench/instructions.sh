#!/usr/bin/env bash
# Instructions per request, counted by callgrind: the same figure on an idle or a busy
# machine (bench/run.sh's CPU figures move with whatever else runs), so two revisions can be
# compared on a shared machine. Each revision's release binary serves the bench config in
# front of the same fake upstream (nginx) under callgrind; counters are zeroed after a warm-up
# and read after INSTR_N requests of each kind, so start-up and warm-up are not counted.
#
#   bash bench/instructions.sh                 # the work tree
#   bash bench/instructions.sh ea0eddf HEAD    # revisions, built from clean exports; ratios
#                                              # are against the first one
#   INSTR_OBS=1 bash bench/instructions.sh     # each revision twice: metrics and traces off
#                                              # (SWITCHYARD_METRICS_ENABLED=false, no OTLP
#                                              # endpoint) and on (metrics + every request traced
#                                              # to a local OTLP/HTTP receiver); ratios on/off,
#                                              # and what observability's own functions cost
#   INSTR_OBS=1 INSTR_REPEAT=3 bash bench/instructions.sh   # off/on three times, interleaved;
#                                              # the median ratio
# Knobs: INSTR_N (measured requests per kind, 512), INSTR_WARM (warm-up requests, 256),
#   INSTR_CONC (client connections, 1), INSTR_REPEAT (1), INSTR_WORK (/tmp/sy-instr),
#   INSTR_SKIP_BUILD (set: reuse the binaries an earlier run built, from $INSTR_WORK-bin),
#   INSTR_OBS. Ports 18180-18182. Each run's callgrind dumps stay in $INSTR_WORK
#   (cg.out.<pid>.<n>, one per kind; `callgrind_annotate --inclusive=yes` reads them).
#
# What is fixed so that a count means the same from run to run (under callgrind requests
# arrive ~50x slower than in service, so anything batched by time would batch differently):
# the database pool holds one connection (see below), the request log is written in batches
# of 64 records and the spans exported in batches of 512 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, the
# SDKs' default; the schedule delay is set past the run, so exports happen by size, as in
# service at more than ~50 requests/s). The warm-up
# and the measured requests are whole batches of both: each measured request's record is
# written and its spans posted inside the window, and nothing else is.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
WORK=${INSTR_WORK:-/tmp/sy-instr}
N=${INSTR_N:-512}
WARM=${INSTR_WARM:-256}
CONC=${INSTR_CONC:-1}
REPEAT=${INSTR_REPEAT:-1}
GW_PORT=18180
FAKE_PORT=18181
RECV_PORT=18182
OBS=${INSTR_OBS:-}
export PATH="$HOME/.cargo/bin:$PATH"
LOG_TAG=instr
source "$HERE/lib.sh"
command -v valgrind >/dev/null 2>&1 || apt_install valgrind

start_processes
ports_free $GW_PORT $FAKE_PORT $RECV_PORT
rm -rf "$WORK" && mkdir -p "$WORK/fake"/{client_body,proxy_temp,fastcgi,uwsgi,scgi}
chmod -R a+rwx "$WORK/fake"

# ------------------------------------------------------------------ binaries
binary_of() { # $1 = revision or "" for the work tree; prints the binary's path
    local src=$ROOT target="$ROOT/target"
    if [ -n "$1" ]; then
        local rev
        rev=$(git -C "$ROOT" rev-parse --short "$1^{commit}") || die "unknown revision $1"
        src="$WORK-src-$rev"
        if [ ! -f "$src/Cargo.toml" ]; then
            rm -rf "$src" && mkdir -p "$src"
            git -C "$ROOT" archive "$rev" | tar -x -C "$src"
        fi
        # One target dir for every revision: only the gateway's own crate is rebuilt. Cargo
        # sees the exports as one package and judges freshness by mtime, and an export's
        # files carry its commit's time: touch them so this revision is the one built.
        target="$ROOT/target/bench-revs"
        find "$src" -name '*.rs' -exec touch {} +
    fi
    local out="$WORK-bin/switchyard-${1:-worktree}"
    if [ -n "${INSTR_SKIP_BUILD:-}" ] && [ -x "$out" ]; then
        echo "$out"
        return
    fi
    log "cargo build --release ${1:-(work tree)}"
    (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release --quiet)
    mkdir -p "$WORK-bin"
    cp "$target/release/switchyard" "$out"
    echo "$out"
}

revs=("$@")
[ ${#revs[@]} -gt 0 ] || revs=("")
bins=()
for r in "${revs[@]}"; do bins+=("$(binary_of "$r")"); done

# ------------------------------------------------------------------ fake upstream
{
    nginx_common "$WORK/fake"
    echo "http {"
    nginx_http_common "$WORK/fake"
    cat <<EOF
    server {
        listen 127.0.0.1:$FAKE_PORT;
        location = /json/v1/chat/completions { default_type application/json; return 200 '$JSON_BODY'; }
        location = /sse/v1/chat/completions { default_type text/event-stream; return 200 '$SSE_BODY'; }
        location = /msg/v1/messages { default_type text/event-stream; return 200 '$MSG_BODY'; }
    }
}
EOF
} >"$WORK/fake/nginx.conf"
nginx -c "$WORK/fake/nginx.conf" -p "$WORK/fake" &
PIDS+=($!)
# One database connection: each pooled connection prepares the writer's statements the first
# time it serves a batch, and which idle connection a batch gets depends on timing (on a busy
# machine start-up opens more of them), so a cold one could land in the measured window and
# add ~21k instructions to every JSON request of a run.
sed -e "s/127.0.0.1:18081/127.0.0.1:$FAKE_PORT/" -e 's/^\[database\]$/[database]\nmax_connections = 1/' \
    "$HERE/switchyard-bench.toml" >"$WORK/bench.toml"
grep -q '^max_connections = 1$' "$WORK/bench.toml" || die "bench.toml: no [database] table to pin the pool in"
# The request log in fixed batches (never by time; see the top). INSTR_N and INSTR_WARM
# should be multiples of 256 (64 records; 512 spans at two spans a request).
cat >>"$WORK/bench.toml" <<EOF

[accounting]
batch_size = 64
flush_interval_ms = 600000
EOF

CHAT='{"model":"bench/fast","messages":[{"role":"user","content":"Say hello."}]}'
STREAM='{"model":"bench/stream","stream":true,"messages":[{"role":"user","content":"Say hello."}]}'
MSGS='{"model":"bench/claude","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello."}]}'
kinds=(json stream messages)
declare -A body=([json]=$CHAT [stream]=$STREAM [messages]=$MSGS)
declare -A path=([json]=/v1/chat/completions [stream]=/v1/chat/completions [messages]=/v1/messages)

load() { # $1 = kind, $2 = requests
    oha -n "$2" -c "$CONC" "${OHA_NOTUI[@]}" -m POST -H 'content-type: application/json' \
        -d "${body[$1]}" "http://127.0.0.1:$GW_PORT${path[$1]}" >/dev/null
}

summary() { # the Ir total of the newest dump of $1
    local f
    f=$(ls -t "$WORK"/cg.out."$1"* | head -1)
    awk '/^summary:/ {print $2}' "$f"
}

# The OTLP receiver of the "on" runs: accepts and discards.
if [ -n "$OBS" ]; then
    cat >"$WORK/receiver.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
    python3 "$WORK/receiver.py" $RECV_PORT &
    PIDS+=($!)
fi

# Runs: (binary index, mode); mode is "" (as configured), "off" or "on".
# With INSTR_REPEAT, the whole sequence again (interleaved, so that a change in the machine's
# state between runs falls on both sides); a run is "index:mode:repeat".
runs=()
for ((rep = 1; rep <= REPEAT; rep++)); do
    for i in "${!bins[@]}"; do
        if [ -n "$OBS" ]; then runs+=("$i:off:$rep" "$i:on:$rep"); else runs+=("$i::$rep"); fi
    done
done
declare -A ir
declare -A dump
for run in "${runs[@]}"; do
    i=${run%%:*} mode=${run#*:} mode=${mode%%:*}
    bin=${bins[$i]}
    obs_env=()
    case $mode in
    off) obs_env=(-u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT SWITCHYARD_METRICS_ENABLED=false) ;;
    on) obs_env=(SWITCHYARD_METRICS_ENABLED=true OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$RECV_PORT"
        OTEL_SERVICE_NAME=switchyard-bench OTEL_TRACES_SAMPLER=parentbased_always_on
        OTEL_BSP_SCHEDULE_DELAY=3600000 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=512) ;;
    esac
    rm -f "$WORK/bench.db"*
    env "${obs_env[@]}" SWITCHYARD_LISTEN="127.0.0.1:$GW_PORT" \
        SWITCHYARD_DATABASE_URL="sqlite://$WORK/bench.db" \
        SWITCHYARD_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out.%p" \
        "$bin" --config "$WORK/bench.toml" serve 2>"$WORK/valgrind-$i$mode.log" &
    pid=$!
    for _ in $(seq 1 600); do
        curl -fsS "http://127.0.0.1:$GW_PORT/v1/health" >/dev/null 2>&1 && break
        sleep 0.2
    done
    for k in "${kinds[@]}"; do
        load "$k" "$WARM" # warm-up: connections, caches, the stats' first entries
        sleep 2           # its last batch of records written, its last spans posted
        callgrind_control -z "$pid" >/dev/null
        load "$k" "$N"
        sleep 2 # ... and this phase's, which are part of a request's cost
        callgrind_control -d "$pid" >/dev/null
        ir[$run,$k]=$(summary "$pid")
        dump[$run,$k]=$(ls -t "$WORK"/cg.out."$pid"* | head -1)
    done
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
done

for run in "${runs[@]}"; do
    for k in "${kinds[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$run" "$k" "${ir[$run,$k]}" "${dump[$run,$k]}"
    done
done >"$WORK/runs.tsv"
labels=()
for r in "${revs[@]}"; do labels+=("${r:-work tree}"); done
python3 "$HERE/instructions_report.py" "$WORK/runs.tsv" "$N" "$CONC" "${OBS:+obs}" "${labels[@]}" |
    tee "$WORK/result.txt"
