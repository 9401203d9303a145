#!/usr/bin/env bash
# test_state_cli.sh DOORMAN SOURCE_DIR: the state database from the command
# line (docs/sources.md, "State: what doorman remembers"), against the test
# server tests/http/server.py on loopback (started here, stopped on exit even
# when a check fails): a second run finds nothing new, a record that appears
# between runs is the only one triaged, --all triages everything again, files
# are not tracked, and `doorman history` lists and filters what was seen.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "FAIL: python3 is needed (.ci/run installs it)"; exit 1; }
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

# history escapes strings as triage does: valid JSON, and in CSV a control
# character as '?', the field quoted with its quote doubled
run odd triage "$base/odd" --format jsonl --state "$tmp/odd.db"
expect_lines odd 1
run h_odd_json history --state "$tmp/odd.db" --format jsonl
if python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["id"]=="odd\x01\"id,\u00e9", d' "$tmp/h_odd_json.out"; then
    ok "h_odd_json: the id comes back whole, as valid JSON"
else
    fail "h_odd_json: $(cat "$tmp/h_odd_json.out")"
fi
run h_odd_csv history --state "$tmp/odd.db" --format csv
expect_out h_odd_csv ',"odd?""id,é",'

# ---- a database others may read is refused (exit 3), nothing written
chmod 644 "$tmp/other/state.db"
run refused triage "$base/own.jsonl" --format jsonl --state "$tmp/other/state.db"
expect_code refused 3
expect_err refused "chmod 600"
expect_lines refused 0

# ---- two runs at once on one source: the second is refused at once, with
# a clear message, and triages nothing; another source runs beside it
"$doorman" triage "$base/slow" --format jsonl --state "$tmp/lock.db" >"$tmp/lock1.out" 2>"$tmp/lock1.err" &
lpid=$!
sleep 1
run lock2 triage "$base/slow" --format jsonl --state "$tmp/lock.db"
expect_code lock2 3
expect_err lock2 "another doorman run is reading $base/slow with this state database"
expect_lines lock2 0
run lock3 triage "$base/own.jsonl" --format jsonl --state "$tmp/lock.db"
expect_code lock3 0
expect_lines lock3 3
wait "$lpid"
lcode=$?
n=$(wc -l <"$tmp/lock1.out")
[ "$lcode" -eq 0 ] && [ "$n" -eq 3 ] && ok "lock1: the first run went on: 3 records" ||
    { fail "lock1: exit $lcode, $n records"; cat "$tmp/lock1.err"; }
# the lock goes with its process, even a killed one
"$doorman" triage "$base/slow" --format jsonl --state "$tmp/lock.db" >/dev/null 2>&1 &
lpid=$!
sleep 1
kill -KILL "$lpid"
wait "$lpid" 2>/dev/null
run lock4 triage "$base/slow" --format jsonl --state "$tmp/lock.db" --all
expect_code lock4 0
expect_lines lock4 3
# one source twice on one command line: said as such
run twice triage "$base/own.jsonl" "$base/own.jsonl" --state "$tmp/twice.db"
expect_code twice 2
expect_err twice "given twice"

# ---- credentials from the config file (docs/sources.md, "Credentials")
mkdir -p cfg
printf 'token %s/auth = s3cret-token\n' "$base" >cfg/config
chmod 600 cfg/config
run token triage "$base/auth" --format jsonl --state "$tmp/cred.db" --config cfg/config
expect_code token 0
expect_lines token 3
if grep -q s3cret "$tmp/token.err" "$tmp/token.out"; then fail "token: the secret was printed"; else ok "token: the secret is not printed"; fi
# the default config file, $XDG_CONFIG_HOME/doorman/config
mkdir -p xdgc/doorman
cp cfg/config xdgc/doorman/config
XDG_CONFIG_HOME=$tmp/xdgc run token_default triage "$base/auth" --format jsonl --state "$tmp/cred.db" --all
expect_lines token_default 3
# a line for another URL, or no config: the server refuses (401)
printf 'token %s/authx = s3cret-token\n' "$base" >cfg/other
chmod 600 cfg/other
run token_other triage "$base/auth" --format jsonl --state "$tmp/cred.db" --config cfg/other --all
expect_code token_other 3
expect_err token_other "HTTP status 401"
# from an environment variable the config names
printf 'token-env %s/ = MY_API_TOKEN\n' "$base" >cfg/env
chmod 644 cfg/env # no secret in it: others may read it
MY_API_TOKEN=s3cret-token run token_env triage "$base/auth" --format jsonl --state "$tmp/cred.db" --config cfg/env --all
expect_code token_env 0
expect_lines token_env 3
run token_env_unset triage "$base/auth" --format jsonl --state "$tmp/cred.db" --config cfg/env --all
expect_code token_env_unset 3
expect_err token_env_unset "cfg/env:1:1: the environment variable MY_API_TOKEN (token-env) is not set"
# a config file holding a secret that others may read is refused, naming the line
printf '# mine\ntoken %s/auth = s3cret-token\n' "$base" >cfg/open
chmod 644 cfg/open
run token_open triage "$base/auth" --format jsonl --state "$tmp/cred.db" --config cfg/open --all
expect_code token_open 3
expect_err token_open "cfg/open:2:1: error: this line holds a secret, but others may read the file (mode 0644); refusing it (chmod 600 it)"
expect_lines token_open 0
run config_missing triage "$base/auth" --state "$tmp/cred.db" --config cfg/none
expect_code config_missing 3
expect_err config_missing "cfg/none"
printf 'token %s/auth s3cret-token\n' "$base" >cfg/bad
chmod 600 cfg/bad
run config_bad triage "$base/auth" --state "$tmp/cred.db" --config cfg/bad
expect_code config_bad 3
expect_err config_bad "cfg/bad:1:1: error: expected token URL = VALUE"
# files need no config: a broken one is not read for them
run config_files triage f.jsonl --format jsonl --config cfg/bad
expect_code config_files 0

# ---- progress on stderr when it is a terminal; nothing when it is not
cat >total.json <<'JSON'
{"items": "/elements", "total": "/total",
 "fields": {"kind": {"value": "invitation"}, "id": "/invitation/entityUrn",
            "from.name": {"join": ["/invitation/fromMember/firstName", "/invitation/fromMember/lastName"]},
            "message": "/invitation/message"},
 "next": {"type": "offset", "param": "start", "limit_param": "count", "limit": 100}}
JSON
python3 "$src/tests/e2e/pty-stderr.py" prog.out prog.tty "$doorman" triage "$base/big#mapping=$tmp/total.json" \
    --format jsonl --state "$tmp/prog.db"
pcode=$?
[ "$pcode" -eq 0 ] && ok "progress: exit 0" || { fail "progress: exit $pcode"; cat prog.tty; }
n=$(wc -l <prog.out)
[ "$n" -eq 5000 ] && ok "progress: 5,000 records on stdout" || fail "progress: $n records on stdout"
tr '\r' '\n' <prog.tty | sed 's/\x1b\[K//g' >prog.lines
for want in "/50 pages" "records/s" "ETA "; do
    grep -qF -- "$want" prog.lines && ok "progress: the terminal shows '$want'" ||
        { fail "progress: no '$want' on the terminal:"; head -c 800 prog.lines; }
done
grep -qE '^doorman: (http://127\.0\.0\.1|\.\.\.)[^ ]*/big#mapping=[^ ]*total\.json: [0-9]+/50 pages, [0-9]+ records' prog.lines &&
    ok "progress: a line names the URL, pages and records" ||
    { fail "progress: no line of the expected form:"; head -c 800 prog.lines; }
# the line is cleared at the end: the last thing written is the erase
tail -c 4 prog.tty | od -c | grep -q '\\r 033   \[   K' && ok "progress: cleared at the end" ||
    { fail "progress: not cleared at the end:"; tail -c 200 prog.tty | od -c | tail -5; }
grep -q 'Sanitizer\|runtime error' prog.tty && fail "progress: sanitizer report"
# stderr not a terminal: nothing of it (the run re-reads everything with --all)
run noprog triage "$base/big#mapping=$tmp/total.json" --format jsonl --state "$tmp/prog.db" --all
expect_code noprog 0
[ -s "$tmp/noprog.err" ] && fail "noprog: stderr has: $(head -c 300 "$tmp/noprog.err")" || ok "noprog: nothing on stderr"
# -q: no progress even on a terminal
python3 "$src/tests/e2e/pty-stderr.py" progq.out progq.tty "$doorman" triage "$base/big#mapping=$tmp/total.json" \
    --format jsonl --state "$tmp/prog.db" --all -q
[ -s progq.tty ] && fail "progress -q: the terminal got: $(head -c 300 progq.tty)" || ok "progress -q: nothing on the terminal"

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
