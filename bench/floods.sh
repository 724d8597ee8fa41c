#!/usr/bin/env bash
# What a flood costs in memory: the gateway's RSS before, at the peak and after each of
#   channels  one 64 KiB message to each of CHANNELS new channels (HTTP API), then the
#             channels' history expires (--history-ttl TTL) and the sweep forgets them
#   history   HISTORY_MSGS messages of 64 KiB over HISTORY_CHANNELS channels: every channel's
#             history full (--history-size 100), against --max-history-memory HISTORY_BUDGET
#   send      a client `send` naming 1,000 users (one of them connected, named 17 times)
#             with 1000 KiB of data, SENDS times: one shared frame, or one copy per recipient
# for RINGCAST and, when given, BASELINE (an older binary: the flags it does not know are left
# out, and the table says which). One gateway per scenario and binary, --threads 1 on
# SERVER_CPU, the client on CLIENT_CPU; RSS is sampled every 50 ms from /proc/PID/status.
#
# Usage:
#   bench/floods.sh
#   RINGCAST=build/ringcast BASELINE=/path/to/old/ringcast bench/floods.sh
#
# Environment (defaults in brackets): RINGCAST [build/ringcast] BASELINE [none] SCENARIOS
#   [channels history send] CHANNELS [20000] TTL [5s] HISTORY_CHANNELS [200] HISTORY_MSGS
#   [20000] HISTORY_BUDGET [256MiB] SENDS [5] SERVER_CPU [1] CLIENT_CPU [0]
#   OUT [build/floods.md] WORK [a new /tmp/ringcast-floods.*]
# Bounded: each scenario has a timeout (RUN_TIMEOUT, 300 s). It stops only the processes it
# started, by pid, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BASELINE=${BASELINE:-}
SCENARIOS=${SCENARIOS:-channels history send}
CHANNELS=${CHANNELS:-20000}
TTL=${TTL:-5s}
HISTORY_CHANNELS=${HISTORY_CHANNELS:-200}
HISTORY_MSGS=${HISTORY_MSGS:-20000}
HISTORY_BUDGET=${HISTORY_BUDGET:-256MiB}
SENDS=${SENDS:-5}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-build/floods.md}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
PYTHON=/usr/bin/python3

die() {
    printf 'floods.sh: %s\n' "$*" >&2
    exit 1
}

[[ -x $RINGCAST ]] || die "no ringcast binary at $RINGCAST (build it, or set RINGCAST)"
[[ -z $BASELINE || -x $BASELINE ]] || die "no binary at BASELINE=$BASELINE"
[[ -x $PYTHON ]] || die "$PYTHON is needed (with python3-websockets)"
"$PYTHON" -c 'import websockets' 2>/dev/null || die "python3-websockets is needed (make deps)"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
for s in $SCENARIOS; do
    case $s in
        channels | history | send) ;;
        *) die "unknown scenario '$s'" ;;
    esac
done

WORK=${WORK:-$(mktemp -d /tmp/ringcast-floods.XXXXXX)}
mkdir -p "$WORK/results" "$(dirname -- "$OUT")"

# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"

# knows BINARY FLAG: whether the binary's --help lists FLAG (grep reads it all: with -q it
# would stop early, and under pipefail the writer's SIGPIPE would make the answer false).
knows() {
    "$1" --help 2>/dev/null | grep -- "$2" >/dev/null
}

# run_one SCENARIO BINARY TAG
run_one() {
    local scen=$1 bin=$2 tag=$3 log=$WORK/$3.server.log args=() left=() f
    case $scen in
        channels) args=(--history-ttl "$TTL") ;;
        history) args=(--history-size 100 --max-history-memory "$HISTORY_BUDGET") ;;
        send) args=() ;;
    esac
    knows "$bin" --dev && args+=(--dev)
    # An older binary: leave out what it does not know, and say so.
    local kept=()
    for ((f = 0; f < ${#args[@]}; f++)); do
        if [[ ${args[f]} == --* ]] && ! knows "$bin" "${args[f]}"; then
            left+=("${args[f]}")
            [[ ${args[f + 1]:-} == --* || -z ${args[f + 1]:-} ]] || ((f++)) || true
            continue
        fi
        kept+=("${args[f]}")
    done
    taskset -c "$SERVER_CPU" "$bin" --threads 1 --listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
        --publish-listen 127.0.0.1:0 "${kept[@]}" >"$log" 2>&1 &
    local pid=$!
    STARTED+=("$pid")
    wait_listen "$log" "$pid" || die "$bin did not start; see $log"
    local ws api
    ws=$(sed -n 's/^listen ws //p' "$log" | head -n 1)
    api=$(sed -n 's/^listen api //p' "$log" | head -n 1)
    echo "$tag: $bin ${kept[*]} (left out: ${left[*]:-none})" >>"$WORK/commands.txt"
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$PYTHON" - "$scen" "$pid" "$ws" "$api" \
        "$CHANNELS" "$HISTORY_CHANNELS" "$HISTORY_MSGS" "$SENDS" "${left[*]:-}" \
        >"$WORK/results/$tag.json" 2>"$WORK/$tag.client.log" <<'EOF' || printf 'floods.sh: %s failed (%s)\n' "$tag" "$(tail -n 1 "$WORK/$tag.client.log")" >&2
import asyncio, http.client, json, sys, threading, time
scen, pid, ws, api = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
channels, hchannels, hmsgs, sends = (int(v) for v in sys.argv[5:9])
left = sys.argv[9]

def rss():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0

peak = [0]
sampling = [True]
def sampler():
    while sampling[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.05)

host, port = api.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
def post(path, body):
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise SystemExit(f"{path}: HTTP {r.status} {data[:200]!r}")
    return data

def metric(name):
    conn.request("GET", "/metrics")
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None

before = rss()
threading.Thread(target=sampler, daemon=True).start()
out = {"scenario": scen, "rss_before": before, "left_out": left}
data64 = json.dumps("x" * (64 * 1024))
t0 = time.time()
if scen == "channels":
    for i in range(channels):
        post("/api/publish", '{"channel":"flood-%d","data":%s}' % (i, data64))
    out["flood_seconds"] = time.time() - t0
    out["rss_after_flood"] = rss()
    # The history expires after the ttl; the sweep forgets the channels and frees them.
    # (A binary without the channel count gets 10 s.)
    deadline = time.time() + 60
    while time.time() < deadline:
        n = metric("ringcast_channels")
        if n == 0 or (n is None and time.time() > t0 + out["flood_seconds"] + 10):
            break
        time.sleep(0.25)
    time.sleep(1)
    out["channels_left"] = metric("ringcast_channels")
    out["rss_after"] = rss()
elif scen == "history":
    for i in range(hmsgs):
        post("/api/publish", '{"channel":"hist-%d","data":%s}' % (i % hchannels, data64))
    out["flood_seconds"] = time.time() - t0
    out["history_bytes"] = metric("ringcast_history_bytes")
    time.sleep(1)
    out["rss_after"] = rss()
else:
    import websockets
    async def attack():
        async with websockets.connect(f"ws://{ws}/ws?user=victim", max_size=None) as victim, \
                   websockets.connect(f"ws://{ws}/ws?user=mallory", max_size=None) as mallory:
            await victim.recv()
            await mallory.recv()
            to = ["victim"] * 17 + ["nobody%d" % i for i in range(983)]
            cmd = json.dumps({"op": "send", "id": 1, "to": to, "data": "y" * (1000 * 1024)})
            got = 0
            for _ in range(sends):
                await mallory.send(cmd)
                while json.loads(await mallory.recv()).get("type") != "reply":
                    pass
            out["rss_connected"] = rss()
            deadline = time.time() + 10
            try:
                while got < sends and time.time() < deadline:
                    m = json.loads(await asyncio.wait_for(victim.recv(), 10))
                    got += m.get("type") == "direct"
            except websockets.exceptions.ConnectionClosed as e:
                out["victim_closed"] = f"{e.rcvd.code} {e.rcvd.reason}" if e.rcvd else "closed"
            out["victim_got"] = got
    asyncio.run(attack())
    out["flood_seconds"] = time.time() - t0
    time.sleep(1)
    out["rss_after"] = rss()
sampling[0] = False
out["rss_peak"] = peak[0]
print(json.dumps(out))
EOF
    stop_pid "$pid"
}

BINS=("new:$RINGCAST")
[[ -n $BASELINE ]] && BINS+=("baseline:$BASELINE")
START=$(date +%s)
for scen in $SCENARIOS; do
    for nb in "${BINS[@]}"; do
        run_one "$scen" "${nb#*:}" "$scen.${nb%%:*}"
        printf '%s %s done (%ds)\n' "$scen" "${nb%%:*}" "$(($(date +%s) - START))"
    done
done

"$PYTHON" - "$WORK" "$OUT" "$SCENARIOS" "$RINGCAST" "$BASELINE" "$CHANNELS" "$TTL" \
    "$HISTORY_CHANNELS" "$HISTORY_MSGS" "$HISTORY_BUDGET" "$SENDS" <<'EOF'
import json, sys
work, out, scens, new, base = sys.argv[1:6]
channels, ttl, hch, hmsgs, budget, sends = sys.argv[6:12]
def load(tag):
    try:
        return json.load(open(f"{work}/results/{tag}.json"))
    except (OSError, ValueError):
        return None
def mib(v):
    return "-" if v is None else f"{v / 2**20:,.1f} MiB"
what = {"channels": f"one 64 KiB message to each of {int(channels):,} new channels, --history-ttl {ttl}",
        "history": f"{int(hmsgs):,} messages of 64 KiB over {hch} channels, --max-history-memory {budget}",
        "send": f"{sends} sends to 1,000 users (one connected, named 17 times) of 1000 KiB"}
lines = ["| flood | binary | RSS before | peak | after the flood | after | notes |",
         "|---|---|---|---|---|---|---|"]
for s in scens.split():
    for b in (["new", "baseline"] if base else ["new"]):
        m = load(f"{s}.{b}")
        if not m:
            lines.append(f"| {what[s]} | {b} | failed | | | | |")
            continue
        notes = []
        if m.get("left_out"):
            notes.append(f"does not know {m['left_out']}")
        if "channels_left" in m:
            notes.append(f"{m['channels_left']:.0f} channels left" if m["channels_left"] is not None
                         else "no channel count")
        if m.get("history_bytes") is not None:
            notes.append(f"history {mib(m['history_bytes'])}")
        if "victim_got" in m:
            notes.append(f"the victim got {m['victim_got']} of {sends}")
        if "victim_closed" in m:
            notes.append(f"the victim was closed: {m['victim_closed']}")
        notes.append(f"flood {m['flood_seconds']:.1f} s")
        after_flood = m.get("rss_after_flood", m.get("rss_connected"))
        lines.append(f"| {what[s]} | {b} | {mib(m['rss_before'])} | {mib(m['rss_peak'])} | "
                     f"{mib(after_flood)} | {mib(m['rss_after'])} | {'; '.join(notes)} |")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
EOF
echo "results and commands: $WORK (table in $OUT)"
