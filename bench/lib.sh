# Shared by bench/run.sh and bench/soak.sh: logging, installing the tools they drive (nginx as
# the fake upstream, oha as the load generator), and the fake upstream's nginx pieces and
# fixed bodies. Sourced, not run.

log() { printf '[%s %s] %s\n' "${LOG_TAG:-bench}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ tools
apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        log "apt-get update"
        apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx
export PATH="$PATH:/usr/sbin:/sbin"
command -v taskset >/dev/null 2>&1 || apt_install util-linux
command -v curl >/dev/null 2>&1 || apt_install curl
command -v python3 >/dev/null 2>&1 || apt_install python3
if ! command -v oha >/dev/null 2>&1; then
    log "cargo install oha --locked (compiles for several minutes)"
    cargo install oha --locked
fi
OHA_HELP=$(oha --help)
case "$OHA_HELP" in
    *--output-format*) OHA_JSON=(--output-format json) ;;
    *) OHA_JSON=(-j) ;;
esac
case "$OHA_HELP" in *csv*) OHA_CSV=1 ;; *) OHA_CSV= ;; esac
case "$OHA_HELP" in *--no-tui*) OHA_NOTUI=(--no-tui) ;; *) OHA_NOTUI=() ;; esac

nginx_common() { # $1 = instance dir
    cat <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections 4096; }
EOF
}
nginx_http_common() {
    cat <<EOF
    access_log off;
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy_temp;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
EOF
}

# The fake's fixed bodies. The SSE one: a role chunk, three content chunks, a finish chunk,
# a usage chunk (choices: []) and [DONE], sent in one write.
C='"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"fast"'
SSE_BODY="data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\\n\\n"
for w in Hello ' from the' ' fake upstream.'; do
    SSE_BODY+="data: {$C,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"$w\"},\"finish_reason\":null}]}\\n\\n"
done
SSE_BODY+="data: {$C,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\\n\\n"
SSE_BODY+="data: {$C,\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":5,\"total_tokens\":13}}\\n\\n"
SSE_BODY+="data: [DONE]\\n\\n"
JSON_BODY='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"fast","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the fake upstream."},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":5,"total_tokens":13}}'
# An Anthropic Messages stream (for the Messages passthrough mode): named events, one write.
ev() { MSG_BODY+="event: $1\\ndata: $2\\n\\n"; }
MSG_BODY=""
ev message_start '{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-bench","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":8,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}'
ev content_block_start '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'
ev ping '{"type":"ping"}'
for w in Hello ' from the' ' fake upstream.'; do
    ev content_block_delta "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"$w\"}}"
done
ev content_block_stop '{"type":"content_block_stop","index":0}'
ev message_delta '{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}'
ev message_stop '{"type":"message_stop"}'


# Processes started into PIDS are stopped (TERM, then waited for) when the script exits.
start_processes() {
    PIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    trap 'log "failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR
}
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    exit $rc
}

# Dies when one of these local ports is taken (an earlier run still going?).
ports_free() {
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port is already in use (an earlier run still going?)"
        fi
    done
}
