#!/usr/bin/env bash
# Switchyard soak and fault run (not a CI test): sustained load with keys required against a
# fast fake upstream, PostgreSQL made unreachable in the middle of it, then SIGTERM with slow
# streams in flight. Prints what held and what was lost; writes bench/last-soak.txt.
#
#   bash bench/soak.sh                     # 10 minutes at 2,000 requests/s, then the shutdown
#   SOAK_SECS=60 bash bench/soak.sh        # a short run
#
# Layout: the gateway (release build) on 127.0.0.1:18090 with keys required, on PostgreSQL
# reached through bench/pgproxy.py (127.0.0.1:15433), which the script cuts for
# SOAK_OUTAGE_SECS at SOAK_OUTAGE_AT; nginx answers a fixed completion on 127.0.0.1:18091;
# oha sends the load. Resident memory is sampled every 10 s.
# Knobs: SOAK_SECS (600), SOAK_RATE (2000), SOAK_CONC (64), SOAK_OUTAGE_AT (SOAK_SECS/2),
#   SOAK_OUTAGE_SECS (20), SOAK_STREAMS (100), SOAK_GRACE (5), SOAK_WORK (/tmp/sy-soak),
#   SOAK_PG (postgres://postgres@127.0.0.1:5432/test: where a fresh database is created),
#   SOAK_SKIP_BUILD (set to use target/release/switchyard as it is).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
WORK=${SOAK_WORK:-/tmp/sy-soak}
SECS=${SOAK_SECS:-600}
RATE=${SOAK_RATE:-2000}
CONC=${SOAK_CONC:-64}
OUTAGE_AT=${SOAK_OUTAGE_AT:-$((SECS / 2))}
OUTAGE_SECS=${SOAK_OUTAGE_SECS:-20}
STREAMS=${SOAK_STREAMS:-100}
GRACE=${SOAK_GRACE:-5}
PG_ADMIN=${SOAK_PG:-postgres://postgres@127.0.0.1:5432/test}
GW_PORT=18090
FAKE_PORT=18091
PROXY_PORT=15433
MASTER=soak-master-key
LOG_TAG=soak
export PATH="$HOME/.cargo/bin:$PATH"

source "$HERE/lib.sh"
command -v psql >/dev/null 2>&1 || apt_install postgresql-client

# ------------------------------------------------------------------ build
BIN="$ROOT/target/release/switchyard"
if [ -z "${SOAK_SKIP_BUILD:-}" ]; then
    log "cargo build --release"
    (cd "$ROOT" && cargo build --release --locked -q)
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# ------------------------------------------------------------------ processes
start_processes
ports_free $GW_PORT $FAKE_PORT $PROXY_PORT
rm -rf "$WORK"
mkdir -p "$WORK/fake/client_body" "$WORK/fake/proxy_temp" "$WORK/fake/fastcgi" "$WORK/fake/uwsgi" "$WORK/fake/scgi"
chmod -R a+rwx "$WORK/fake"

{
    nginx_common "$WORK/fake"
    echo "http {"
    nginx_http_common "$WORK/fake"
    cat <<EOF
    server {
        listen 127.0.0.1:$FAKE_PORT backlog=4096;
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '$JSON_BODY';
        }
    }
}
EOF
} >"$WORK/fake/nginx.conf"
nginx -c "$WORK/fake/nginx.conf" &
PIDS+=($!)

DB="sy_soak_$(date +%s)"
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
PG_BASE=${PG_ADMIN%/*}
PG_DIRECT="$PG_BASE/$DB"
python3 "$HERE/pgproxy.py" $PROXY_PORT 127.0.0.1 "$(sed -E 's#.*:([0-9]+)/.*#\1#' <<<"$PG_ADMIN")" >"$WORK/pgproxy.log" 2>&1 &
PROXY=$!
PIDS+=($PROXY)
sleep 0.5
GW_DB="$(sed -E "s#@[^/]+/#@127.0.0.1:$PROXY_PORT/#" <<<"$PG_BASE/$DB")"

cat >"$WORK/switchyard.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"
shutdown_grace_secs = $GRACE
[auth]
require_keys = true
[log]
filter = "warn"
[[providers]]
id = "fake"
kind = "openai"
base_url = "http://127.0.0.1:$FAKE_PORT/v1"
[[providers]]
id = "slow"
kind = "mock"
[providers.mock]
reply = "$(printf 'w%.0s ' $(seq 1 50))"
chunks = 50
chunk_delay_ms = 200
[[models]]
slug = "soak/fast"
[[models.endpoints]]
provider = "fake"
upstream_model = "fast"
input_price = 1.0
output_price = 2.0
[[models]]
slug = "soak/slow"
[[models.endpoints]]
provider = "slow"
upstream_model = "slow"
EOF

SWITCHYARD_DATABASE_URL="$GW_DB" SWITCHYARD_MASTER_KEY=$MASTER \
    "$BIN" --config "$WORK/switchyard.toml" serve 2>"$WORK/gateway.log" &
GW=$!
PIDS+=($GW)
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$GW_PORT/v1/health" >/dev/null && break
    sleep 0.1
done
KEY=$(curl -sf -X POST "http://127.0.0.1:$GW_PORT/admin/keys" -H "authorization: Bearer $MASTER" \
    -d '{"name":"soak"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

# ------------------------------------------------------------------ load, memory, outage
rss() { awk '/VmRSS/ {print $2}' "/proc/$GW/status" 2>/dev/null || echo 0; }
(
    while kill -0 $GW 2>/dev/null; do
        printf '%s %s\n' "$(date +%s)" "$(rss)"
        sleep 10
    done
) >"$WORK/rss.txt" &
SAMPLER=$!
PIDS+=($SAMPLER)
(
    sleep "$OUTAGE_AT"
    log "PostgreSQL unreachable for ${OUTAGE_SECS}s"
    kill -USR1 $PROXY
    sleep "$OUTAGE_SECS"
    kill -USR2 $PROXY
    log "PostgreSQL reachable again"
) &
PIDS+=($!)

log "load: ${RATE} req/s for ${SECS}s with key, outage at ${OUTAGE_AT}s"
BODY='{"model":"soak/fast","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'
oha -z "${SECS}s" -q "$RATE" -c "$CONC" "${OHA_NOTUI[@]}" "${OHA_JSON[@]}" -m POST \
    -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d "$BODY" \
    "http://127.0.0.1:$GW_PORT/v1/chat/completions" >"$WORK/oha.json"

# Every response that was admitted has a record; wait for the writer to catch up.
for _ in $(seq 1 240); do
    backlog=$(curl -sf "http://127.0.0.1:$GW_PORT/v1/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_log"]["backlog"])' || echo -1)
    [ "$backlog" = 0 ] && break
    sleep 0.5
done
RECORDS=$(psql "$PG_DIRECT" -Atc "SELECT count(*) FROM requests WHERE requested_model = 'soak/fast'")
DEAD=$(psql "$PG_DIRECT" -Atc "SELECT count(*) FROM dead_letters")
RSS_AFTER_LOAD=$(rss)

# ------------------------------------------------------------------ SIGTERM with streams in flight
log "$STREAMS slow streams, then SIGTERM"
SBODY='{"model":"soak/slow","stream":true,"messages":[{"role":"user","content":"hi"}]}'
mkdir -p "$WORK/streams"
CURLS=()
for i in $(seq 1 "$STREAMS"); do
    curl -sN -X POST "http://127.0.0.1:$GW_PORT/v1/chat/completions" -H "authorization: Bearer $KEY" \
        -H 'content-type: application/json' -d "$SBODY" >"$WORK/streams/$i.sse" 2>/dev/null &
    CURLS+=($!)
done
sleep 2
T0=$(date +%s.%N)
kill -TERM $GW
wait $GW || true
T1=$(date +%s.%N)
kill $SAMPLER 2>/dev/null || true
for pid in "${CURLS[@]}"; do wait "$pid" 2>/dev/null || true; done
ENDED_CHUNK=$(grep -l 'shutting down' "$WORK"/streams/*.sse | wc -l)
ENDED_DONE=$(grep -l '\[DONE\]' "$WORK"/streams/*.sse | wc -l)
STREAM_RECORDS=$(psql "$PG_DIRECT" -Atc "SELECT count(*) FROM requests WHERE requested_model = 'soak/slow'")

# ------------------------------------------------------------------ report
python3 - "$WORK" "$RECORDS" "$DEAD" "$RSS_AFTER_LOAD" "$T0" "$T1" "$STREAMS" "$ENDED_CHUNK" "$ENDED_DONE" "$STREAM_RECORDS" "$SECS" "$RATE" <<'PY' | tee "$HERE/last-soak.txt"
import json, sys
work, records, dead, rss_after, t0, t1, streams, ended_chunk, ended_done, stream_records, secs, rate = sys.argv[1:]
o = json.load(open(f"{work}/oha.json"))
codes = {int(k): v for k, v in (o.get("statusCodeDistribution") or {}).items()}
errors = o.get("errorDistribution") or {}
answered = sum(codes.values())
# Refused before a record exists: a full log or an overloaded gateway (both fast 503s).
expected = answered - codes.get(503, 0)
samples = [int(l.split()[1]) for l in open(f"{work}/rss.txt") if l.strip()]
print(f"load            {answered} answered in {secs}s ({answered / float(secs):.0f}/s of {rate}/s asked); statuses {dict(sorted(codes.items()))}; client errors {sum(errors.values())} {errors if errors else ''}")
print(f"records         {records} written of {expected} expected; lost {expected - int(records)}; dead-lettered {dead}")
if samples:
    print(f"memory (RSS)    start {samples[0] / 1024:.1f} MB, peak {max(samples) / 1024:.1f} MB, after load {int(rss_after) / 1024:.1f} MB; {len(samples)} samples every 10 s")
print(f"shutdown        exit {float(t1) - float(t0):.1f}s after SIGTERM with {streams} streams in flight; {ended_chunk} ended with the error chunk, {ended_done} with [DONE]; {stream_records} of {streams} recorded")
PY
