#!/usr/bin/env bash
# User-space instructions per HTTP publish, counted by callgrind: a measure of what the publish
# path costs in user space that does not move with the machine (a VM's wall clock can move by
# 15% from one minute to the next, more than most changes to this path are worth).
#
# The server runs under `valgrind --tool=callgrind` (--threads 1); ringcast-bench publishes
# MESSAGES messages of SIZE bytes over HTTP to one channel of 10 subscribers, then, against a
# fresh server, twice as many. The difference of the two totals over MESSAGES is what one
# publish costs: start-up, connecting and shutdown cancel out. Only user space is counted
# (ringcast and its libraries); the kernel's part (writev, read, epoll) is what rooms.sh and
# perf measure. Valgrind's CPU has no AVX-512, so simdjson runs its AVX2 kernels here, and the
# server is slow enough that it sees bigger batches than at full speed: compare two binaries
# with each other, not with a wall-clock profile.
#
# Usage:
#   RINGCAST=build/ringcast bench/instructions.sh
#   RINGCAST=build/ringcast BASELINE=/path/to/old/ringcast bench/instructions.sh   # with a ratio
#
# Environment (defaults in brackets): RINGCAST [build/ringcast] BASELINE [none]
#   BENCH [build/bench/ringcast-bench] MESSAGES [20000] SIZE [64] PUBLISH_CONNS [4]
#   PUBLISH_INFLIGHT [16] TOP [12]: functions listed per binary (of the larger run, by
#   instructions of their own) SERVER_CPU [1] CLIENT_CPU [0] WORK [a new /tmp/ringcast-instr.*]
# Needs valgrind (apt-get install valgrind). Bounded: every client run has a timeout
# (RUN_TIMEOUT, 180 s); it stops only the processes it started, by pid.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BASELINE=${BASELINE:-}
BENCH=${BENCH:-build/bench/ringcast-bench}
MESSAGES=${MESSAGES:-20000}
SIZE=${SIZE:-64}
PUBLISH_CONNS=${PUBLISH_CONNS:-4}
PUBLISH_INFLIGHT=${PUBLISH_INFLIGHT:-16}
TOP=${TOP:-12}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
RUN_TIMEOUT=${RUN_TIMEOUT:-180}
PYTHON=/usr/bin/python3

die() {
    printf 'instructions.sh: %s\n' "$*" >&2
    exit 1
}
command -v valgrind >/dev/null || die "valgrind is needed (apt-get install valgrind)"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate (valgrind) is needed"
[[ -x $RINGCAST ]] || die "no ringcast at $RINGCAST"
[[ -z $BASELINE || -x $BASELINE ]] || die "no baseline at $BASELINE"
[[ -x $BENCH ]] || die "no bench client at $BENCH (build it, or set BENCH)"
[[ -x $PYTHON ]] || die "$PYTHON is needed to read the JSON results"
[[ $MESSAGES =~ ^[1-9][0-9]*$ ]] || die "MESSAGES must be a positive number"

WORK=${WORK:-$(mktemp -d /tmp/ringcast-instr.XXXXXX)}
mkdir -p "$WORK"

# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"

# total_ir BINARY TAG COUNT: the server's user-space instructions for COUNT publishes.
total_ir() {
    local bin=$1 tag=$2 count=$3 log=$WORK/$2.server.log out=$WORK/$2.callgrind pid rc=0 i
    local help dev=()
    help=$("$bin" --help 2>/dev/null || true)
    [[ $help == *--dev* ]] && dev=(--dev)
    taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$bin" --threads 1 --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --publish-listen 127.0.0.1:0 "${dev[@]}" >"$log" 2>&1 &
    pid=$!
    STARTED+=("$pid")
    wait_listen "$log" "$pid" || die "$bin did not start under valgrind; see $log"
    local ws api
    ws=$(sed -n 's/^listen ws //p' "$log" | head -n 1)
    api=$(sed -n 's/^listen api //p' "$log" | head -n 1)
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$BENCH" fanout \
        --url "ws://$ws/ws?user=bench" --channel room --size "$SIZE" --conns 10 \
        --publish-url="http://$api/api/publish" --publish-conns "$PUBLISH_CONNS" \
        --publish-inflight "$PUBLISH_INFLIGHT" --messages "$count" --duration 120s \
        --drain-timeout 30s --quiet --json "$WORK/$tag.json" >"$WORK/$tag.client.log" 2>&1 ||
        rc=$?
    # SIGINT: the server drains and exits, and callgrind writes its counts on the way out.
    kill -INT "$pid" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$pid" # only if it did not exit in 60 s (then there are no counts)
    [[ $rc == 0 ]] || die "$tag: client exit $rc; see $WORK/$tag.client.log"
    local acked
    acked=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["fanout"]["acked"])' \
        "$WORK/$tag.json")
    [[ $acked == "$count" ]] || die "$tag: $acked of $count publishes answered"
    [[ -s $out ]] || die "$tag: no callgrind output in $out"
    callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}

# per_publish BINARY TAG: prints the instructions of one publish; the top functions go to WORK.
per_publish() {
    local one two
    one=$(total_ir "$1" "$2.n" "$MESSAGES")
    two=$(total_ir "$1" "$2.2n" $((2 * MESSAGES)))
    callgrind_annotate "$WORK/$2.2n.callgrind" 2>/dev/null |
        awk '/file:function/ { on = 1; getline; next } on && NF { print }' |
        head -n "$TOP" >"$WORK/$2.top.txt"
    echo $(((two - one) / MESSAGES))
}

START=$(date +%s)
new=$(per_publish "$RINGCAST" new)
printf 'ringcast %s: %s user-space instructions per publish (%s x %s in flight, %s B, 10 subscribers)\n' \
    "$RINGCAST" "$new" "$PUBLISH_CONNS" "$PUBLISH_INFLIGHT" "$SIZE"
if [[ -n $BASELINE ]]; then
    base=$(per_publish "$BASELINE" base)
    printf 'baseline %s: %s per publish; ratio %s\n' "$BASELINE" "$base" \
        "$("$PYTHON" -c 'import sys; print(f"{int(sys.argv[1]) / int(sys.argv[2]):.3f}x")' "$new" "$base")"
fi
printf '\nTop functions by their own instructions (%s publishes, whole run):\n' $((2 * MESSAGES))
for f in "$WORK"/*.top.txt; do
    printf '\n%s:\n' "$(basename -- "$f" .top.txt)"
    cut -c1-150 "$f"
done
printf '\n(%ds; callgrind files and logs in %s)\n' "$(($(date +%s) - START))" "$WORK"
