#!/usr/bin/env bash
# The chat workload table (many small rooms, high publish rates, lean sessions), measured by
# ringcast-bench against a ringcast binary, optionally next to a second one for same-run
# ratios. Every run gets a freshly started server (--threads 1, pinned to SERVER_CPU); the
# client is pinned to CLIENT_CPU; each scenario runs RUNS times (interleaved with BASELINE
# when given) and the medians are reported with both sides' CPU; the publish rows also give
# the server's CPU per publish (its time over the measured window / publishes made), which
# compares two binaries even when the client, not the server, bounds the rate.
#
# Scenarios:
#   http10     10 subscribers of one channel, 64 B HTTP publishes as fast as absorbed
#              (PUBLISH_CONNS connections x PUBLISH_INFLIGHT pipelined)
#   http10@CxI the same by C publisher connections with I requests in flight on each, e.g.
#              http10@1x32: one keep-alive connection, as a single backend publishes
#   tcp10      the same through the TCP publish protocol (PUB, pipelined, PING sync), as fast
#              as the subscribers read: at most TCP_WINDOW deliveries due and not yet received
#              (--delivery-window; the protocol has no answer per message to hold it back)
#   rooms      ROOMS_SUBS subscribers in ROOMS channels (rooms of 10), HTTP as fast as absorbed,
#              publishes spread uniformly
#   roomszipf  the same with --zipf 1 (a few hot rooms)
#   fanout10k  FANOUT_BIG subscribers of one channel, 1 HTTP publisher, 8 in flight
#   fanout1k   FANOUT_SMALL subscribers, the same
#   latency    FANOUT_BIG subscribers at LATENCY_RATE messages/s: publish-to-delivery p50/p99
#   idle       IDLE_CONNS /ws sessions with one subscription each (rooms of 10) and a trickle of
#              IDLE_RATE messages/s: server VmRSS before and while held, per connection
#
# Usage:
#   RINGCAST=path/to/ringcast bench/rooms.sh
#   RINGCAST=build/ringcast BASELINE=/path/to/old/ringcast bench/rooms.sh   # with ratios
#   RUNS=1 DURATION=2s SCENARIOS="http10 tcp10" bench/rooms.sh               # smoke run
#
# Environment (defaults in brackets): RINGCAST [build/ringcast] BASELINE [none]
#   BENCH [build/bench/ringcast-bench] SCENARIOS [all of the above] RUNS [3] DURATION [5s]
#   SIZE [64] PUBLISH_CONNS [4] PUBLISH_INFLIGHT [16] TCP_WINDOW [16384] ROOMS_SUBS [10000] ROOMS [1000]
#   FANOUT_BIG [10000] FANOUT_SMALL [1000] LATENCY_RATE [20] LATENCY_DURATION [10s]
#   IDLE_CONNS [18000] IDLE_CHANNELS [IDLE_CONNS/10] IDLE_RATE [2] IDLE_WARMUP [empty; 1: 200
#   sessions come and go before the baseline RSS is read] SRC [127.0.0.1-127.0.0.4] SERVER_CPU [1] CLIENT_CPU [0]
#   READER_NICE [0]: the chat rows (http10, tcp10, rooms, roomszipf) run the subscribers'
#       worker process at this nice value (--reader-nice; 0 = unchanged). The client's
#       publisher and readers share CLIENT_CPU; with the readers at 10 a publisher whose
#       answers arrived runs at once, as a backend on a machine of its own would, but the
#       readers can then fall behind a 4 x 16 publisher and be cut off as slow consumers
#       (BENCHMARKS.md, "Who waits at 1 x 16"): not for the table
#   KEEP_AWAKE [unset]: 1 runs a SCHED_IDLE busy loop on both CPUs meanwhile (see
#       keep_awake in bench/started.sh: a VM whose idle vCPUs halt wakes them slowly; on a
#       VM that does not, the loops slow both sides down: try a short run each way first)
#   OUT [build/rooms.md] WORK [a new /tmp/ringcast-rooms.*]
#   PROFILE [empty; 1: perf record -g the server of every run for PROFILE_SECONDS (3) once
#   publishing started, into WORK/TAG.perf.data]
# Bounded: every client run has a timeout (RUN_TIMEOUT, 120 s); the default set takes about
# 6 minutes for one binary. It stops only the processes it started, by pid, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BASELINE=${BASELINE:-}
BENCH=${BENCH:-build/bench/ringcast-bench}
# More flags for both servers, e.g. SERVER_ARGS="--max-outbuf 16MiB" (word-split).
SERVER_ARGS=${SERVER_ARGS:-}
SCENARIOS=${SCENARIOS:-http10 tcp10 rooms roomszipf fanout10k fanout1k latency idle}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
SIZE=${SIZE:-64}
PUBLISH_CONNS=${PUBLISH_CONNS:-4}
PUBLISH_INFLIGHT=${PUBLISH_INFLIGHT:-16}
TCP_WINDOW=${TCP_WINDOW:-16384}
ROOMS_SUBS=${ROOMS_SUBS:-10000}
ROOMS=${ROOMS:-1000}
FANOUT_BIG=${FANOUT_BIG:-10000}
FANOUT_SMALL=${FANOUT_SMALL:-1000}
LATENCY_RATE=${LATENCY_RATE:-20}
LATENCY_DURATION=${LATENCY_DURATION:-10s}
IDLE_CONNS=${IDLE_CONNS:-18000}
IDLE_RATE=${IDLE_RATE:-2}
IDLE_WARMUP=${IDLE_WARMUP:-}
READER_NICE=${READER_NICE:-0}
SRC=${SRC:-127.0.0.1-127.0.0.4}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-build/rooms.md}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
PROFILE=${PROFILE:-}
PROFILE_SECONDS=${PROFILE_SECONDS:-3}
PYTHON=/usr/bin/python3

die() {
    printf 'rooms.sh: %s\n' "$*" >&2
    exit 1
}

[[ -x $RINGCAST ]] || die "no ringcast binary at $RINGCAST (build it, or set RINGCAST)"
[[ -z $BASELINE || -x $BASELINE ]] || die "no binary at BASELINE=$BASELINE"
[[ -x $BENCH ]] || die "no bench client at $BENCH (build it, or set BENCH)"
[[ -x $PYTHON ]] || die "$PYTHON is needed to read the JSON results"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
[[ $READER_NICE =~ ^([0-9]|1[0-9])$ ]] || die "READER_NICE is a nice value of 0-19"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
for s in $SCENARIOS; do
    case $s in
        http10 | tcp10 | rooms | roomszipf | fanout10k | fanout1k | latency | idle) ;;
        http10@*) [[ $s =~ ^http10@[1-9][0-9]*x[1-9][0-9]*$ ]] ||
            die "a publisher shape is http10@CONNSxINFLIGHT, not '$s'" ;;
        *) die "unknown scenario '$s'" ;;
    esac
done

WORK=${WORK:-$(mktemp -d /tmp/ringcast-rooms.XXXXXX)}
mkdir -p "$WORK/results" "$(dirname -- "$OUT")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- processes this script started: stopped by pid, also on exit and Ctrl-C -------------

# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"
keep_awake "$SERVER_CPU" "$CLIENT_CPU"

# start_server BINARY TAG: sets SRV_PID, SRV_WS, SRV_API, SRV_PUB.
start_server() {
    local bin=$1 log=$WORK/$2.server.log i dev=()
    # Binaries that know --dev refuse to start without it (or a JWT secret); older ones lack it.
    local help
    help=$("$bin" --help 2>/dev/null || true) # not piped into grep -q: SIGPIPE under pipefail
    [[ $help == *--dev* ]] && dev=(--dev)
    taskset -c "$SERVER_CPU" "$bin" --threads 1 --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --publish-listen 127.0.0.1:0 "${dev[@]}" $SERVER_ARGS >"$log" 2>&1 &
    SRV_PID=$!
    STARTED+=("$SRV_PID")
    wait_listen "$log" "$SRV_PID" || die "$bin did not start; see $log"
    SRV_WS=$(sed -n 's/^listen ws //p' "$log" | head -n 1)
    SRV_API=$(sed -n 's/^listen api //p' "$log" | head -n 1)
    SRV_PUB=$(sed -n 's/^listen publish //p' "$log" | head -n 1)
}

# run_one SCENARIO BINARY TAG
run_one() {
    local scen=$1 bin=$2 tag=$3 client rc=0 i before
    start_server "$bin" "$tag"
    local common=(fanout --url "ws://$SRV_WS/ws?user=bench" --channel room --size "$SIZE"
        --server-pid "$SRV_PID" --json "$WORK/results/$tag.json" --quiet --drain-timeout 10s)
    local api=--publish-url=http://$SRV_API/api/publish
    local args chat=()
    ((READER_NICE == 0)) || chat=(--reader-nice "$READER_NICE")
    case $scen in
        http10 | http10@*)
            local shape=${PUBLISH_CONNS}x$PUBLISH_INFLIGHT
            [[ $scen == http10@* ]] && shape=${scen#http10@}
            args=(--conns 10 "$api" --publish-conns "${shape%x*}"
                --publish-inflight "${shape#*x}" --duration "$DURATION" "${chat[@]}") ;;
        tcp10) args=(--conns 10 --publish-tcp "$SRV_PUB" --publish-conns "$PUBLISH_CONNS"
            --delivery-window "$TCP_WINDOW" --duration "$DURATION" "${chat[@]}") ;;
        rooms | roomszipf)
            args=(--conns "$ROOMS_SUBS" --channels "$ROOMS" --src "$SRC" "$api"
                --publish-conns "$PUBLISH_CONNS" --publish-inflight "$PUBLISH_INFLIGHT"
                --duration "$DURATION" "${chat[@]}")
            [[ $scen == roomszipf ]] && args+=(--zipf 1) ;;
        fanout10k) args=(--conns "$FANOUT_BIG" --src "$SRC" "$api" --duration "$DURATION") ;;
        fanout1k) args=(--conns "$FANOUT_SMALL" "$api" --duration "$DURATION") ;;
        latency) args=(--conns "$FANOUT_BIG" --src "$SRC" "$api" --rate "$LATENCY_RATE"
            --duration "$LATENCY_DURATION") ;;
        idle) args=(--conns "$IDLE_CONNS" --channels "${IDLE_CHANNELS:-$((IDLE_CONNS / 10))}"
            --src "$SRC" "$api" --rate "$IDLE_RATE" --duration 6s) ;;
    esac
    args+=(--ready-file "$WORK/$tag.ready")
    [[ -z $PROFILE ]] ||
        profile_when_ready "$WORK/$tag.ready" "$WORK/$tag.perf.data" "$PROFILE_SECONDS" "$SRV_PID"
    echo "$tag: $BENCH ${common[*]} ${args[*]}" >>"$WORK/commands.txt"
    sleep 0.3
    if [[ $scen == idle && -n $IDLE_WARMUP ]]; then
        # What the first sessions touch once (code and library pages, the loop's buffers) is
        # not a cost per connection: 200 sessions come, get a few messages and go first.
        taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$BENCH" fanout \
            --url "ws://$SRV_WS/ws?user=bench" --channel room --size "$SIZE" --quiet \
            --conns 200 --channels 20 "$api" --rate 20 --duration 1s >"$WORK/$tag.warmup.log" 2>&1 ||
            die "the warm-up client failed; see $WORK/$tag.warmup.log"
        sleep 1
    fi
    before=$(vmrss_kb "$SRV_PID")
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$BENCH" "${common[@]}" "${args[@]}" \
        >"$WORK/$tag.client.log" 2>&1 &
    client=$!
    STARTED+=("$client")
    if [[ $scen == idle ]]; then
        for ((i = 0; i < RUN_TIMEOUT * 10; i++)); do
            [[ -s $WORK/$tag.ready ]] && break
            kill -0 "$client" 2>/dev/null || break
            sleep 0.1
        done
        sleep 3 # a few trickled messages reached every room
        printf '{"rss_before_kb": %s, "rss_held_kb": %s}\n' "$before" "$(vmrss_kb "$SRV_PID")" \
            >"$WORK/results/$tag.mem"
    fi
    wait "$client" || rc=$?
    stop_pid "$client"
    [[ $rc == 0 ]] || printf 'rooms.sh: %s: client exit %s (%s)\n' "$tag" "$rc" \
        "$(tail -n 1 "$WORK/$tag.client.log")" >&2
    stop_pid "$SRV_PID"
}

START=$(date +%s)
for scen in $SCENARIOS; do
    for ((r = 1; r <= RUNS; r++)); do
        run_one "$scen" "$RINGCAST" "$scen.new.$r"
        [[ -n $BASELINE ]] && run_one "$scen" "$BASELINE" "$scen.base.$r"
        printf '%s run %d done (%ds)\n' "$scen" "$r" "$(($(date +%s) - START))"
    done
done

ROOMS=$ROOMS ROOMS_SUBS=$ROOMS_SUBS FANOUT_BIG=$FANOUT_BIG FANOUT_SMALL=$FANOUT_SMALL \
    LATENCY_RATE=$LATENCY_RATE PUBLISH_CONNS=$PUBLISH_CONNS PUBLISH_INFLIGHT=$PUBLISH_INFLIGHT \
    "$PYTHON" - "$WORK" "$OUT" "$SCENARIOS" "$RUNS" "$([[ -n $BASELINE ]] && echo 1 || echo 0)" \
    "$IDLE_CONNS" "$RINGCAST" "$BASELINE" <<'EOF'
import json, os, statistics, sys
work, out, scens, runs, hasbase, idle, newbin, basebin = sys.argv[1:]
scens, runs, hasbase, idle = scens.split(), int(runs), hasbase == "1", int(idle)

def load(tag):
    try:
        j = json.load(open(f"{work}/results/{tag}.json"))
    except (OSError, ValueError):
        return None
    f, cpu = j.get("fanout", {}), j.get("cpu_seconds", {})
    w = cpu.get("window") or 1
    m = {"pub": f.get("publishes_per_sec"), "del": f.get("deliveries_per_sec"),
         "lost": f.get("lost"), "dup": f.get("duplicated"),
         "scpu": 100 * cpu.get("server_window", 0) / w, "ccpu": 100 * cpu.get("client_window", 0) / w,
         "p50": j["latency_ms"]["delivery"].get("p50"), "p99": j["latency_ms"]["delivery"].get("p99"),
         "ok": j.get("ok")}
    # What a publish costs the server, whichever side bounds the rate: its CPU over the
    # measured window per publish made.
    if f.get("published") and cpu.get("server_window") is not None:
        m["us"] = 1e6 * cpu["server_window"] / f["published"]
    try:
        mem = json.load(open(f"{work}/results/{tag}.mem"))
        m["bpc"] = (mem["rss_held_kb"] - mem["rss_before_kb"]) * 1024 / idle
    except (OSError, ValueError, KeyError):
        pass
    return m

def base(s):
    return s.split("@")[0]

def shape(s):
    c, i = (s.split("@")[1].split("x") if "@" in s else
            (os.environ["PUBLISH_CONNS"], os.environ["PUBLISH_INFLIGHT"]))
    return f" ({c} connection{'' if c == '1' else 's'} x {i} in flight)"

def med(side, scen, key):
    vals = [m[key] for m in (load(f"{scen}.{side}.{r}") for r in range(1, runs + 1))
            if m and m.get(key) is not None]
    return statistics.median(vals) if vals else None

def num(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"

us = ("server µs per publish", "us", 2)
cols = {"http10": [("publishes/s", "pub", 0), us], "tcp10": [("publishes/s", "pub", 0), us],
        "rooms": [("publishes/s", "pub", 0), ("deliveries/s", "del", 0), us],
        "roomszipf": [("publishes/s", "pub", 0), ("deliveries/s", "del", 0), us],
        "fanout10k": [("deliveries/s", "del", 0)], "fanout1k": [("deliveries/s", "del", 0)],
        "latency": [("p50 ms", "p50", 2), ("p99 ms", "p99", 2)],
        "idle": [("B per connection", "bpc", 0)]}
env = {k: int(os.environ[k]) for k in
       ("ROOMS", "ROOMS_SUBS", "FANOUT_BIG", "FANOUT_SMALL", "LATENCY_RATE")}
rooms = f"{env['ROOMS']:,} rooms of {env['ROOMS_SUBS'] // max(env['ROOMS'], 1):,}"
names = {"http10": "HTTP publishes, 1 channel of 10", "tcp10": "TCP publishes, 1 channel of 10",
         "rooms": f"{rooms}, uniform", "roomszipf": f"{rooms}, --zipf 1",
         "fanout10k": f"fan-out to {env['FANOUT_BIG']:,}",
         "fanout1k": f"fan-out to {env['FANOUT_SMALL']:,}",
         "latency": f"latency at {env['LATENCY_RATE']} msg/s to {env['FANOUT_BIG']:,}",
         "idle": f"{idle:,} sessions, RSS"}
head = "| scenario | metric | " + ("new | baseline | ratio | " if hasbase else "value | ")
head += "server CPU | client CPU | lost | dup |"
lines = [f"ringcast: `{newbin}`" + (f", baseline: `{basebin}`" if hasbase else ""),
         f"medians of {runs}", "", head, "|" + "---|" * (head.count("|") - 1)]
for s in scens:
    name = names[base(s)] + (shape(s) if base(s) in ("http10", "rooms", "roomszipf") else "")
    for label, key, d in cols[base(s)]:
        row = f"| {name} | {label} | {num(med('new', s, key), d)} | "
        if hasbase:
            a, b = med("new", s, key), med("base", s, key)
            row += f"{num(b, d)} | {('%.2fx' % (a / b)) if a and b else '-'} | "
        cpu = lambda side, k: num(med(side, s, k))
        sc = cpu("new", "scpu") + ("/" + cpu("base", "scpu") if hasbase else "")
        cc = cpu("new", "ccpu") + ("/" + cpu("base", "ccpu") if hasbase else "")
        both = lambda k: num(med("new", s, k)) + ("/" + num(med("base", s, k)) if hasbase else "")
        row += f"{sc}% | {cc}% | {both('lost')} | {both('dup')} |"
        lines.append(row)
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
EOF
echo "results and commands: $WORK (table in $OUT)"
