#!/usr/bin/env bash
# run-case.sh DOORMAN CASEDIR: one data-driven end-to-end case.
#
# A case is a folder holding:
#   args      the arguments to doorman, one per line (run from the case folder)
#   stdin     optional: fed to standard input (else /dev/null)
#   stdout    the exact expected standard output
#   stderr    optional: the exact expected standard error
#   exit      optional: the expected exit code (default 0)
#   env       optional: environment for doorman, one NAME=VALUE a line (blank
#             lines and '#' comments skipped); a relative path in a value is
#             relative to the case folder, where doorman runs
#             (DOORMAN_RULES_DIR=shipped, XDG_CONFIG_HOME=config)
# Unless `env` says otherwise, doorman runs the fixed rules of tests/e2e/rules (a
# snapshot, so that tuning the shipped rules does not change what these cases, which
# test reading and writing, expect) and an empty XDG_CONFIG_HOME (no user rules).
# An ASan/UBSan report on standard error fails the case in any event.
# Any file named *.gen.sh is run first (in a scratch copy) to make large inputs.
set -u
here=$(cd "$(dirname "$0")" && pwd)
doorman=$1
case_dir=$2
# the case runs in a scratch folder: make relative paths absolute first
case $doorman in */* | .*) doorman=$(cd "$(dirname "$doorman")" && pwd)/$(basename "$doorman") ;; esac
case_dir=$(cd "$case_dir" && pwd) || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$case_dir"/. "$work"/
cd "$work" || exit 1
for g in *.gen.sh; do
    [ -e "$g" ] || continue
    bash "$g" || { echo "generator $g failed"; exit 1; }
done
mapfile -t args < args
envs=()
[ -f env ] && mapfile -t envs < <(grep -Ev '^[[:space:]]*(#|$)' env)
in=/dev/null
[ -f stdin ] && in=stdin
mkdir -p "$work/.xdg"
NO_COLOR=1 COLUMNS=100 DOORMAN_RULES_DIR="$here/rules" XDG_CONFIG_HOME="$work/.xdg" \
    XDG_CACHE_HOME="$work/.cache" env ${envs[@]+"${envs[@]}"} "$doorman" "${args[@]}" <"$in" >actual.out 2>actual.err
code=$?
want=0
[ -f exit ] && want=$(cat exit)
fail=0
if [ "$code" != "$want" ]; then
    echo "exit code: got $code, want $want"
    fail=1
fi
if ! diff -u stdout actual.out; then
    echo "stdout differs (above)"
    fail=1
fi
if grep -qE 'Sanitizer|runtime error:' actual.err; then
    echo "sanitizer report on stderr"
    fail=1
fi
if [ -f stderr ] && ! diff -u stderr actual.err; then
    echo "stderr differs (above)"
    fail=1
fi
if [ $fail -ne 0 ]; then
    echo "--- stderr was:"
    cat actual.err
fi
exit $fail
