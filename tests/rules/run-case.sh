#!/usr/bin/env bash
# run-case.sh DOORMAN CASEDIR: one data-driven rule case (tests/rules/cases/NAME).
#
# A case is a folder holding:
#   rules        a rule file; the case runs it alone (--no-default-rules)
#   input.jsonl  optional: records in doorman's JSONL schema; with it the case
#                is an evaluation case, without it a lint case
#   expected     exactly what the user sees:
#                - lint case: standard error of
#                    doorman rules lint --no-default-rules rules
#                  (FILE:LINE:COL: error: TEXT, the source line, a caret; then
#                  the count of errors);
#                - evaluation case: standard output of
#                    doorman triage --no-default-rules --rules rules input.jsonl -f jsonl
#   exit         optional: the expected exit code (default 4 for a lint case,
#                0 for an evaluation case)
# Any other file (a list file the rules name, ...) is copied along: the case
# runs in a scratch copy of its folder, so paths in the output are relative.
# An evaluation case must write nothing on standard error; an ASan/UBSan
# report on standard error fails any case.
set -u
doorman=$1
case_dir=$2
case $doorman in */* | .*) doorman=$(cd "$(dirname "$doorman")" && pwd)/$(basename "$doorman") ;; esac
case_dir=$(cd "$case_dir" && pwd) || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$case_dir"/. "$work"/
cd "$work" || exit 1
unset DOORMAN_RULES_DIR
export NO_COLOR=1 COLUMNS=100 XDG_CONFIG_HOME="$work/no-config" XDG_CACHE_HOME="$work/cache" HOME="$work"
if [ -f input.jsonl ]; then
    "$doorman" triage --no-default-rules --rules rules input.jsonl -f jsonl >actual.out 2>actual.err
    code=$?
    want=0
    actual=actual.out
else
    "$doorman" rules lint --no-default-rules rules >actual.out 2>actual.err
    code=$?
    want=4
    actual=actual.err
fi
[ -f exit ] && want=$(cat exit)
fail=0
if [ "$code" != "$want" ]; then
    echo "exit code: got $code, want $want"
    fail=1
fi
if ! diff -u expected "$actual"; then
    echo "output differs from expected (above)"
    fail=1
fi
if grep -qE 'Sanitizer|runtime error:' actual.err; then
    echo "sanitizer report on stderr"
    fail=1
fi
if [ -f input.jsonl ] && [ -s actual.err ]; then
    echo "an evaluation case wrote on stderr"
    fail=1
fi
if [ $fail -ne 0 ]; then
    echo "--- stdout was:"
    cat actual.out
    echo "--- stderr was:"
    cat actual.err
fi
exit $fail
