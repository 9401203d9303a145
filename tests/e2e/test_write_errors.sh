#!/usr/bin/env bash
# test_write_errors.sh DOORMAN SOURCE_DIR: output that cannot be written (a
# full disk, a closed stdout) ends the run with exit 1 and a message that says
# why, in every format, without a crash.
. "$(dirname "$0")/lib.sh"
export_dir=$src/examples/export
[ -d /dev ] && [ -w /dev/full ] || { echo "FAIL: /dev/full is not writable here"; exit 1; }

for fmt in jsonl json csv table; do
    # 41 records: far more than one stdio buffer, so the write fails mid-run
    NO_COLOR=1 "$doorman" triage "$export_dir" --format "$fmt" --width 100 \
        >/dev/full 2>"$tmp/full-$fmt.err" </dev/null
    echo $? >"$tmp/full-$fmt.code"
    sanitizer_check "full-$fmt"
    expect_code "full-$fmt" 1
    expect_err "full-$fmt" "doorman: cannot write the output: No space left on device"
    n=$(grep -c 'cannot write' "$tmp/full-$fmt.err")
    [ "$n" -eq 1 ] || fail "full-$fmt: the write error is reported $n times, want once"

    # a run with no records writes little, but still fails at the end
    printf '' | NO_COLOR=1 "$doorman" triage - --format "$fmt" >/dev/full 2>"$tmp/empty-$fmt.err"
    echo $? >"$tmp/empty-$fmt.code"
    sanitizer_check "empty-$fmt"
    if [ "$fmt" = jsonl ]; then
        expect_code "empty-$fmt" 0 # nothing at all to write
    else
        expect_code "empty-$fmt" 1
        expect_err "empty-$fmt" "doorman: cannot write the output: No space left on device"
    fi

    # standard output closed
    NO_COLOR=1 "$doorman" triage "$export_dir" --format "$fmt" >&- 2>"$tmp/closed-$fmt.err" </dev/null
    echo $? >"$tmp/closed-$fmt.code"
    sanitizer_check "closed-$fmt"
    expect_code "closed-$fmt" 1
    expect_err "closed-$fmt" "doorman: cannot write the output: Bad file descriptor"
done

finish
