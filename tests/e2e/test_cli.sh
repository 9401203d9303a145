#!/usr/bin/env bash
# test_cli.sh DOORMAN SOURCE_DIR: what fixed expected files cannot say well:
# the version against CMakeLists.txt, colour with and without NO_COLOR, the
# default format and width when stdout is no terminal, and the example export
# giving every verdict.
. "$(dirname "$0")/lib.sh"
export_dir=$src/examples/export
cd "$tmp" || exit 1

# --version prints the project's version.
want=$(sed -n 's/^project(doorman VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
run version --version
expect_code version 0
[ -n "$want" ] && [ "$(cat version.out)" = "doorman $want" ] && ok "version: doorman $want" ||
    fail "version: prints '$(cat version.out)', want 'doorman $want'"

# The example export gives all three verdicts, and the json summary adds up.
run example triage "$export_dir" --format json
expect_code example 0
summary=$(tail -1 example.out)
num() { printf '%s' "$summary" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
total=$(num total) accept=$(num accept) review=$(num review) decline=$(num decline) skipped=$(num skipped)
[ "${total:-0}" -eq 41 ] || fail "example: total $total, want the 41 incoming invitations"
[ "${skipped:-1}" -eq 0 ] || fail "example: $skipped rows skipped, want 0"
for v in accept review decline; do
    [ "${!v:-0}" -gt 0 ] && ok "example: $v ${!v}" || fail "example: no $v at all: $summary"
done
[ $((accept + review + decline)) -eq "$total" ] || fail "example: verdicts do not add up: $summary"
[ "$(grep -c '"verdict":"accept"' example.out)" -eq "$accept" ] ||
    fail "example: the summary's accept count disagrees with the records"
[ "$(grep -c '"verdict":"decline"' example.out)" -eq "$decline" ] ||
    fail "example: the summary's decline count disagrees with the records"

# --messages: the sponsored InMail arrives with its facts, and a weak join.
run example-messages triage "$export_dir" --messages --format jsonl
expect_code example-messages 0
grep '"name":"Caroline Weber"' example-messages.out | grep -q '"facts":\["spinmail","no_sender_url","html"\]' &&
    ok "example-messages: the sponsored InMail has spinmail, no_sender_url, html" ||
    fail "example-messages: Caroline Weber's InMail lacks its facts: $(grep 'Caroline Weber' example-messages.out | head -c 300)"
n=$(grep -c '"kind":"message"' example-messages.out)
[ "$n" -gt 0 ] && ok "example-messages: $n message records" || fail "example-messages: no message records"
grep '"kind":"message"' example-messages.out | grep -q '"direction":"outgoing"' &&
    fail "example-messages: an outgoing message became a record"

# Colour: --color always colours the verdict (and nothing else), unless
# NO_COLOR is set and not empty.
"$doorman" triage "$export_dir" --color always --format table --width 100 >color.out 2>color.err
echo $? >color.code
sanitizer_check color
expect_code color 0
grep -q $'^\e\\[31mdecline\e\\[0m ' color.out && grep -q $'^\e\\[32maccept\e\\[0m ' color.out &&
    grep -q $'^\e\\[33mreview\e\\[0m ' color.out && ok "color: verdicts red, green, yellow" ||
    fail "color: verdicts not coloured: $(head -3 color.out | cat -v)"
others=$(sed $'s/\e\\[3[123]m//g; s/\e\\[0m//g' color.out | grep -c $'\e')
[ "$others" -eq 0 ] || fail "color: $others lines carry other escape sequences"
NO_COLOR=1 "$doorman" triage "$export_dir" --color always --format table --width 100 >nocolor.out 2>&1
grep -q $'\e' nocolor.out && fail "nocolor: NO_COLOR=1 did not turn colour off"
sed $'s/\e\\[[0-9]*m//g' color.out | cmp -s - nocolor.out && ok "nocolor: the same table without colour" ||
    fail "nocolor: differs from the coloured table beyond the colour"
NO_COLOR= "$doorman" triage "$export_dir" --color always --format table --width 100 >emptync.out 2>&1
cmp -s color.out emptync.out && ok "color: an empty NO_COLOR does not turn colour off" ||
    fail "color: an empty NO_COLOR turned colour off"

# Not a terminal: jsonl by default; a table takes COLUMNS, else 100 columns.
NO_COLOR=1 "$doorman" triage "$export_dir" >default.out 2>&1
NO_COLOR=1 "$doorman" triage "$export_dir" --format jsonl >jsonl.out 2>&1
cmp -s default.out jsonl.out && ok "default: jsonl when stdout is no terminal" ||
    fail "default: not jsonl when piped: $(head -c 200 default.out)"
# widest FILE: the longest line in code points (UTF-8 continuation bytes dropped)
widest() { LC_ALL=C tr -d '\200-\277' <"$1" | LC_ALL=C awk '{ if (length($0) > w) w = length($0) } END { print w }'; }
env -u COLUMNS NO_COLOR=1 "$doorman" triage "$export_dir" --format table >w100.out 2>&1
COLUMNS=60 NO_COLOR=1 "$doorman" triage "$export_dir" --format table >w60.out 2>&1
w=$(widest w100.out)
[ "$w" -eq 100 ] && ok "width: 100 columns without COLUMNS" || fail "width: widest line $w, want 100"
w=$(widest w60.out)
[ "$w" -eq 60 ] && ok "width: COLUMNS=60 gives 60 columns" || fail "width: widest line $w with COLUMNS=60"
run width-small triage "$export_dir" --width 39
expect_code width-small 2
expect_err width-small "doorman: --width takes a number of columns from 40 to 512"

# Sources of every kind in one run: an export folder and JSONL on stdin.
printf '%s\n' '{"from":{"name":"Ann Lee","url":"https://www.linkedin.com/in/teresa-okafor-ops-4c1e"}}' |
    "$doorman" triage "$export_dir" - --format jsonl >mixed.out 2>mixed.err
echo $? >mixed.code
sanitizer_check mixed
expect_code mixed 0
[ "$(wc -l <mixed.out)" -eq 42 ] || fail "mixed: $(wc -l <mixed.out) records, want 41 + 1"
tail -1 mixed.out | grep -q '"source":"<stdin>:1".*"history":{"messages":4,"incoming":' &&
    ok "mixed: the stdin record is joined with the export's history" ||
    fail "mixed: the stdin record has no history from the export: $(tail -1 mixed.out)"

finish
