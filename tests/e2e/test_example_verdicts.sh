#!/usr/bin/env bash
# test_example_verdicts.sh DOORMAN SOURCE_DIR: the shipped rules give the bundled example
# export the verdicts that examples/export/EXPECTED.md says a sensible user wants, for every
# incoming invitation: no false decline, no false accept, no review where a verdict is due.
set -u
doorman=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_CONFIG_HOME=$tmp/xdg DOORMAN_RULES_DIR=$src/rules

# "| 2 | Brandon Kessler | **decline** | ..." -> "Brandon Kessler|decline"
sed -n 's/^| *[0-9][0-9]* | \([^|]*[^ |]\) *| \*\*\([a-z]*\)\*\* |.*/\1|\2/p' \
    "$src/examples/export/EXPECTED.md" | sort >"$tmp/want"
[ "$(wc -l <"$tmp/want")" -ge 40 ] || { echo "FAIL: EXPECTED.md gave $(wc -l <"$tmp/want") rows"; exit 1; }

"$doorman" triage "$src/examples/export" --format jsonl >"$tmp/out" || { echo "FAIL: triage"; exit 1; }
sed -n 's/.*"verdict":"\([a-z]*\)".*"from":{"name":"\([^"]*\)".*/\2|\1/p' "$tmp/out" | sort >"$tmp/got"

if ! diff -u "$tmp/want" "$tmp/got"; then
    echo "FAIL: verdicts differ from EXPECTED.md (- wanted, + got)"
    exit 1
fi
echo "all $(wc -l <"$tmp/got") invitations as EXPECTED.md wants"
