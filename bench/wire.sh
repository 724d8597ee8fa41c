#!/usr/bin/env bash
# What goes on the wire: permessage-deflate on and off, TLS against plain TCP. One
# same-session table measured by ringcast-bench against one ringcast binary: the server
# (--threads 1) pinned to SERVER_CPU, the client to CLIENT_CPU, a fresh server for every run,
# each scenario RUNS times (interleaved), medians with both sides' CPU.
#
# Scenarios:
#   fanout        SUBS subscribers of one channel, chat-like JSON messages (BODY) published
#                 through HTTP (1 connection, 8 in flight) as fast as absorbed: plain ws://
#   fanoutdeflate the same with the server's --compression on and the client offering it:
#                 deliveries/s, bytes on the wire per delivery, the server's compress CPU
#   fanouttls     the same over wss:// (no compression)
#   fanoutfixed, fanoutdeflatefixed
#                 fanout and fanoutdeflate at FIXED_RATE messages/s, a rate the client can
#                 inflate: the server's CPU per delivery with and without compression (as
#                 fast as absorbed, a client inflating 10,000 sockets is the bottleneck)
#   echo, echotls ECHO_CONNS connections x 1 in flight x 64 B against /echo
#   handshake, handshaketls
#                 connect + upgrade + close cycles for DURATION (TLS: full handshakes, ECDSA
#                 P-256, no resumption)
#   idle, idletls IDLE_CONNS idle connections on /echo (IDLE_PROCS client processes): the
#                 server's VmRSS before and while they are held, per connection
# The certificate is a self-signed ECDSA P-256 one made with openssl in WORK. KTLS (on|off,
# default off) is passed as --ktls to the TLS servers.
#
# Usage:
#   bench/wire.sh                                         # all, medians of 3
#   RUNS=1 DURATION=2s SUBS=500 IDLE_CONNS=2000 bench/wire.sh      # smoke
#
# Environment (defaults in brackets): RINGCAST [build/ringcast] BENCH
#   [build/bench/ringcast-bench] SCENARIOS [all] RUNS [3] DURATION [5s] SUBS [10000]
#   FIXED_RATE [25] ECHO_CONNS [100] IDLE_CONNS [18000] IDLE_PROCS [2] SRC [127.0.0.1-127.0.0.4] KTLS [off]
#   SERVER_CPU [1] CLIENT_CPU [0] OUT [build/wire.md] WORK [a new /tmp/ringcast-wire.*]
# Bounded: every client run has a timeout (RUN_TIMEOUT, 120 s). It stops only the processes
# it started, by pid, also on Ctrl-C.
set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

RINGCAST=${RINGCAST:-build/ringcast}
BENCH=${BENCH:-build/bench/ringcast-bench}
SCENARIOS=${SCENARIOS:-fanout fanoutdeflate fanouttls fanoutfixed fanoutdeflatefixed echo echotls handshake handshaketls idle idletls}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
SUBS=${SUBS:-10000}
ECHO_CONNS=${ECHO_CONNS:-100}
FIXED_RATE=${FIXED_RATE:-25}
IDLE_CONNS=${IDLE_CONNS:-18000}
IDLE_PROCS=${IDLE_PROCS:-2}
SRC=${SRC:-127.0.0.1-127.0.0.4}
KTLS=${KTLS:-off}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
OUT=${OUT:-build/wire.md}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
PYTHON=/usr/bin/python3
# A chat message: about 420 bytes of JSON text, as a chat system sends it.
BODY='{"channel":"{channel}","data":{"type":"text","room":"lobby","user":"alice","name":"Alice Example","text":"{marker} Are we still on for the design review this afternoon? I moved it to the large meeting room because the small one is booked, and I will bring the printed mock-ups of the new settings page so we can mark them up together.","mentions":["bob","carol"],"reply_to":null,"client_ts":1764633600000}}'

die() {
    printf 'wire.sh: %s\n' "$*" >&2
    exit 1
}

[[ -x $RINGCAST ]] || die "no ringcast binary at $RINGCAST (build it, or set RINGCAST)"
[[ -x $BENCH ]] || die "no bench client at $BENCH (build it, or set BENCH)"
[[ -x $PYTHON ]] || die "$PYTHON is needed to read the JSON results"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive number"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
command -v openssl >/dev/null || die "openssl is needed for the test certificate"
for s in $SCENARIOS; do
    case $s in
        fanout | fanoutdeflate | fanouttls | fanoutfixed | fanoutdeflatefixed | echo | echotls | handshake | handshaketls | idle | idletls) ;;
        *) die "unknown scenario '$s'" ;;
    esac
done

WORK=${WORK:-$(mktemp -d /tmp/ringcast-wire.XXXXXX)}
mkdir -p "$WORK/results" "$(dirname -- "$OUT")"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck source=bench/started.sh
source "$ROOT/bench/started.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || die "openssl could not make a certificate"

# start_server TAG ARGS...: sets SRV_PID, SRV_WS, SRV_API.
start_server() {
    local log=$WORK/$1.server.log i
    shift
    taskset -c "$SERVER_CPU" "$RINGCAST" --threads 1 --dev --echo --listen 127.0.0.1:0 \
        --api-listen 127.0.0.1:0 --publish-listen 127.0.0.1:0 "$@" >"$log" 2>&1 &
    SRV_PID=$!
    STARTED+=("$SRV_PID")
    wait_listen "$log" "$SRV_PID" || die "$RINGCAST did not start; see $log"
    SRV_WS=$(sed -n 's/^listen ws //p' "$log" | head -n 1)
    SRV_API=$(sed -n 's/^listen api //p' "$log" | head -n 1)
}

# run_one SCENARIO TAG
run_one() {
    local scen=$1 tag=$2 rc=0 client i before scheme=ws server=() args=()
    [[ $scen == *tls ]] && scheme=wss && server=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --ktls "$KTLS")
    [[ $scen == fanoutdeflate* ]] && server=(--compression on)
    [[ $scen == fanout || $scen == fanouttls || $scen == fanoutfixed ]] && server+=(--compression off)
    start_server "$tag" "${server[@]}"
    local common=(--server-pid "$SRV_PID" --json "$WORK/results/$tag.json" --quiet)
    case $scen in
        fanout*)
            args=(fanout --url "$scheme://$SRV_WS/ws?user=bench" --channel news --conns "$SUBS"
                --src "$SRC" --publish-url "http://$SRV_API/api/publish" --publish-body "$BODY"
                --publish-inflight 8 --duration "$DURATION" --drain-timeout 10s)
            [[ $scen == fanoutdeflate* ]] && args+=(--compression)
            [[ $scen == *fixed ]] && args+=(--rate "$FIXED_RATE") ;;
        echo*)
            args=(echo --url "$scheme://$SRV_WS/echo" --conns "$ECHO_CONNS" --inflight 1 --size 64
                --duration "$DURATION") ;;
        handshake*)
            args=(handshake --url "$scheme://$SRV_WS/echo" --duration "$DURATION") ;;
        idle*)
            args=(idle --url "$scheme://$SRV_WS/echo" --conns "$IDLE_CONNS" --procs "$IDLE_PROCS"
                --src "$SRC" --hold 5s --ready-file "$WORK/$tag.ready") ;;
    esac
    echo "$tag: $BENCH ${args[*]} ${common[*]}" >>"$WORK/commands.txt"
    sleep 0.3
    before=$(vmrss_kb "$SRV_PID")
    taskset -c "$CLIENT_CPU" timeout "$RUN_TIMEOUT" "$BENCH" "${args[@]}" "${common[@]}" \
        >"$WORK/$tag.client.log" 2>&1 &
    client=$!
    STARTED+=("$client")
    if [[ $scen == idle* ]]; then
        for ((i = 0; i < RUN_TIMEOUT * 10; i++)); do
            [[ -s $WORK/$tag.ready ]] && break
            kill -0 "$client" 2>/dev/null || break
            sleep 0.1
        done
        sleep 2 # every connection answered at least once
        printf '{"rss_before_kb": %s, "rss_held_kb": %s}\n' "$before" "$(vmrss_kb "$SRV_PID")" \
            >"$WORK/results/$tag.mem"
    fi
    wait "$client" || rc=$?
    stop_pid "$client"
    [[ $rc == 0 ]] || printf 'wire.sh: %s: client exit %s (%s)\n' "$tag" "$rc" \
        "$(tail -n 1 "$WORK/$tag.client.log")" >&2
    if [[ $scen == fanout* ]]; then
        "$PYTHON" - "http://$SRV_API/metrics" "$WORK/results/$tag.deflate" <<'EOF' || true
import json, sys, urllib.request
text = urllib.request.urlopen(sys.argv[1], timeout=5).read().decode()
m = {l.split()[0]: float(l.split()[1]) for l in text.splitlines() if l.startswith("ringcast_deflate_")}
json.dump(m, open(sys.argv[2], "w"))
EOF
    fi
    stop_pid "$SRV_PID"
}

START=$(date +%s)
for ((r = 1; r <= RUNS; r++)); do
    for scen in $SCENARIOS; do
        run_one "$scen" "$scen.$r"
        printf '%s run %d done (%ds)\n' "$scen" "$r" "$(($(date +%s) - START))"
    done
done

"$PYTHON" - "$WORK" "$OUT" "$SCENARIOS" "$RUNS" "$IDLE_CONNS" <<'EOF'
import json, statistics, sys
work, out, scens, runs, idle = sys.argv[1], sys.argv[2], sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])

def load(tag):
    try:
        j = json.load(open(f"{work}/results/{tag}.json"))
    except (OSError, ValueError):
        return None
    cpu = j.get("cpu_seconds", {})
    w = cpu.get("window") or 1
    f, e, h = j.get("fanout", {}), j.get("echo", {}), j.get("handshake", {})
    conns = j.get("connections", {})
    m = {"scpu": 100 * cpu.get("server_window", 0) / w, "ccpu": 100 * cpu.get("client_window", 0) / w,
         "del": f.get("deliveries_per_sec"), "pub": f.get("publishes_per_sec"), "lost": f.get("lost"),
         "rt": e.get("round_trips_per_sec"), "hs": h.get("per_sec"),
         "p50": j.get("latency_ms", {}).get("delivery", {}).get("p50")}
    if f.get("delivered"):
        m["wire"] = conns.get("bytes_received", 0) / f["delivered"]
        m["nsd"] = 1e9 * cpu.get("server_window", 0) / f["delivered"]
    try:
        d = json.load(open(f"{work}/results/{tag}.deflate"))
        n = d.get("ringcast_deflate_messages_compressed_total", 0)
        if n:
            m["cus"] = 1e6 * d.get("ringcast_deflate_compress_cpu_seconds_total", 0) / n
    except (OSError, ValueError):
        pass
    try:
        mem = json.load(open(f"{work}/results/{tag}.mem"))
        m["bpc"] = (mem["rss_held_kb"] - mem["rss_before_kb"]) * 1024 / idle
    except (OSError, ValueError, KeyError):
        pass
    return m

def med(scen, key):
    vals = [m[key] for m in (load(f"{scen}.{r}") for r in range(1, runs + 1)) if m and m.get(key) is not None]
    return statistics.median(vals) if vals else None

def num(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"

rows = [("fanout", "fan-out to 10,000, plain ws, no compression", [("deliveries/s", "del", 0), ("wire B/delivery", "wire", 0)]),
        ("fanoutdeflate", "fan-out to 10,000, plain ws, permessage-deflate", [("deliveries/s", "del", 0), ("wire B/delivery", "wire", 0), ("compress µs/message (once)", "cus", 1)]),
        ("fanouttls", "fan-out to 10,000, wss", [("deliveries/s", "del", 0), ("wire B/delivery", "wire", 0)]),
        ("fanoutfixed", "fan-out to 10,000 at a fixed rate, no compression", [("deliveries/s", "del", 0), ("server ns/delivery", "nsd", 0), ("wire B/delivery", "wire", 0)]),
        ("fanoutdeflatefixed", "fan-out to 10,000 at a fixed rate, permessage-deflate", [("deliveries/s", "del", 0), ("server ns/delivery", "nsd", 0), ("wire B/delivery", "wire", 0), ("compress µs/message (once)", "cus", 1)]),
        ("echo", "echo 100 x 1 x 64 B, ws", [("round trips/s", "rt", 0)]),
        ("echotls", "echo 100 x 1 x 64 B, wss", [("round trips/s", "rt", 0)]),
        ("handshake", "handshakes, ws", [("per second", "hs", 0)]),
        ("handshaketls", "handshakes, wss (ECDSA P-256)", [("per second", "hs", 0)]),
        ("idle", f"{idle:,} idle connections, ws", [("server B/connection", "bpc", 0)]),
        ("idletls", f"{idle:,} idle connections, wss", [("server B/connection", "bpc", 0)])]
lines = [f"medians of {runs}", "", "| scenario | metric | value | server CPU | client CPU | lost |", "|---|---|---|---|---|---|"]
for s, name, cols in rows:
    if s not in scens:
        continue
    for label, key, d in cols:
        lines.append(f"| {name} | {label} | {num(med(s, key), d)} | {num(med(s, 'scpu'))}% | {num(med(s, 'ccpu'))}% | {num(med(s, 'lost'))} |")
def ratio(a, b, key):
    x, y = med(a, key), med(b, key)
    return f"{x / y:.2f}x" if x and y else "-"
lines += ["", "ratios: deflate/plain fan-out deliveries " + ratio("fanoutdeflate", "fanout", "del") +
          ", wire bytes " + ratio("fanoutdeflate", "fanout", "wire") +
          "; wss/ws fan-out " + ratio("fanouttls", "fanout", "del") + ", echo " + ratio("echotls", "echo", "rt") +
          ", handshakes " + ratio("handshaketls", "handshake", "hs") +
          "; at a fixed rate, deflate/plain server CPU per delivery " + ratio("fanoutdeflatefixed", "fanoutfixed", "nsd")]
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
EOF
echo "results and commands: $WORK (table in $OUT)"
