#!/usr/bin/env bash
# ringcast side by side with three peer servers, measured by the same bench client:
#   nchan    nginx + the nchan pub/sub module (bench/peers/nchan/nginx.conf.in)
#   go-hub   a gorilla/websocket hub in Go (bench/peers/go-hub/main.go), GOMAXPROCS=1
#   node-ws  Node.js with the npm package ws (bench/peers/node-ws/server.mjs)
#
# Scenarios (each run against a freshly started server, RUNS times, medians reported):
#   echo       ECHO_CONNS connections, 64 B, 1 message in flight each, DURATION
#   fanout1k   FANOUT_SMALL subscribers of one channel, 64 B HTTP publishes, 8 in flight
#   fanout10k  FANOUT_BIG subscribers, the same
#   latency    FANOUT_BIG subscribers at LATENCY_RATE messages/s: publish-to-delivery latency
#   idle       IDLE_CONNS idle connections: server VmRSS before and while held, per connection
# and the chat workload of bench/rooms.sh (not in the default SCENARIOS; for ringcast the same
# client invocations as rooms.sh: --channel room, publishes to /api/publish):
#   http10     10 subscribers of one channel, 64 B HTTP publishes as fast as absorbed,
#              PUBLISH_CONNS connections x CHAT_INFLIGHT pipelined, DURATION
#   rooms      ROOMS_SUBS subscribers over ROOMS channels (round robin), the same publishers,
#              publishes spread uniformly over the channels; zero loss expected
#   roomszipf  the same with --zipf 1 (a few hot rooms)
# The peers serve one channel on /ws and POST /publish (fan-out and latency), and channel
# NAME on /ws/NAME and POST /publish/NAME (the chat workload: /ws/{channel}, the client's
# template, also for http10).
#
# Every server runs single-threaded on CPU SERVER_CPU (taskset), the client on CLIENT_CPU.
# Results: progress and medians on stdout, a markdown report in OUT.
#
# Usage (from anywhere; relative paths below are relative to the repository root):
#   bench/compare.sh
#   RUNS=1 DURATION=2s FANOUT_BIG=2000 IDLE_CONNS=2000 bench/compare.sh      # smoke run
#   SERVERS="ringcast nchan" SCENARIOS="echo idle" bench/compare.sh
#   SCENARIOS="http10 rooms roomszipf" bench/compare.sh                       # chat workload
#   RUNS=1 DURATION=2s ROOMS=100 ROOMS_SUBS=1000 SCENARIOS="http10 rooms roomszipf" \
#       bench/compare.sh                                                      # its smoke run
#
# Environment (defaults in brackets):
#   RINGCAST [build/ringcast]   BENCH [build/bench/ringcast-bench]
#   SERVERS ["ringcast nchan go-hub node-ws"]
#   SCENARIOS ["echo fanout1k fanout10k latency idle"]
#   RUNS [3]  DURATION [10s]  OUT [build/compare.md]
#   ECHO_CONNS [100]  FANOUT_SMALL [1000]  FANOUT_BIG [10000]  IDLE_CONNS [18000]
#   SIZE [64]  PUBLISH_INFLIGHT [8] (fan-out)  LATENCY_RATE [20]  DRAIN_TIMEOUT [60s]
#   PUBLISH_CONNS [4]  CHAT_INFLIGHT [16] (publisher connections and requests in flight on
#       each, http10 and rooms)  ROOMS [1000]  ROOMS_SUBS [10000]
#   SRC [127.0.0.1-127.0.0.4] (client source addresses for FANOUT_BIG, rooms and idle)
#   RUN_TIMEOUT [300] seconds one bench client run may take (fan-out, echo, chat) before it
#       is stopped (raise it with a long DURATION or DRAIN_TIMEOUT)
#   SERVER_CPU [1]  CLIENT_CPU [0]
#   KEEP_AWAKE [unset]: 1 runs a SCHED_IDLE busy loop on both CPUs meanwhile (see
#       keep_awake in bench/started.sh: a VM whose idle vCPUs halt wakes them slowly)
#   PEERS_BUILD [build/peers] (go-hub binary, Go cache)   WORK [a new /tmp/ringcast-compare.*]
#   NGINX [nginx]  NCHAN_MODULE [found under /usr/lib/nginx/modules or /usr/share/nginx/modules]
#   NODE [node]  NODE_PATH [tests/e2e/node_modules]  GO [go]
#   NCHAN_IDLE_PATH [/ws]: nchan's /echo gives every connection a channel of its own, so idle
#       connections are measured as subscribers of the one channel; the others use /echo.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BENCH=${BENCH:-build/bench/ringcast-bench}
SERVERS=${SERVERS:-ringcast nchan go-hub node-ws}
SCENARIOS=${SCENARIOS:-echo fanout1k fanout10k latency idle}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
OUT=${OUT:-build/compare.md}
ECHO_CONNS=${ECHO_CONNS:-100}
FANOUT_SMALL=${FANOUT_SMALL:-1000}
FANOUT_BIG=${FANOUT_BIG:-10000}
IDLE_CONNS=${IDLE_CONNS:-18000}
SIZE=${SIZE:-64}
PUBLISH_INFLIGHT=${PUBLISH_INFLIGHT:-8}
LATENCY_RATE=${LATENCY_RATE:-20}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60s}
PUBLISH_CONNS=${PUBLISH_CONNS:-4}
CHAT_INFLIGHT=${CHAT_INFLIGHT:-16}
ROOMS=${ROOMS:-1000}
ROOMS_SUBS=${ROOMS_SUBS:-10000}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SRC=${SRC:-127.0.0.1-127.0.0.4}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
PEERS_BUILD=${PEERS_BUILD:-build/peers}
NGINX=${NGINX:-nginx}
NODE=${NODE:-node}
GO=${GO:-go}
NCHAN_IDLE_PATH=${NCHAN_IDLE_PATH:-/ws}
export NODE_PATH=${NODE_PATH:-$ROOT/tests/e2e/node_modules}
PYTHON=/usr/bin/python3
START_TIMEOUT=15 # seconds for a server to start listening
READY_TIMEOUT=300 # seconds for the idle client to open every connection

die() {
    printf 'compare.sh: %s\n' "$*" >&2
    exit 1
}

warn() {
    printf 'compare.sh: %s\n' "$*" >&2
}

# ---- processes this script started: stopped by pid, also on exit and Ctrl-C -------------

# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"
keep_awake "$SERVER_CPU" "$CLIENT_CPU"
trap 'warn "interrupted"; exit 130' INT
trap 'warn "terminated"; exit 143' TERM

# ---- checks and set-up ------------------------------------------------------------------

[[ -x $RINGCAST || " $SERVERS " != *" ringcast "* ]] || die "no ringcast binary at $RINGCAST (build it, or set RINGCAST)"
[[ -x $BENCH ]] || die "no bench client at $BENCH (build it, or set BENCH)"
[[ -x $PYTHON ]] || die "$PYTHON is needed to read the JSON results"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
[[ $RUN_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "RUN_TIMEOUT must be a positive number of seconds"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
for s in $SERVERS; do
    case $s in
        ringcast | nchan | go-hub | node-ws) ;;
        *) die "unknown server '$s' (ringcast nchan go-hub node-ws)" ;;
    esac
done
for s in $SCENARIOS; do
    case $s in
        echo | fanout1k | fanout10k | latency | idle | http10 | rooms | roomszipf) ;;
        *) die "unknown scenario '$s' (echo fanout1k fanout10k latency idle http10 rooms roomszipf)" ;;
    esac
done

has_server() {
    [[ " $SERVERS " == *" $1 "* ]]
}

WORK=${WORK:-$(mktemp -d /tmp/ringcast-compare.XXXXXX)}
mkdir -p "$WORK/results" "$PEERS_BUILD" "$(dirname -- "$OUT")"
PEERS_BUILD=$(cd -- "$PEERS_BUILD" && pwd)

# Idle connections need more descriptors than the usual soft limit of 1024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=1048576

if has_server nchan; then
    command -v "$NGINX" >/dev/null || die "nginx not found (apt-get install nginx-light libnginx-mod-nchan)"
    if [[ -z ${NCHAN_MODULE:-} ]]; then
        for m in /usr/lib/nginx/modules/ngx_nchan_module.so /usr/share/nginx/modules/ngx_nchan_module.so; do
            if [[ -e $m ]]; then
                NCHAN_MODULE=$m
                break
            fi
        done
    fi
    [[ -n ${NCHAN_MODULE:-} && -e $NCHAN_MODULE ]] || die "ngx_nchan_module.so not found (apt-get install libnginx-mod-nchan, or set NCHAN_MODULE)"
fi

if has_server node-ws; then
    command -v "$NODE" >/dev/null || die "node not found"
    (cd "$ROOT/bench/peers/node-ws" && "$NODE" -e "require('ws')") 2>/dev/null ||
        die "the npm package ws is not found through NODE_PATH=$NODE_PATH (make deps installs it in tests/e2e)"
fi

GO_HUB=$PEERS_BUILD/go-hub
if has_server go-hub; then
    command -v "$GO" >/dev/null || die "go not found (apt-get install golang-go golang-github-gorilla-websocket-dev)"
    if [[ ! -x $GO_HUB || $ROOT/bench/peers/go-hub/main.go -nt $GO_HUB ]]; then
        echo "building $GO_HUB"
        (
            cd "$ROOT/bench/peers/go-hub"
            GO111MODULE=off GOPATH=${GOPATH:-/usr/share/gocode} GOCACHE=$PEERS_BUILD/go-cache \
                nice "$GO" build -p 1 -o "$GO_HUB" .
        ) || die "go build of bench/peers/go-hub failed"
    fi
fi

# ---- starting servers -------------------------------------------------------------------

# free_port: a TCP port that was free a moment ago (nginx cannot report a port 0 choice).
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_line FILE REGEX: wait until FILE has a line matching REGEX while SRV_PID lives.
wait_line() {
    local file=$1 regex=$2 i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        grep -Eq "$regex" "$file" 2>/dev/null && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    warn "$SRV_NAME did not start (no '$regex' in its output); its log $file ends with:"
    tail -n 20 "$file" >&2 || true
    die "$SRV_NAME failed to start"
}

# wait_port PORT: wait until 127.0.0.1:PORT accepts while SRV_PID lives.
wait_port() {
    local port=$1 i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    warn "$SRV_NAME did not start listening on 127.0.0.1:$port; its logs:"
    tail -n 20 "$SRV_LOG" "$SRV_RUNDIR/error.log" >&2 2>/dev/null || true
    die "$SRV_NAME failed to start"
}

# start_server NAME MODE TAG: MODE is echo (echo and idle) or pubsub (fan-out). Sets SRV_PID,
# SRV_WS (host:port of the WebSocket listener) and SRV_API (ringcast's HTTP API).
start_server() {
    SRV_NAME=$1
    local mode=$2 tag=$3
    SRV_LOG=$WORK/$tag.server.log
    SRV_RUNDIR=$WORK/$tag.nginx
    SRV_API=
    case $SRV_NAME in
        ringcast)
            local extra=()
            [[ $mode == echo ]] && extra=(--echo)
            taskset -c "$SERVER_CPU" "$RINGCAST" --dev --threads 1 --listen 127.0.0.1:0 \
                --api-listen 127.0.0.1:0 --publish-listen 127.0.0.1:0 "${extra[@]}" \
                >"$SRV_LOG" 2>&1 &
            SRV_PID=$!
            STARTED+=("$SRV_PID")
            wait_line "$SRV_LOG" '^listen api '
            wait_line "$SRV_LOG" '^listen ws '
            SRV_WS=$(sed -n 's/^listen ws //p' "$SRV_LOG" | head -n 1)
            SRV_API=$(sed -n 's/^listen api //p' "$SRV_LOG" | head -n 1)
            ;;
        nchan)
            local port
            port=$(free_port)
            mkdir -p "$SRV_RUNDIR"
            sed -e "s#@MODULE@#$NCHAN_MODULE#g" -e "s#@RUNDIR@#$SRV_RUNDIR#g" \
                -e "s#@PORT@#$port#g" -e "s#@NOFILE@#$NOFILE#g" \
                "$ROOT/bench/peers/nchan/nginx.conf.in" >"$SRV_RUNDIR/nginx.conf"
            taskset -c "$SERVER_CPU" "$NGINX" -p "$SRV_RUNDIR/" -c "$SRV_RUNDIR/nginx.conf" \
                -e "$SRV_RUNDIR/error.log" >"$SRV_LOG" 2>&1 &
            SRV_PID=$!
            STARTED+=("$SRV_PID")
            # nginx 1.22 + nchan 1.3.6 without a master process aborts on its way out
            # ("double free", on any of TERM, QUIT, INT), after the results are taken:
            # disowned, the shell does not report that; stop_pid still stops it by pid.
            disown "$SRV_PID"
            wait_port "$port"
            SRV_WS=127.0.0.1:$port
            ;;
        go-hub)
            GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$GO_HUB" -listen 127.0.0.1:0 >"$SRV_LOG" 2>&1 &
            SRV_PID=$!
            STARTED+=("$SRV_PID")
            wait_line "$SRV_LOG" '^listen '
            SRV_WS=$(sed -n 's/^listen //p' "$SRV_LOG" | head -n 1)
            ;;
        node-ws)
            taskset -c "$SERVER_CPU" "$NODE" "$ROOT/bench/peers/node-ws/server.mjs" \
                --listen 127.0.0.1:0 >"$SRV_LOG" 2>&1 &
            SRV_PID=$!
            STARTED+=("$SRV_PID")
            wait_line "$SRV_LOG" '^listen '
            SRV_WS=$(sed -n 's/^listen //p' "$SRV_LOG" | head -n 1)
            ;;
    esac
}

stop_server() {
    stop_pid "$SRV_PID" TERM
}

# ---- one run of one scenario against one server ----------------------------------------

# fanout_target: the bench options that address the current server's fan-out.
fanout_target() {
    if [[ $SRV_NAME == ringcast ]]; then
        FANOUT_TARGET=(--url "ws://$SRV_WS/ws?user=bench" --channel news
            --publish-url "http://$SRV_API/api/publish")
    else
        FANOUT_TARGET=(--url "ws://$SRV_WS/ws" --publish-url "http://$SRV_WS/publish"
            --publish-body '{marker}{pad}')
    fi
}

# chat_target: the same for the chat workload (http10, rooms): one channel per room, named
# by the client ({channel}); for ringcast the invocation of bench/rooms.sh.
chat_target() {
    if [[ $SRV_NAME == ringcast ]]; then
        CHAT_TARGET=(--url "ws://$SRV_WS/ws?user=bench" --channel room
            --publish-url "http://$SRV_API/api/publish")
    else
        CHAT_TARGET=(--url "ws://$SRV_WS/ws/{channel}" --publish-url "http://$SRV_WS/publish/{channel}"
            --publish-body '{marker}{pad}')
    fi
    CHAT_TARGET+=(--size "$SIZE" --publish-conns "$PUBLISH_CONNS" --publish-inflight "$CHAT_INFLIGHT"
        --duration "$DURATION" --drain-timeout "$DRAIN_TIMEOUT")
}

# record_rc TAG RC: the client's exit status, and its last lines when it failed.
record_rc() {
    local tag=$1 rc=$2
    echo "$rc" >"$WORK/results/$tag.rc"
    if [[ $rc != 0 ]]; then
        warn "$tag: the bench client exited with $rc; its log $WORK/$tag.client.log ends with:"
        tail -n 5 "$WORK/$tag.client.log" >&2 || true
    fi
}

# run_client TAG ARGS...: the bench client on CLIENT_CPU, for RUN_TIMEOUT seconds at most;
# its exit status goes to TAG.rc (124: timed out). It runs in the background so that a signal
# to this script is handled at once (the trap then stops the client and the server).
run_client() {
    local tag=$1 rc=0 client
    shift
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$BENCH" "$@" --server-pid "$SRV_PID" \
        --json "$WORK/results/$tag.json" --quiet >"$WORK/$tag.client.log" 2>&1 &
    client=$!
    STARTED+=("$client")
    wait "$client" || rc=$?
    forget_pid "$client"
    record_rc "$tag" "$rc"
}

run_idle() {
    local tag=$1 path=/echo before held count client rc=0 i
    local ready=$WORK/$tag.ready
    [[ $SRV_NAME == nchan ]] && path=$NCHAN_IDLE_PATH
    sleep 0.5
    before=$(vmrss_kb "$SRV_PID")
    rm -f "$ready"
    taskset -c "$CLIENT_CPU" "$BENCH" idle --url "ws://$SRV_WS$path" --conns "$IDLE_CONNS" \
        --src "$SRC" --hold 0 --ready-file "$ready" --server-pid "$SRV_PID" \
        --json "$WORK/results/$tag.json" --quiet >"$WORK/$tag.client.log" 2>&1 &
    client=$!
    STARTED+=("$client")
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        [[ -s $ready ]] && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -s $ready ]]; then
        held=$(vmrss_kb "$SRV_PID")
        count=$(head -n 1 "$ready")
        printf '{"path": "%s", "rss_before_kb": %s, "rss_held_kb": %s, "ready_count": %s}\n' \
            "$path" "$before" "$held" "$count" >"$WORK/results/$tag.mem"
    else
        warn "$tag: the idle client never reported every connection open"
    fi
    kill -INT "$client" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$client" 2>/dev/null; then
        warn "$tag: the idle client did not exit on SIGINT in 30 s: SIGKILL"
        kill -KILL "$client" 2>/dev/null || true
    fi
    wait "$client" 2>/dev/null || rc=$?
    forget_pid "$client"
    record_rc "$tag" "$rc"
}

run_one() {
    local scen=$1 server=$2 run=$3 tag=$1.$2.$3 mode=pubsub
    [[ $scen == echo || $scen == idle ]] && mode="echo"
    start_server "$server" "$mode" "$tag"
    case $scen in
        echo)
            run_client "$tag" echo --url "ws://$SRV_WS/echo" --conns "$ECHO_CONNS" --inflight 1 \
                --size "$SIZE" --duration "$DURATION"
            ;;
        fanout1k)
            fanout_target
            run_client "$tag" fanout "${FANOUT_TARGET[@]}" --conns "$FANOUT_SMALL" --size "$SIZE" \
                --publish-inflight "$PUBLISH_INFLIGHT" --duration "$DURATION" \
                --drain-timeout "$DRAIN_TIMEOUT"
            ;;
        fanout10k)
            fanout_target
            run_client "$tag" fanout "${FANOUT_TARGET[@]}" --conns "$FANOUT_BIG" --src "$SRC" \
                --size "$SIZE" --publish-inflight "$PUBLISH_INFLIGHT" --duration "$DURATION" \
                --drain-timeout "$DRAIN_TIMEOUT"
            ;;
        latency)
            fanout_target
            run_client "$tag" fanout "${FANOUT_TARGET[@]}" --conns "$FANOUT_BIG" --src "$SRC" \
                --size "$SIZE" --publish-inflight "$PUBLISH_INFLIGHT" --rate "$LATENCY_RATE" \
                --duration "$DURATION" --drain-timeout "$DRAIN_TIMEOUT"
            ;;
        idle)
            run_idle "$tag"
            ;;
        http10)
            chat_target
            run_client "$tag" fanout "${CHAT_TARGET[@]}" --conns 10
            ;;
        rooms | roomszipf)
            chat_target
            local zipf=()
            [[ $scen == roomszipf ]] && zipf=(--zipf 1)
            run_client "$tag" fanout "${CHAT_TARGET[@]}" --conns "$ROOMS_SUBS" --channels "$ROOMS" \
                --src "$SRC" "${zipf[@]}"
            ;;
    esac
    stop_server
    "$PYTHON" "$WORK/report.py" run "$scen" "$server" "$run" || warn "$tag: could not read the results"
}

# ---- reading the results ----------------------------------------------------------------

cat >"$WORK/report.py" <<'PY'
"""Reads the bench JSON of compare.sh runs: one-line summaries, medians, the markdown table."""
import json
import os
import statistics
import sys

RES = os.path.join(os.environ["WORK"], "results")
SERVERS = os.environ["SERVERS"].split()
SCENARIOS = os.environ["SCENARIOS"].split()
RUNS = int(os.environ["RUNS"])
ENV = os.environ
TITLES = {
    "echo": f"echo, {int(ENV['ECHO_CONNS']):,} connections x 1 in flight, {ENV['SIZE']} B",
    "fanout1k": f"fan-out to {int(ENV['FANOUT_SMALL']):,} subscribers, {ENV['SIZE']} B, "
    f"{ENV['PUBLISH_INFLIGHT']} publishes in flight",
    "fanout10k": f"fan-out to {int(ENV['FANOUT_BIG']):,} subscribers, {ENV['SIZE']} B, "
    f"{ENV['PUBLISH_INFLIGHT']} publishes in flight",
    "latency": f"fan-out to {int(ENV['FANOUT_BIG']):,} subscribers at {ENV['LATENCY_RATE']} msg/s",
    "idle": f"{int(ENV['IDLE_CONNS']):,} idle connections",
    "http10": f"10 subscribers of one channel, {ENV['SIZE']} B HTTP publishes, "
    f"{ENV['PUBLISH_CONNS']} connections x {ENV['CHAT_INFLIGHT']} in flight",
    "rooms": f"{int(ENV['ROOMS_SUBS']):,} subscribers in {int(ENV['ROOMS']):,} rooms, uniform, "
    f"{ENV['PUBLISH_CONNS']} x {ENV['CHAT_INFLIGHT']} HTTP publishes in flight",
    "roomszipf": f"{int(ENV['ROOMS_SUBS']):,} subscribers in {int(ENV['ROOMS']):,} rooms, --zipf 1, "
    f"{ENV['PUBLISH_CONNS']} x {ENV['CHAT_INFLIGHT']} HTTP publishes in flight",
}
FANOUT = ("fanout1k", "fanout10k", "latency")
CHAT = ("http10", "rooms", "roomszipf")


def load(scen, server, run):
    """The metrics of one run, or {"failed": reason}."""
    base = os.path.join(RES, f"{scen}.{server}.{run}")
    try:
        with open(base + ".rc") as f:
            rc = int(f.read().strip() or "0")
    except FileNotFoundError:
        return None
    try:
        with open(base + ".json") as f:
            j = json.load(f)
    except (FileNotFoundError, ValueError):
        return {"failed": f"client exit {rc}, no JSON"}
    if not j.get("ok", False) or rc not in (0, 130):
        return {"failed": j.get("error") or f"client exit {rc}"}
    c = j["connections"]
    cpu = j["cpu_seconds"]
    win = cpu.get("window") or 0
    m = {
        "conns": j["conns"],
        "opened": c["opened"],
        "conn_failed": c["failed"],
        "conn_lost": c["lost_while_open"],
        "client_cpu": 100 * cpu["client_window"] / win if win else None,
        "server_cpu": 100 * cpu.get("server_window", 0) / win if win else None,
        "client_cpu_s": cpu["client_total"],
        "server_cpu_s": cpu.get("server_total"),
    }
    if scen == "echo":
        e = j["echo"]
        rt = j["latency_ms"]["round_trip"]
        m.update(rate=e["round_trips_per_sec"], p50=rt["p50"], p99=rt["p99"], bad=e["bad_echoes"])
    elif scen == "idle":
        try:
            with open(base + ".mem") as f:
                mem = json.load(f)
        except FileNotFoundError:
            return {"failed": "connections never all open (no VmRSS reading)"}
        held = mem["ready_count"]
        m.update(mem)
        m["held"] = held
        m["bytes_per_conn"] = (mem["rss_held_kb"] - mem["rss_before_kb"]) * 1024 / held if held else None
    else:
        fo = j["fanout"]
        d = j["latency_ms"].get("delivery", {})
        m.update(
            rate=fo["deliveries_per_sec"],
            published=fo["published"],
            pub_rate=fo["published"] / j["window_seconds"] if j["window_seconds"] else 0,
            pub_errors=fo["publish_errors"] + fo["publish_unanswered"],
            expected=fo["expected"],
            delivered=fo["delivered"],
            lost=fo["lost"],
            dup=fo["duplicated"],
            ooo=fo["out_of_order"],
            p50=d.get("p50"),
            p99=d.get("p99"),
            wrong_channel=fo.get("wrong_channel", 0),
            malformed=fo.get("malformed", 0),
        )
    return m


def runs(scen, server):
    return [r for r in (load(scen, server, i) for i in range(1, RUNS + 1)) if r is not None]


def med(rs, key):
    v = [r[key] for r in rs if "failed" not in r and r.get(key) is not None]
    return statistics.median(v) if v else None


def total(rs, key):
    return sum(r.get(key) or 0 for r in rs if "failed" not in r)


def num(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def ms(v):
    if v is None:
        return "-"
    return f"{v:.2f}" if v < 10 else f"{v:,.1f}"


def pct(v):
    return "-" if v is None else f"{v:.0f}%"


def problems(scen, rs, loss=True):
    """Loss, failures and errors summed over the runs, as text ('' when clean); without the
    lost, duplicated and out-of-order counts when loss is False."""
    out = []
    failed = [r["failed"] for r in rs if "failed" in r]
    if failed:
        out.append(f"{len(failed)} of {len(rs)} runs failed ({failed[0]})")
    ok = [r for r in rs if "failed" not in r]
    cf, cl = total(ok, "conn_failed"), total(ok, "conn_lost")
    if cf:
        out.append(f"{cf:,} connections failed to open")
    if cl:
        out.append(f"{cl:,} connections lost")
    if scen == "echo" and total(ok, "bad"):
        out.append(f"{total(ok, 'bad'):,} bad echoes")
    if scen in FANOUT + CHAT:
        exp, lost = total(ok, "expected"), total(ok, "lost")
        if lost and loss:
            out.append(f"lost {lost:,} of {exp:,} deliveries ({100 * lost / exp:.2f}%)")
        if total(ok, "dup") and loss:
            out.append(f"{total(ok, 'dup'):,} duplicated")
        if total(ok, "ooo") and loss:
            out.append(f"{total(ok, 'ooo'):,} out of order")
        if total(ok, "pub_errors"):
            out.append(f"{total(ok, 'pub_errors'):,} publish errors")
    if scen in CHAT:
        if total(ok, "wrong_channel"):
            out.append(f"{total(ok, 'wrong_channel'):,} delivered on a wrong channel")
        if total(ok, "malformed"):
            out.append(f"{total(ok, 'malformed'):,} malformed")
    return "; ".join(out)


def run_line(scen, server, run):
    r = load(scen, server, run)
    head = f"  {scen} {server} run {run}/{RUNS}:"
    if r is None:
        return f"{head} no result"
    if "failed" in r:
        return f"{head} FAILED: {r['failed']}"
    p = problems(scen, [r])
    tail = f"  ** {p} **" if p else ""
    if scen == "echo":
        return (f"{head} {num(r['rate'])} round trips/s, p50 {ms(r['p50'])} ms, p99 {ms(r['p99'])} ms, "
                f"CPU client {pct(r['client_cpu'])} server {pct(r['server_cpu'])}{tail}")
    if scen == "idle":
        return (f"{head} {r['held']:,} held on {r['path']}, VmRSS {r['rss_before_kb']:,} -> "
                f"{r['rss_held_kb']:,} kB = {num(r['bytes_per_conn'])} B per connection, "
                f"CPU client {r['client_cpu_s']:.2f} s server {r['server_cpu_s'] or 0:.2f} s{tail}")
    return (f"{head} {num(r['rate'])} deliveries/s ({r['published']:,} messages, {num(r['pub_rate'])}/s "
            f"published), delivery p50 {ms(r['p50'])} ms p99 {ms(r['p99'])} ms, "
            f"delivered {r['delivered']:,} of {r['expected']:,}, "
            f"CPU client {pct(r['client_cpu'])} server {pct(r['server_cpu'])}{tail}")


def scenario_summary(scen):
    lines = [f"{TITLES[scen]}: medians of {RUNS} run(s)"]
    for s in SERVERS:
        rs = runs(scen, s)
        if not rs:
            continue
        p = problems(scen, rs)
        p = f"  ** {p} **" if p else ""
        cpu = f"CPU client {pct(med(rs, 'client_cpu'))} server {pct(med(rs, 'server_cpu'))}"
        if scen == "echo":
            lines.append(f"  {s:9} {num(med(rs, 'rate')):>10} round trips/s  p50 {ms(med(rs, 'p50'))} ms  "
                         f"p99 {ms(med(rs, 'p99'))} ms  {cpu}{p}")
        elif scen == "idle":
            lines.append(f"  {s:9} {num(med(rs, 'bytes_per_conn')):>10} B per connection  VmRSS "
                         f"{num(med(rs, 'rss_before_kb'))} -> {num(med(rs, 'rss_held_kb'))} kB  "
                         f"CPU client {med(rs, 'client_cpu_s') or 0:.2f} s server "
                         f"{med(rs, 'server_cpu_s') or 0:.2f} s{p}")
        else:
            lines.append(f"  {s:9} {num(med(rs, 'rate')):>10} deliveries/s  {num(med(rs, 'pub_rate'))} msg/s "
                         f"published  p50 {ms(med(rs, 'p50'))} ms  p99 {ms(med(rs, 'p99'))} ms  {cpu}{p}")
    return "\n".join(lines)


def ratio_cell(value, text, server, base, higher_better):
    """'text (ringcast / peer = 2.1x)' for a peer; ratios read 'how many times ringcast is better'."""
    if server == "ringcast" or base is None or value is None or value == 0 or base == 0:
        return text
    if higher_better:
        return f"{text} (ringcast / {server} = {base / value:.2f}x)"
    return f"{text} ({server} / ringcast = {value / base:.2f}x)"


def table():
    cols = SERVERS
    rows = []

    def metric_row(label, scen, key, fmt, higher_better, flag_loss=False):
        cells = []
        base = med(runs(scen, "ringcast"), key) if "ringcast" in cols else None
        for s in cols:
            rs = runs(scen, s)
            if not rs:
                cells.append("-")
                continue
            if all("failed" in r for r in rs):
                cells.append(f"failed: {rs[0]['failed']}")
                continue
            v = med(rs, key)
            text = fmt(v)
            if flag_loss and problems(scen, rs):
                text += " ⚠"
            cells.append(ratio_cell(v, text, s, base, higher_better))
        rows.append([label] + cells)

    def text_row(label, scen, fn):
        cells = []
        for s in cols:
            rs = runs(scen, s)
            ok = [r for r in rs if "failed" not in r]
            cells.append(fn(rs, ok) if ok else ("-" if not rs else "failed"))
        rows.append([label] + cells)

    def cpu(rs, ok):
        return f"{pct(med(ok, 'client_cpu'))} / {pct(med(ok, 'server_cpu'))}"

    def correctness(scen):
        return lambda rs, ok: problems(scen, rs) or "none"

    def loss_counts(scen):
        def cell(rs, ok):
            text = f"{total(ok, 'lost'):,} / {total(ok, 'dup'):,} / {total(ok, 'ooo'):,}"
            other = problems(scen, rs, loss=False)
            return f"{text}; {other}" if other else text
        return cell

    for scen in SCENARIOS:
        if scen == "echo":
            metric_row("echo: round trips/s", scen, "rate", num, True, True)
            metric_row("echo: p99 round trip (ms)", scen, "p99", ms, False)
            text_row("echo: CPU client / server", scen, cpu)
            text_row("echo: failures", scen, correctness(scen))
        elif scen in ("fanout1k", "fanout10k"):
            n = int(ENV["FANOUT_SMALL" if scen == "fanout1k" else "FANOUT_BIG"])
            label = f"fan-out {n:,}"
            metric_row(f"{label}: deliveries/s", scen, "rate", num, True, True)
            text_row(f"{label}: messages/s published", scen, lambda rs, ok: num(med(ok, "pub_rate")))
            text_row(f"{label}: p50 / p99 delivery (ms)", scen,
                     lambda rs, ok: f"{ms(med(ok, 'p50'))} / {ms(med(ok, 'p99'))}")
            text_row(f"{label}: CPU client / server", scen, cpu)
            text_row(f"{label}: loss and errors (all runs)", scen, correctness(scen))
        elif scen == "latency":
            label = f"{int(ENV['FANOUT_BIG']):,} subs @ {ENV['LATENCY_RATE']} msg/s"
            metric_row(f"{label}: p50 delivery (ms)", scen, "p50", ms, False, True)
            metric_row(f"{label}: p99 delivery (ms)", scen, "p99", ms, False, True)
            text_row(f"{label}: messages/s published", scen, lambda rs, ok: num(med(ok, "pub_rate"), 1))
            text_row(f"{label}: CPU client / server", scen, cpu)
            text_row(f"{label}: loss and errors (all runs)", scen, correctness(scen))
        elif scen == "idle":
            label = f"idle {int(ENV['IDLE_CONNS']):,}"
            metric_row(f"{label}: bytes per connection", scen, "bytes_per_conn", num, False, True)
            text_row(f"{label}: VmRSS before -> held (kB)", scen,
                     lambda rs, ok: f"{num(med(ok, 'rss_before_kb'))} -> {num(med(ok, 'rss_held_kb'))}")
            text_row(f"{label}: held (endpoint)", scen,
                     lambda rs, ok: f"{num(med(ok, 'held'))} ({ok[0]['path']})")
            text_row(f"{label}: failures", scen, correctness(scen))
        elif scen in CHAT:
            if scen == "http10":
                label = f"http10 (10 subs, {ENV['PUBLISH_CONNS']}x{ENV['CHAT_INFLIGHT']} HTTP)"
            else:
                label = f"{scen} ({int(ENV['ROOMS_SUBS']):,} subs / {int(ENV['ROOMS']):,} rooms)"
            metric_row(f"{label}: publishes/s", scen, "pub_rate", num, True, True)
            metric_row(f"{label}: deliveries/s", scen, "rate", num, True, True)
            text_row(f"{label}: p50 / p99 delivery (ms)", scen,
                     lambda rs, ok: f"{ms(med(ok, 'p50'))} / {ms(med(ok, 'p99'))}")
            text_row(f"{label}: CPU client / server", scen, cpu)
            text_row(f"{label}: lost / dup / out of order (all runs)", scen, loss_counts(scen))
    out = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def any_problem():
    return any(problems(sc, runs(sc, s)) for sc in SCENARIOS for s in SERVERS)


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "run":
        print(run_line(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif what == "scenario":
        print(scenario_summary(sys.argv[2]))
    elif what == "table":
        print(table())
    elif what == "problems":
        sys.exit(1 if any_problem() else 0)
PY
export WORK SERVERS SCENARIOS RUNS ECHO_CONNS FANOUT_SMALL FANOUT_BIG IDLE_CONNS SIZE \
    PUBLISH_INFLIGHT LATENCY_RATE PUBLISH_CONNS CHAT_INFLIGHT ROOMS ROOMS_SUBS

# ---- header: what was measured, on what ------------------------------------------------

versions() {
    local v
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), $(nproc) CPUs" \
        "($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), load average at start" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    v=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || v="$v (with uncommitted changes)"
    has_server ringcast && echo "- ringcast: commit $v, binary $RINGCAST, \`--threads 1\`"
    echo "- client: $BENCH, on CPU $CLIENT_CPU; servers on CPU $SERVER_CPU"
    if has_server nchan; then
        echo "- nchan: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), libnginx-mod-nchan" \
            "$(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null || echo '?')," \
            "one process (master_process off), bench/peers/nchan/nginx.conf.in"
    fi
    if has_server go-hub; then
        echo "- go-hub: $("$GO" version | sed 's/^go version //'), gorilla/websocket" \
            "$(dpkg-query -W -f '${Version}' golang-github-gorilla-websocket-dev 2>/dev/null || echo '?')," \
            "GOMAXPROCS=1, bench/peers/go-hub/main.go"
    fi
    if has_server node-ws; then
        echo "- node-ws: Node $("$NODE" --version), ws" \
            "$(cd "$ROOT/bench/peers/node-ws" && "$NODE" -p "require('ws/package.json').version" 2>/dev/null || echo '?')," \
            "bench/peers/node-ws/server.mjs"
    fi
    echo "- $RUNS run(s) per server and scenario, each against a freshly started server;" \
        "DURATION $DURATION, drain timeout $DRAIN_TIMEOUT; medians"
}

HEADER=$(versions)
echo "ringcast side-by-side comparison; work files in $WORK"
echo "$HEADER"
echo

for scen in $SCENARIOS; do
    echo "== $scen"
    for ((run = 1; run <= RUNS; run++)); do
        for server in $SERVERS; do
            run_one "$scen" "$server" "$run"
        done
    done
    "$PYTHON" "$WORK/report.py" scenario "$scen"
    echo
done

{
    echo "# ringcast compared with nchan, a Go gorilla/websocket hub and Node ws"
    echo
    echo "$HEADER"
    echo
    echo "Generated by \`bench/compare.sh\` (SERVERS=\"$SERVERS\" SCENARIOS=\"$SCENARIOS\")."
    echo "Ratios read as how many times better ringcast is: ringcast / peer for rates, peer /"
    echo "ringcast for latency and memory. ⚠ marks a figure whose runs lost messages or"
    echo "connections, failed, or had errors (see the loss rows). CPU is the share of one core"
    echo "over the measured window (client / server); the idle scenario has none. The chat rows"
    echo "(http10, rooms, roomszipf) are bench/rooms.sh's workload: the peers serve channel NAME"
    echo "on /ws/NAME and POST /publish/NAME; lost / dup / out of order are summed over all runs."
    echo
    "$PYTHON" "$WORK/report.py" table
} >"$OUT"
echo "== summary (also in $OUT)"
sed -n '/^| /,$p' "$OUT"
if ! "$PYTHON" "$WORK/report.py" problems; then
    warn "some runs lost messages, lost connections or failed: see the table"
    exit 1
fi
