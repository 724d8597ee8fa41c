#!/usr/bin/env bash
# One node alone against three nodes joined through Redis, measured by ringcast-bench. The
# gateway side (the one node, or the three nodes and redis-server) is pinned to GATEWAY_CPU,
# the client to CLIENT_CPU; every run gets fresh processes; each scenario runs RUNS times,
# interleaved, and the medians are reported with the CPU of every process.
#
# Scenarios:
#   single10k   one node (--threads 1), SUBS subscribers of one channel, HTTP publishes
#               as fast as absorbed (PUBLISH_CONNS connections x PUBLISH_INFLIGHT in flight)
#   cluster10k  three nodes (--threads 1 each) and one redis-server; the SUBS subscribers are
#               spread over the three nodes and the publishers over their APIs
#   Both run once per depth in PUBLISH_INFLIGHT (a list: "8 32" sweeps). "As fast as
#   absorbed" depends on the depth: a publisher sends its next request when an answer comes
#   back, so the depth sets how many messages wait to be written, and a writev carries what
#   waited. Each setup's capacity is its best depth, with the latency that came with it.
#   cluster45k  the three nodes with BIG_SUBS subscribers (BIG_PROCS client processes, the
#               per-process open-file limit), publishing at BIG_RATE messages/s: zero loss
#
# Usage:
#   bench/cluster.sh                                   # all three, medians of 3
#   PUBLISH_INFLIGHT="4 8 16 32 64" SCENARIOS="single10k cluster10k" bench/cluster.sh
#   RUNS=1 DURATION=2s SUBS=1000 SCENARIOS="single10k cluster10k" bench/cluster.sh  # smoke
#
# Environment (defaults in brackets): RINGCAST [build/ringcast] BENCH
#   [build/bench/ringcast-bench] REDIS [redis-server] SCENARIOS [all] RUNS [3] DURATION [5s]
#   SIZE [64] SUBS [10000] PUBLISH_CONNS [3] PUBLISH_INFLIGHT ["8 32"] BIG_SUBS [45000]
#   BIG_PROCS [3] BIG_RATE [20] BIG_DURATION [10s] SRC [127.0.0.1-127.0.0.16]
#   GATEWAY_CPU [1] CLIENT_CPU [0] OUT [build/cluster.md] WORK [a new /tmp/ringcast-cluster.*]
#   PROFILE [empty; 1: perf record -g every gateway-side process of every run for
#   PROFILE_SECONDS (3) once publishing started, into WORK/TAG.perf.data]
# Bounded: every client run has a timeout (RUN_TIMEOUT, 180 s). It stops only the processes
# it started, by pid, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BENCH=${BENCH:-build/bench/ringcast-bench}
REDIS=${REDIS:-redis-server}
SCENARIOS=${SCENARIOS:-single10k cluster10k cluster45k}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
SIZE=${SIZE:-64}
SUBS=${SUBS:-10000}
PUBLISH_CONNS=${PUBLISH_CONNS:-3}
PUBLISH_INFLIGHT=${PUBLISH_INFLIGHT:-8 32}
BIG_SUBS=${BIG_SUBS:-45000}
BIG_PROCS=${BIG_PROCS:-3}
BIG_RATE=${BIG_RATE:-20}
BIG_DURATION=${BIG_DURATION:-10s}
SRC=${SRC:-127.0.0.1-127.0.0.16}
GATEWAY_CPU=${GATEWAY_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-build/cluster.md}
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
PROFILE=${PROFILE:-}
PROFILE_SECONDS=${PROFILE_SECONDS:-3}
PYTHON=/usr/bin/python3

die() {
    printf 'cluster.sh: %s\n' "$*" >&2
    exit 1
}

[[ -x $RINGCAST ]] || die "no ringcast binary at $RINGCAST (build it, or set RINGCAST)"
[[ -x $BENCH ]] || die "no bench client at $BENCH (build it, or set BENCH)"
command -v "$REDIS" >/dev/null || die "no $REDIS (apt-get install redis-server)"
[[ -x $PYTHON ]] || die "$PYTHON is needed to read the JSON results"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
for s in $SCENARIOS; do
    case $s in
        single10k | cluster10k | cluster45k) ;;
        *) die "unknown scenario '$s'" ;;
    esac
done

WORK=${WORK:-$(mktemp -d /tmp/ringcast-cluster.XXXXXX)}
mkdir -p "$WORK/results" "$(dirname -- "$OUT")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- processes this script started: stopped by pid, also on exit and Ctrl-C -------------

# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis TAG: sets REDIS_PID, REDIS_ADDR.
start_redis() {
    local port i
    port=$(free_port)
    mkdir -p "$WORK/$1.redis"
    taskset -c "$GATEWAY_CPU" "$REDIS" --port "$port" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$WORK/$1.redis" >"$WORK/$1.redis.log" 2>&1 &
    REDIS_PID=$!
    STARTED+=("$REDIS_PID")
    REDIS_ADDR=127.0.0.1:$port
    for ((i = 0; i < 100; i++)); do
        grep -q 'Ready to accept connections' "$WORK/$1.redis.log" 2>/dev/null && return
        sleep 0.1
    done
    die "redis-server did not start; see $WORK/$1.redis.log"
}

# start_node TAG ARGS...: appends to NODE_PIDS, NODE_WS, NODE_API.
NODE_PIDS=() NODE_WS=() NODE_API=()
start_node() {
    local tag=$1 log=$WORK/$1.node.log i
    shift
    taskset -c "$GATEWAY_CPU" "$RINGCAST" --threads 1 --dev --listen 127.0.0.1:0 \
        --api-listen 127.0.0.1:0 --publish-listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    wait_listen "$log" "$pid" || die "$RINGCAST did not start; see $log"
    NODE_PIDS+=("$pid")
    NODE_WS+=("$(sed -n 's/^listen ws //p' "$log" | head -n 1)")
    NODE_API+=("$(sed -n 's/^listen api //p' "$log" | head -n 1)")
}

# run_one SCENARIO TAG [INFLIGHT]
run_one() {
    local scen=$1 tag=$2 inflight=${3:-} rc=0 client n
    NODE_PIDS=() NODE_WS=() NODE_API=()
    local pids=() urls=() pubs=() args=()
    if [[ $scen == single10k ]]; then
        start_node "$tag.n0"
    else
        start_redis "$tag"
        for n in 0 1 2; do start_node "$tag.n$n" --redis "$REDIS_ADDR" --node-id "n$n"; done
    fi
    for n in "${!NODE_PIDS[@]}"; do
        pids+=("${NODE_PIDS[n]}")
        urls+=(--url "ws://${NODE_WS[n]}/ws?user=bench")
        pubs+=(--publish-url "http://${NODE_API[n]}/api/publish")
    done
    [[ $scen == single10k ]] || pids+=("$REDIS_PID")
    case $scen in
        single10k | cluster10k)
            args=(--conns "$SUBS" --publish-conns "$PUBLISH_CONNS"
                --publish-inflight "$inflight" --duration "$DURATION") ;;
        cluster45k)
            args=(--conns "$BIG_SUBS" --procs "$BIG_PROCS" --rate "$BIG_RATE"
                --publish-conns "$PUBLISH_CONNS" --duration "$BIG_DURATION") ;;
    esac
    local pidlist
    pidlist=$(IFS=,; echo "${pids[*]}")
    local cmd=("$BENCH" fanout "${urls[@]}" --channel news --size "$SIZE" --src "$SRC"
        "${pubs[@]}" "${args[@]}" --server-pid "$pidlist" --json "$WORK/results/$tag.json"
        --quiet --drain-timeout 10s --ready-file "$WORK/$tag.ready")
    [[ -z $PROFILE ]] ||
        profile_when_ready "$WORK/$tag.ready" "$WORK/$tag.perf.data" "$PROFILE_SECONDS" "$pidlist"
    echo "$tag: ${cmd[*]}" >>"$WORK/commands.txt"
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "${cmd[@]}" >"$WORK/$tag.client.log" 2>&1 &
    client=$!
    STARTED+=("$client")
    wait "$client" || rc=$?
    stop_pid "$client"
    [[ $rc == 0 ]] || printf 'cluster.sh: %s: client exit %s (%s)\n' "$tag" "$rc" \
        "$(tail -n 1 "$WORK/$tag.client.log")" >&2
    stop_started
}

START=$(date +%s)
for depth in $PUBLISH_INFLIGHT; do
    [[ $depth =~ ^[1-9][0-9]*$ ]] || die "PUBLISH_INFLIGHT must list positive numbers"
done
for ((r = 1; r <= RUNS; r++)); do
    for scen in $SCENARIOS; do
        if [[ $scen == cluster45k ]]; then
            run_one "$scen" "$scen.$r"
        else
            for depth in $PUBLISH_INFLIGHT; do run_one "$scen" "$scen.if$depth.$r" "$depth"; done
        fi
        printf '%s run %d done (%ds)\n' "$scen" "$r" "$(($(date +%s) - START))"
    done
done

"$PYTHON" - "$WORK" "$OUT" "$SCENARIOS" "$RUNS" "$PUBLISH_INFLIGHT" <<'EOF'
import json, statistics, sys
work, out, scens, runs = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4])
depths = [int(d) for d in sys.argv[5].split()]

def load(tag):
    try:
        j = json.load(open(f"{work}/results/{tag}.json"))
    except (OSError, ValueError):
        return None
    f, cpu = j.get("fanout", {}), j.get("cpu_seconds", {})
    w = cpu.get("window") or 1
    m = {"del": f.get("deliveries_per_sec"), "pub": f.get("publishes_per_sec"),
         "lost": f.get("lost"), "dup": f.get("duplicated"), "ooo": f.get("out_of_order"),
         "p50": j["latency_ms"]["delivery"].get("p50"), "p99": j["latency_ms"]["delivery"].get("p99"),
         "ccpu": 100 * cpu.get("client_window", 0) / w}
    for i, s in enumerate(cpu.get("servers", [])):
        m[f"cpu{i}"] = 100 * s["window"] / w
    m["scpu"] = 100 * cpu.get("server_window", 0) / w
    return m

def med(cell, key):
    vals = [m[key] for m in (load(f"{cell}.{r}") for r in range(1, runs + 1))
            if m and m.get(key) is not None]
    return statistics.median(vals) if vals else None

def num(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"

names = {"single10k": "one node", "cluster10k": "three nodes + Redis",
         "cluster45k": "three nodes + Redis, 45,000 subscribers"}
# (scenario, cell tag, in flight per publisher)
cells = []
for s in scens:
    if s == "cluster45k":
        cells.append((s, s, "-"))
    else:
        cells += [(s, f"{s}.if{d}", d) for d in depths]
head = ("| setup | in flight | deliveries/s | messages/s | p50 ms | p99 ms | lost | dup | "
        "out of order | CPU node 1 | node 2 | node 3 | Redis | gateway side total | client |")
lines = [f"medians of {runs}", "", head, "|" + "---|" * (head.count("|") - 1)]
for s, cell, d in cells:
    cpus = [num(med(cell, f"cpu{i}")) + "%" if med(cell, f"cpu{i}") is not None else "-"
            for i in range(4)]
    lines.append(f"| {names[s]} | {d} | {num(med(cell, 'del'))} | {num(med(cell, 'pub'))} | "
                 f"{num(med(cell, 'p50'), 1)} | {num(med(cell, 'p99'), 1)} | "
                 f"{num(med(cell, 'lost'))} | {num(med(cell, 'dup'))} | {num(med(cell, 'ooo'))} | "
                 + " | ".join(cpus) + f" | {num(med(cell, 'scpu'))}% | {num(med(cell, 'ccpu'))}% |")
if "single10k" in scens and "cluster10k" in scens:
    lines.append("")
    for d in depths:
        a, b = med(f"cluster10k.if{d}", "del"), med(f"single10k.if{d}", "del")
        if a and b:
            lines.append(f"three nodes through Redis / one node at {d} in flight: {a / b:.2f}x")

    def best(s):
        got = [(med(f"{s}.if{d}", "del"), d) for d in depths if med(f"{s}.if{d}", "del")]
        return max(got) if got else None

    a, b = best("cluster10k"), best("single10k")
    if a and b:
        lines.append(f"capacity, each setup at its best depth: {a[0] / b[0]:.2f}x "
                     f"(three nodes at {a[1]} in flight, p50 "
                     f"{num(med(f'cluster10k.if{a[1]}', 'p50'))} ms; one node at {b[1]}, p50 "
                     f"{num(med(f'single10k.if{b[1]}', 'p50'))} ms)")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
EOF
echo "results and commands: $WORK (table in $OUT)"
