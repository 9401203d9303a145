# lib.sh: what the doorman-milter tests share.  Sourced by tests/e2e/test_milter*.sh
# after tests/e2e/lib.sh (which gives $doorman, $src, $tmp, fail, ok, finish).
#
#   start_milter NAME SOCKET ARGS...  starts doorman-milter -f -p SOCKET ARGS in the
#                      background, its stderr in $tmp/NAME.log, and waits until it
#                      listens.  SOCKET "inet" picks a free loopback port.  Sets
#                      $sock (the socket to give miltertest) and remembers the pid.
#   stop_milter NAME...  SIGTERM to each, then checks each exits 0, says it stopped and
#                      logged no sanitizer report.
#   alive NAME         is it still running?
#   mt NAME SCRIPT [VAR=VALUE...]   runs tests/milter/SCRIPT with miltertest against
#                      $sock; output in $tmp/NAME.mt; fails unless it exits 0.
# Every milter started is killed on exit, whatever happened.
milter=$(dirname "$doorman")/doorman-milter
mtdir=$src/tests/milter
declare -A milter_pid milter_sock

cleanup_milters() {
    local name
    for name in "${!milter_pid[@]}"; do
        kill -KILL "${milter_pid[$name]}" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup_milters EXIT

if ! command -v miltertest >/dev/null; then
    echo "FAIL: miltertest is not installed (Debian package miltertest; ./build.sh test"
    echo "      installs it). These tests drive the real program: they do not skip."
    exit 1
fi
if [ ! -x "$milter" ]; then
    echo "FAIL: $milter was not built (libmilter-dev missing when CMake ran?)"
    exit 1
fi

# free_port: a loopback TCP port nothing listens on now (state 0A in /proc/net/tcp).
free_port() {
    local port hex
    while :; do
        port=$((20000 + RANDOM % 40000))
        hex=$(printf ':%04X ' "$port")
        grep -q "$hex[0-9A-F:]* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null || break
    done
    echo "$port"
}

start_milter() {
    local name=$1 want=$2 try spec pid
    shift 2
    for try in 1 2 3 4 5; do
        if [ "$want" = inet ]; then
            spec=inet:$(free_port)@127.0.0.1
        else
            spec=$want
        fi
        : >"$tmp/$name.log"
        "$milter" -f -p "$spec" "$@" 2>"$tmp/$name.log" &
        pid=$!
        # ready when it says it listens; a port taken meanwhile: try another
        local i
        for i in $(seq 1 200); do
            grep -q "listening on" "$tmp/$name.log" && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if grep -q "listening on" "$tmp/$name.log"; then
            milter_pid[$name]=$pid
            milter_sock[$name]=$spec
            sock=$spec
            ok "$name: doorman-milter listens on $spec"
            return 0
        fi
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        [ "$want" = inet ] && grep -q "cannot listen" "$tmp/$name.log" && continue
        break
    done
    fail "$name: doorman-milter did not start; its log:"
    cat "$tmp/$name.log"
    return 1
}

alive() { kill -0 "${milter_pid[$1]}" 2>/dev/null; }

stop_milter() { # stop_milter NAME...: all at once (libmilter notices a stop within 5 s)
    local name code
    for name in "$@"; do kill -TERM "${milter_pid[$name]}" 2>/dev/null; done
    for name in "$@"; do
        wait "${milter_pid[$name]}"
        code=$?
        unset "milter_pid[$name]"
        if [ "$code" -eq 0 ] && grep -q "stopped" "$tmp/$name.log"; then
            ok "$name: stopped cleanly on SIGTERM"
        else
            fail "$name: exit code $code after SIGTERM; its log:"
            cat "$tmp/$name.log"
        fi
        if grep -qE 'Sanitizer|runtime error:' "$tmp/$name.log"; then
            fail "$name: sanitizer report in the milter's log:"
            cat "$tmp/$name.log"
        fi
    done
}

mt() {
    local name=$1 script=$2 code def
    shift 2
    local defs=(-D "socket=$sock" -D "dir=$mtdir")
    for def in "$@"; do defs+=(-D "$def"); done
    miltertest "${defs[@]}" -s "$mtdir/$script" >"$tmp/$name.mt" 2>&1
    code=$?
    if [ "$code" -eq 0 ] && ! grep -q '^FAIL' "$tmp/$name.mt"; then
        ok "$name: $script passed ($(grep -c '^ok:' "$tmp/$name.mt") checks)"
    else
        fail "$name: $script exited $code:"
        cat "$tmp/$name.mt"
    fi
}
