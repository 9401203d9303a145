#!/usr/bin/env bash
# test_state_cli.sh DOORMAN SOURCE_DIR: the state database from the command
# line (docs/sources.md, "State: what doorman remembers"), against the test
# server tests/http/server.py on loopback (started here, stopped on exit even
# when a check fails): a second run finds nothing new, a record that appears
# between runs is the only one triaged, --all triages everything again, files
# are not tracked, and `doorman history` lists and filters what was seen.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 0; }
cd "$tmp" || exit 1
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
# never the user's own state database (lib.sh sets it too)
export XDG_STATE_HOME=$tmp/xdg
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

python3 "$src/tests/http/server.py" --port-file "$tmp/port" 2>"$tmp/port.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -s "$tmp/port" ] && break
    sleep 0.05
done
[ -s "$tmp/port" ] || { echo "FAIL: the test server did not start:"; cat "$tmp/port.log"; exit 1; }
base=http://127.0.0.1:$(cat "$tmp/port")

# expect_lines NAME N: stdout of run NAME has N lines
expect_lines() {
    local n
    n=$(wc -l <"$tmp/$1.out")
    if [ "$n" -eq "$2" ]; then ok "$1: $2 lines"; else fail "$1: $n lines, want $2"; cat "$tmp/$1.err"; fi
}
expect_out() {
    if grep -qF -- "$2" "$tmp/$1.out"; then ok "$1: output has '$2'"; else fail "$1: output lacks '$2'"; head -c 600 "$tmp/$1.out"; fi
}
expect_no_out() {
    if grep -qF -- "$2" "$tmp/$1.out"; then fail "$1: output has '$2'"; else ok "$1: output lacks '$2'"; fi
}

# ---- first run: everything; the database is made private, in XDG_STATE_HOME
run first triage "$base/own.jsonl" --format jsonl
expect_code first 0
expect_lines first 3
db=$XDG_STATE_HOME/doorman/state.db
if [ -f "$db" ]; then ok "state database in XDG_STATE_HOME"; else fail "no $db"; fi
mode=$(stat -c %a "$db" 2>/dev/null)
[ "$mode" = 600 ] && ok "state database mode 600" || fail "state database mode $mode"

# ---- second run: nothing new, and stderr says why
run second triage "$base/own.jsonl" --format jsonl
expect_code second 0
expect_lines second 0
expect_err second "3 records triaged before, skipped"
run second_quiet triage "$base/own.jsonl" --format jsonl -q
[ -s "$tmp/second_quiet.err" ] && fail "second_quiet: -q printed: $(cat "$tmp/second_quiet.err")" || ok "second_quiet: silent"

# ---- --all: everything again
run all triage "$base/own.jsonl" --format jsonl --all
expect_code all 0
expect_lines all 3

# ---- a record appearing between runs is the only one triaged (/grow adds one a request)
run grow1 triage "$base/grow/a" --format jsonl
expect_lines grow1 2
run grow2 triage "$base/grow/a" --format jsonl
expect_lines grow2 1
expect_out grow2 '"id":"grow-3"'
# into a regular file (each record staged with its bytes), csv with its header
"$doorman" triage "$base/grow/a" --format csv >"$tmp/grow3.csv" 2>"$tmp/grow3.err"
n=$(grep -c grow- "$tmp/grow3.csv")
[ "$n" -eq 1 ] && grep -q grow-4 "$tmp/grow3.csv" && ok "grow3: only grow-4, into a file" ||
    { fail "grow3: $n records"; cat "$tmp/grow3.csv" "$tmp/grow3.err"; }
# a table is written at the end: its records count as delivered after it
run grow4 triage "$base/grow/a" --format table
expect_out grow4 "Hello number 5"
expect_out grow4 "1 record"
run grow5 triage "$base/grow/a" --format json
expect_out grow5 '"grow-6"'
expect_no_out grow5 '"grow-5"'
# --only: records not shown are remembered too
run grow6 triage "$base/grow/a" --format jsonl --only accept
expect_lines grow6 0
run grow7 triage "$base/grow/a" --format jsonl
expect_lines grow7 1
expect_out grow7 '"id":"grow-8"'

# ---- --state PATH: another database, empty
run other triage "$base/own.jsonl" --format jsonl --state "$tmp/other/state.db"
expect_lines other 3
[ -f "$tmp/other/state.db" ] && ok "--state PATH used" || fail "--state PATH not created"

# ---- files are not tracked
printf '%s\n' '{"kind":"invitation","id":"file-1","from":{"name":"A B"},"message":"hi"}' >f.jsonl
run file1 triage f.jsonl --format jsonl
run file2 triage f.jsonl --format jsonl
expect_lines file2 1

# ---- history
run h_all history --format jsonl
expect_code h_all 0
expect_lines h_all 11
expect_out h_all '"id":"own-1"'
expect_out h_all '"delivered":true'
expect_no_out h_all 'file-1'
run h_src history --source "$base/own.jsonl" --format csv
expect_lines h_src 4
expect_out h_src "first_seen,verdict,score,source,id,rules,delivered"
run h_json history --source "$base/grow/a" --format json
expect_code h_json 0
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==8, len(d)' "$tmp/h_json.out"; then
    ok "h_json: a JSON array of 8"
else
    fail "h_json: not a JSON array of 8"
fi
for v in accept review decline; do
    run "h_$v" history --verdict $v --format jsonl
    want=$(grep -c "\"verdict\":\"$v\"" "$tmp/h_all.out")
    expect_lines "h_$v" "$want"
done
run h_future history --since 2999-01-01 --format jsonl
expect_lines h_future 0
run h_past history --until 2000-01-01 --format jsonl
expect_lines h_past 0
today=$(date -u +%Y-%m-%d)
run h_today history --since "$today" --until "$today" --format jsonl
expect_lines h_today 11
run h_table history --format table
expect_out h_table "11 records"
run h_other history --state "$tmp/other/state.db" --format jsonl
expect_lines h_other 3
run h_none history --state "$tmp/none/state.db" --format json
expect_code h_none 0
[ -e "$tmp/none" ] && fail "h_none: history created a database" || ok "h_none: nothing created"
run h_bad history --since yesterday
expect_code h_bad 2
run h_badv history --verdict maybe
expect_code h_badv 2
run h_arg history extra
expect_code h_arg 2

# ---- a database others may read is refused (exit 3), nothing written
chmod 644 "$tmp/other/state.db"
run refused triage "$base/own.jsonl" --format jsonl --state "$tmp/other/state.db"
expect_code refused 3
expect_err refused "chmod 600"
expect_lines refused 0

# ---- killed runs: SIGKILL at random moments, then a run to the end; appended
# to one file (>>), every one of the 5,000 records comes out exactly once
python3 - "$src/examples/mappings/linkedin-unofficial.json" >big.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["auth"]
m["next"] = {"type": "offset", "param": "start", "limit_param": "count", "limit": 100}
print(json.dumps(m))
PY
: >killed.jsonl
for i in $(seq 8); do
    "$doorman" triage "$base/big#mapping=$tmp/big.json" --format jsonl --state "$tmp/kill.db" \
        >>killed.jsonl 2>>killed.err &
    kpid=$!
    sleep "$((RANDOM % 2)).$((RANDOM % 10))"
    kill -KILL "$kpid" 2>/dev/null
    wait "$kpid" 2>/dev/null
done
before=$(wc -l <killed.jsonl)
NO_COLOR=1 "$doorman" triage "$base/big#mapping=$tmp/big.json" --format jsonl --state "$tmp/kill.db" \
    >>killed.jsonl 2>>killed.err || fail "killed: the last run failed: $(tail -3 killed.err)"
total=$(grep -c '"id"' killed.jsonl)
uniq=$(sed -E 's/^\{"id":"([^"]*)".*/\1/' killed.jsonl | sort -u | wc -l)
if [ "$total" -eq 5000 ] && [ "$uniq" -eq 5000 ]; then
    ok "killed: 8 runs killed ($before records by then), then one to the end: 5,000 records, each exactly once"
else
    fail "killed: $total records, $uniq different, want 5,000 once each"
fi
if grep -q Sanitizer killed.err; then fail "killed: sanitizer report"; cat killed.err; fi

finish
