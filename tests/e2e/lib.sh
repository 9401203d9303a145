# lib.sh: what the end-to-end scripts share.  Sourced by tests/e2e/test_*.sh,
# which run as `bash SCRIPT DOORMAN SOURCE_DIR`; not a test of its own.
#
# After sourcing: $doorman, $src (the source tree), $tmp (a scratch folder
# removed on exit), and:
#   run NAME ARGS...      runs doorman (NO_COLOR=1, stdin /dev/null); stdout in
#                         $tmp/NAME.out, stderr in $tmp/NAME.err, exit code in $code.
#                         A sanitizer report or a death by signal is a failure.
#   fail MSG / ok MSG     record a failed / passed check
#   expect_code NAME WANT the exit code of run NAME was WANT
#   expect_err NAME TEXT  the stderr of run NAME holds TEXT (fixed string)
#   peak_rss_kb CMD...    runs CMD (stdout on fd 3, stderr on fd 4), prints its peak RSS in KiB
#   expect_rss NAME KIB MAX MS   that peak is under MAX KiB
#   finish                exits 1 when any check failed
# Only bash, coreutils and /proc are needed (zip for the zip tests); GNU time
# or python3, when installed, measure peak memory more exactly than /proc.
set -u
# In a sanitizer build, ASan's quarantine (256 MiB by default) keeps freed memory
# resident on purpose, which would hide whether doorman itself stays bounded: keep it
# small so that the memory limits below measure doorman (plus ASan's fixed overhead).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:malloc_context_size=5"
doorman=${1:?usage: bash SCRIPT DOORMAN SOURCE_DIR}
src=${2:?usage: bash SCRIPT DOORMAN SOURCE_DIR}
case $doorman in /*) ;; *) doorman=$PWD/$doorman ;; esac
case $src in /*) ;; *) src=$PWD/$src ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/doorman-e2e.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# compiled rules are cached under $XDG_CACHE_HOME: never the user's own cache
export XDG_CACHE_HOME=$tmp/cache
# URL sources remember what they triaged in $XDG_STATE_HOME: never the user's own
# database.  With DM_E2E_FRESH_STATE=1, `run` starts each run from an empty one
# (the scripts that check what one run of a URL gives, every time).
export XDG_STATE_HOME=$tmp/state
# the config file (credentials for URLs) and the user's rules: never the user's own
export XDG_CONFIG_HOME=$tmp/config
failures=0
code=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

ok() { echo "ok: $*"; }

# sanitizer_check NAME: an ASan/UBSan/LSan report on stderr fails the test.
sanitizer_check() {
    if grep -qE 'Sanitizer|runtime error:' "$tmp/$1.err"; then
        fail "$1: sanitizer report on stderr:"
        cat "$tmp/$1.err"
    fi
}

run() {
    local name=$1
    shift
    [ "${DM_E2E_FRESH_STATE:-0}" = 1 ] && rm -rf "$XDG_STATE_HOME"
    NO_COLOR=1 "$doorman" "$@" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
    code=$?
    echo "$code" >"$tmp/$name.code"
    sanitizer_check "$name"
    if [ "$code" -gt 128 ]; then
        fail "$name: doorman died of signal $((code - 128))"
        cat "$tmp/$name.err"
    fi
}

expect_code() {
    local name=$1 want=$2 got
    got=$(cat "$tmp/$name.code")
    if [ "$got" = "$want" ]; then
        ok "$name: exit $want"
    else
        fail "$name: exit code $got, want $want; stderr:"
        cat "$tmp/$name.err"
    fi
}

expect_err() {
    local name=$1 text=$2
    if grep -qF -- "$text" "$tmp/$name.err"; then
        ok "$name: stderr says '$text'"
    else
        fail "$name: stderr does not say '$text'; it was:"
        cat "$tmp/$name.err"
    fi
}

# peak_rss_kb CMD...: runs CMD with its stdout on fd 3 and its stderr on
# fd 4 (the caller redirects them), leaves its exit code in $tmp/rss.code and
# prints its peak resident set in KiB: by GNU time when installed, else by
# python3's getrusage, else by reading VmHWM (a high-water mark) from /proc
# every 10 ms while it runs, which may find nothing for a run of a few ms
# (then it prints 0).
peak_rss_kb() {
    if /usr/bin/time -f %M -o "$tmp/rss.time" true 2>/dev/null; then
        /usr/bin/time -f %M -o "$tmp/rss.time" "$@" >&3 2>&4
        echo $? >"$tmp/rss.code"
        # GNU time prefixes "Command exited with non-zero status N" lines
        tail -n 1 "$tmp/rss.time"
        return
    fi
    if command -v python3 >/dev/null; then
        python3 -c '
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:], stdout=3, stderr=4, pass_fds=(3, 4))
open(sys.argv[1], "w").write("%d\n" % (code if code >= 0 else 128 - code))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
' "$tmp/rss.code" "$@"
        return
    fi
    "$@" >&3 2>&4 &
    local pid=$! hwm=0 v
    # a process that has exited but is not reaped yet is a zombie: its
    # status has no VmHWM any more, so an empty reading ends the loop
    while v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ]; do
        [ "$v" -gt "$hwm" ] && hwm=$v
        sleep 0.01
    done
    wait "$pid"
    echo $? >"$tmp/rss.code"
    echo "$hwm"
}

# expect_rss NAME KIB MAX_KIB MS: a peak RSS of KIB from peak_rss_kb is under
# MAX_KIB.  0 (nothing sampled) passes only for a run under 100 ms, which is
# too short for /proc sampling and for memory to have grown much.
expect_rss() {
    local name=$1 kib=$2 max=$3 ms=$4
    if [ "$kib" -gt 0 ] && [ "$kib" -lt "$max" ]; then
        ok "$name: peak RSS $kib KiB (limit $max)"
    elif [ "$kib" -eq 0 ] && [ "$ms" -lt 100 ]; then
        ok "$name: ran $ms ms, too short to sample its RSS (install GNU time for a reading)"
    else
        fail "$name: peak RSS $kib KiB after $ms ms, want 1..$max"
    fi
}

finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed"
        exit 1
    fi
    echo "all checks passed"
    exit 0
}
