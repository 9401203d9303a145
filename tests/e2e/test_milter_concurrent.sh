# test_milter_concurrent.sh: several miltertest processes at once against one
# doorman-milter, each sending a run of pitch and personal invitations on its
# own connection and checking every verdict; then the milter's log must hold
# one line per message with the same count of each verdict, and the daemon
# must stop cleanly.  Prints the messages per second it saw (not a limit:
# the figure depends on the machine; tests/milter/bench.sh compares settings).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/milter/lib.sh
. "$src/tests/milter/lib.sh"

clients=8
per_client=40
# three rulesets for eight connections: evaluations borrow and wait for them
start_milter busy inet --rulesets 3 || finish
t0=$(date +%s%N)
pids=()
for i in $(seq 1 "$clients"); do
    miltertest -D "socket=$sock" -D "dir=$mtdir" -D "count=$per_client" -s "$mtdir/load.lua" \
        >"$tmp/client$i.mt" 2>&1 &
    pids+=($!)
done
for i in $(seq 1 "$clients"); do
    if wait "${pids[$((i - 1))]}" && grep -q "^done $per_client" "$tmp/client$i.mt"; then
        ok "client $i: $per_client messages, every verdict right"
    else
        fail "client $i failed:"
        cat "$tmp/client$i.mt"
    fi
done
t1=$(date +%s%N)
total=$((clients * per_client))
ms=$(((t1 - t0) / 1000000))
echo "figure: $total messages over $clients connections at once in $ms ms" \
    "($((total * 1000 / (ms > 0 ? ms : 1))) messages/s)"

# Nagle's algorithm left on makes each message with header changes wait for
# the MTA's delayed ACK, 40 ms on Linux: each connection would then need at
# least per_client * 40 ms.  A run that slow means the stall is back.
if [ "$ms" -lt $((per_client * 40)) ]; then
    ok "no 40 ms stall per message over TCP ($ms ms < $((per_client * 40)) ms)"
else
    fail "$ms ms for $per_client messages a connection: each waits for a delayed ACK?"
fi

declines=$(grep -c "verdict=decline" "$tmp/busy.log")
accepts=$(grep -c "verdict=accept" "$tmp/busy.log")
if [ "$declines" -eq $((total / 2)) ] && [ "$accepts" -eq $((total / 2)) ]; then
    ok "busy: logged $declines declines and $accepts accepts"
else
    fail "busy: logged $declines declines and $accepts accepts, want $((total / 2)) each"
fi
stop_milter busy
finish
