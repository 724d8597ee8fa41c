# Sourced by the bench scripts: the processes a script started, stopped by pid only (never by
# name), newest first, also on exit, Ctrl-C and SIGTERM (the traps are set here).
#   STARTED+=("$pid")   after starting a process in the background
#   stop_pid PID [SIG]  signal it (default TERM), wait up to 5 s, then KILL; forget it
#   stop_started        stop every process still in STARTED, newest first
#   wait_listen LOG PID a ringcast started with its output in LOG: wait (15 s at most) for its
#                       last listen line; false if it did not come or the process ended
#   vmrss_kb PID        the process's resident memory, KiB
#   profile_when_ready READY OUT SECONDS PIDS
#                       in the background: once the file READY exists (a bench client's
#                       --ready-file), `perf record -g` the comma-separated PIDS for SECONDS
#                       into OUT (a started process, stopped with the others)
#   keep_awake CPU...   with KEEP_AWAKE=1: a busy loop at SCHED_IDLE on each CPU (a started
#                       process, two hours at most). On a VM a vCPU that halts between events
#                       costs a host round trip to wake, and a ping-pong between two
#                       processes on two vCPUs then runs at a fraction of its speed, both
#                       sides mostly idle; the loop keeps the vCPUs running and takes nothing
#                       from a normal process that is runnable. Say so next to the numbers.

STARTED=()

forget_pid() {
    local keep=() p
    for p in "${STARTED[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    STARTED=("${keep[@]}")
}

stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            printf '%s: pid %s did not exit on SIG%s in 5 s: SIGKILL\n' "$(basename -- "$0")" \
                "$pid" "$sig" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

stop_started() {
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        stop_pid "${STARTED[i]}"
    done
}

wait_listen() {
    local i
    for ((i = 0; i < 150; i++)); do
        grep -q '^listen publish ' "$1" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^listen publish ' "$1" 2>/dev/null
}

vmrss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

profile_when_ready() {
    local ready=$1 out=$2 seconds=$3 pids=$4
    command -v perf >/dev/null || {
        printf '%s: no perf (apt-get install linux-perf): not profiling\n' "$(basename -- "$0")" >&2
        return 0
    }
    (
        for ((i = 0; i < 600; i++)); do
            [[ -e $ready ]] && break
            sleep 0.1
        done
        [[ -e $ready ]] && exec perf record -q -g -F 999 -p "$pids" -o "$out" -- sleep "$seconds"
    ) >/dev/null 2>&1 &
    STARTED+=("$!")
}

keep_awake() {
    [[ ${KEEP_AWAKE:-} == 1 ]] || return 0
    local cpu
    for cpu in "$@"; do
        taskset -c "$cpu" chrt --idle 0 timeout 7200 bash -c 'while :; do :; done' &
        STARTED+=("$!")
    done
}

trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
