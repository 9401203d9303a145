#!/usr/bin/env bash
# bench.sh BUILD_DIR [MESSAGES]: messages per second through doorman-milter, driven
# by miltertest (tests/milter/load.lua: pitch and personal invitations in turn,
# every verdict checked) with 1, 4, 16 and 32 connections at once, for
# --rulesets 1 (one ruleset behind a lock) and one ruleset per CPU, and the
# milter's CPU time per message.  A benchmark, not a test:
# the figures depend on the machine, and the miltertest clients share its
# CPUs with the milter; compare ratios.
set -u
build=${1:?usage: bench.sh BUILD_DIR [MESSAGES]}
total=${2:-3200}
here=$(cd "$(dirname "$0")" && pwd)
milter=$(cd "$build" && pwd)/doorman-milter
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

run() { # run CLIENTS: prints messages/s
    local clients=$1 per=$((total / $1)) t0 t1 i pids=()
    t0=$(date +%s%N)
    for i in $(seq 1 "$clients"); do
        miltertest -D "socket=unix:$tmp/m.sock" -D "dir=$here" -D "count=$per" \
            -s "$here/load.lua" >"$tmp/c$i.out" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || { echo "a client failed:" >&2; cat "$tmp"/c*.out >&2; exit 1; }; done
    t1=$(date +%s%N)
    echo $((clients * per * 1000000000 / (t1 - t0)))
}

printf '%-22s' "connections at once:"
for c in 1 4 16 32; do printf '%8s' "$c"; done
echo
for sets in 1 "$(nproc)"; do
    args=(--rulesets "$sets")
    "$milter" -f -q -p "unix:$tmp/m.sock" "${args[@]}" 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$tmp/log" && break; sleep 0.05; done
    n=$(sed -n 's/.* \([0-9]*\) rulesets.*/\1/p' "$tmp/log")
    printf '%-22s' "--rulesets $n:"
    for c in 1 4 16 32; do printf '%8s' "$(run "$c")"; done
    # the milter's own CPU time (user + system, in clock ticks) over all runs
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    us=$((ticks * 1000000 / $(getconf CLK_TCK) / (4 * total)))
    kill "$pid"
    wait "$pid" 2>/dev/null
    pid=""
    echo "  messages/s; milter CPU $us us a message;" \
        "$(sed -n 's/.*(\([0-9]*\) evaluation.*/\1/p' "$tmp/log") evaluations waited for a ruleset"
done
