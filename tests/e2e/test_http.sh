#!/usr/bin/env bash
# test_http.sh DOORMAN SOURCE_DIR: `doorman triage http://...` against the
# test server tests/http/server.py on loopback (started here, stopped on
# exit even when a check fails): doorman's own schema, mappings and their
# pagination (own-schema pages with a next URL in the body too), the fault
# modes (429 + Retry-After in seconds and as a date, 500 then success, the
# retry_total_ms cap, a slow answer, cut bodies, invalid JSON, a redirect
# loop, a body over the limit, a wrong content type), credentials, the
# "since" cursor kept in the state database across runs, 5,000 items over
# 50 pages, and TLS with a CA made here.
. "$(dirname "$0")/lib.sh"
# every run as the first: what the state database changes is test_state_cli.sh's
DM_E2E_FRESH_STATE=1
command -v python3 >/dev/null || { echo "FAIL: python3 is needed (.ci/run installs it)"; exit 1; }
cd "$tmp" || exit 1
# loopback only: never through a proxy from the environment
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"' EXIT

# start_server PORTFILE [ARGS...]: starts the server, waits for its port
start_server() {
    local pf=$1
    shift
    python3 "$src/tests/http/server.py" --port-file "$pf" "$@" 2>"$pf.log" &
    pids+=($!)
    for _ in $(seq 100); do
        [ -s "$pf" ] && return 0
        sleep 0.05
    done
    echo "FAIL: the test server did not start:"
    cat "$pf.log"
    exit 1
}
start_server "$tmp/port" --log "$tmp/requests"
base=http://127.0.0.1:$(cat "$tmp/port")

# Short delays and limits, so the fault modes take well under a second each.
cat >fast.json <<'JSON'
{"http": {"connect_timeout_ms": 1000, "timeout_ms": 1000, "retries": 2, "retry_base_ms": 20,
          "retry_max_ms": 1500, "max_redirects": 3, "max_bytes": 1000000}}
JSON
sed 's/"retries": 2/"retries": 0/' fast.json >noretry.json
fast="#mapping=$tmp/fast.json"

# expect_lines NAME N: stdout of run NAME has N lines
expect_lines() {
    local n
    n=$(wc -l <"$tmp/$1.out")
    if [ "$n" -eq "$2" ]; then ok "$1: $2 records"; else fail "$1: $n records, want $2"; cat "$tmp/$1.err"; fi
}
# expect_out NAME TEXT: stdout of run NAME holds TEXT
expect_out() {
    if grep -qF -- "$2" "$tmp/$1.out"; then ok "$1: output has '$2'"; else fail "$1: output lacks '$2'"; head -c 600 "$tmp/$1.out"; fi
}

# ---- doorman's own schema, no mapping
run own triage "$base/own.jsonl" --format jsonl
expect_code own 0
expect_lines own 3
expect_out own '"id":"own-2"'
expect_out own "\"source\":\"$base/own.jsonl:3\""

run ua triage "$base/ua" --format jsonl
expect_code ua 0
expect_out ua '"message":"doorman/'

run redirect triage "$base/redirect" --format jsonl
expect_code redirect 0
expect_lines redirect 3

# ---- pagination: Link header, next URL in the body, cursor, offset/limit
run link triage "$base/own.json#mapping=$src/examples/mappings/doorman.json" --format jsonl
expect_code link 0
expect_lines link 3
expect_out link "\"source\":\"$base/own.json?page=3#0\""

DOORMAN_API_TOKEN=t run li triage \
    "$base/li#mapping=$src/examples/mappings/linkedin-unofficial.json" --format jsonl
expect_code li 0
expect_lines li 6
expect_out li '"from":{"name":"First4 Last4","headline":"Occupation 4","url":"https://www.linkedin.com/in/member-4"}'
expect_out li '"sent_at":"2026-02-12T10:48:00Z"'
expect_out li '"mutual":4'
expect_out li '"id":"urn:li:fs_relInvitation:5"'

unset DOORMAN_API_TOKEN
run li_noenv triage \
    "$base/li#mapping=$src/examples/mappings/linkedin-unofficial.json" --format jsonl
expect_code li_noenv 3
expect_err li_noenv "$base/li: page 1: the environment variable DOORMAN_API_TOKEN (the mapping's auth.env) is not set"

python3 - "$src/examples/mappings/linkedin-unofficial.json" >cursor.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["auth"]
m["next"] = {"type": "cursor", "pointer": "/paging/cursor", "param": "cursor"}
print(json.dumps(m))
PY
run cursor triage "$base/cursor#mapping=$tmp/cursor.json" --format jsonl
expect_code cursor 0
expect_lines cursor 6
expect_out cursor "\"source\":\"$base/cursor?cursor=2#1\""

python3 - "$src/examples/mappings/linkedin-unofficial.json" >big.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["auth"]
m["next"] = {"type": "offset", "param": "start", "limit_param": "count", "limit": 100}
print(json.dumps(m))
PY
: >"$tmp/big.err"
peak=$(peak_rss_kb "$doorman" triage "$base/big#mapping=$tmp/big.json" --format jsonl 3>"$tmp/big.out" 4>"$tmp/big.err")
cp "$tmp/rss.code" "$tmp/big.code"
expect_code big 0
expect_lines big 5000
expect_out big "\"source\":\"$base/big?start=4900&count=100#99\""
if [ "$(sort -u "$tmp/big.out" | wc -l)" -eq 5000 ]; then ok "big: 5000 distinct records"; else fail "big: repeated records"; fi
# one page (100 items) at a time: memory does not grow with the listing
expect_rss big "$peak" 65536 1000

# a listing that does not end stops at next.max_pages, after what it read
python3 - big.json >few.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["next"]["max_pages"] = 3
print(json.dumps(m))
PY
run maxpages triage "$base/big#mapping=$tmp/few.json" --format jsonl
expect_code maxpages 3
expect_lines maxpages 300
expect_err maxpages "$base/big?start=200&count=100: error: page 3: more than 3 pages; stopping"

# a page that fails after good ones: what was read is written, then exit 3
DOORMAN_API_TOKEN=t run partial triage \
    "$base/lipartial#mapping=$src/examples/mappings/linkedin-unofficial.json" --format jsonl
expect_code partial 3
expect_lines partial 3
expect_err partial "$base/invalid: error: page 2: invalid JSON at line 1, column"

# doorman's own schema with the next page's URL in the body: {"records": [...], "next": URL}
printf '{"next": {"type": "body", "pointer": "/next"}}\n' >ownbody.json
run ownbody triage "$base/ownbody#mapping=$tmp/ownbody.json" --format jsonl
expect_code ownbody 0
expect_lines ownbody 3
expect_out ownbody '"id":"own-3"'
expect_out ownbody "\"source\":\"$base/ownbody?page=3#0\""
# JSONL is no one JSON document: it cannot hold the next URL
run ownbody_jsonl triage "$base/own.jsonl#mapping=$tmp/ownbody.json"
expect_code ownbody_jsonl 3
expect_err ownbody_jsonl "$base/own.jsonl: page 1: the page is not one JSON document ("
expect_err ownbody_jsonl "next.type \"body\" needs {\"records\": [...], ...} or an array, not JSONL"

# ---- "since": a later run asks only for what came after the greatest value seen
python3 - "$src/examples/mappings/linkedin-unofficial.json" >since.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["auth"]
m["next"] = {"type": "offset", "param": "start", "limit_param": "count", "limit": 2}
m["since"] = {"pointer": "/invitation/sentTime", "param": "createdAfter"}
m["total"] = "/paging/total"
print(json.dumps(m))
PY
: >"$tmp/requests"
run since1 triage "$base/since#mapping=$tmp/since.json" --state "$tmp/since.db" --format jsonl
expect_code since1 0
expect_lines since1 6
if grep -q createdAfter "$tmp/requests"; then fail "since1: the first run sent createdAfter"; cat "$tmp/requests"; else ok "since1: no createdAfter"; fi
: >"$tmp/requests"
run since2 triage "$base/since#mapping=$tmp/since.json" --state "$tmp/since.db" --format jsonl
expect_code since2 0
expect_lines since2 0
# 1770893340000: the sentTime of the last of the 6 items
if [ "$(head -n1 "$tmp/requests")" = "/since?start=0&count=2&createdAfter=1770893340000" ]; then
    ok "since2: asked for createdAfter=1770893340000"
else
    fail "since2: requests were:"; cat "$tmp/requests"
fi
# nothing new came: the cursor stays for the run after
: >"$tmp/requests"
run since3 triage "$base/since#mapping=$tmp/since.json" --state "$tmp/since.db" --format jsonl
expect_code since3 0
if [ "$(head -n1 "$tmp/requests")" = "/since?start=0&count=2&createdAfter=1770893340000" ]; then
    ok "since3: the cursor was kept"
else
    fail "since3: requests were:"; cat "$tmp/requests"
fi

# ---- fault modes
t0=$(date +%s%N)
run r429 triage "$base/r429/a$fast" --format jsonl
ms=$((($(date +%s%N) - t0) / 1000000))
expect_code r429 0
expect_lines r429 3
if [ "$ms" -ge 1000 ]; then ok "r429: waited ${ms} ms (Retry-After: 1)"; else fail "r429: waited only ${ms} ms"; fi

# Retry-After as an HTTP-date 3 s ahead (whole seconds): a wait of 2 to 3 s
cat >slowok.json <<'JSON'
{"http": {"retries": 2, "retry_base_ms": 20, "retry_max_ms": 10000}}
JSON
t0=$(date +%s%N)
run rdate triage "$base/rdate/a#mapping=$tmp/slowok.json" --format jsonl
ms=$((($(date +%s%N) - t0) / 1000000))
expect_code rdate 0
expect_lines rdate 3
if [ "$ms" -ge 1800 ] && [ "$ms" -lt 4500 ]; then ok "rdate: waited ${ms} ms (Retry-After: a date)"; else fail "rdate: waited ${ms} ms, want 2000 to 3000"; fi

# retry_total_ms: many retries allowed, but not more than 1.5 s of them
cat >capped.json <<'JSON'
{"http": {"retries": 100, "retry_base_ms": 200, "retry_max_ms": 400, "retry_total_ms": 1500}}
JSON
t0=$(date +%s%N)
run capped triage "$base/always500#mapping=$tmp/capped.json"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_code capped 3
expect_err capped "$base/always500: page 1: HTTP status 500 (gave up after "
expect_err capped " attempts in 1."
if [ "$ms" -lt 3000 ]; then ok "capped: gave up after ${ms} ms"; else fail "capped: took ${ms} ms"; fi

run r500 triage "$base/r500/a$fast" --format jsonl
expect_code r500 0
expect_lines r500 3

run r500_noretry triage "$base/r500/b#mapping=$tmp/noretry.json" --format jsonl
expect_code r500_noretry 3
expect_err r500_noretry "$base/r500/b: page 1: HTTP status 500 (after 1 attempt)"

run always500 triage "$base/always500$fast"
expect_code always500 3
expect_err always500 "$base/always500: page 1: HTTP status 500 (after 3 attempts)"

t0=$(date +%s%N)
run slow triage "$base/slow#mapping=$tmp/noretry.json"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_code slow 3
expect_err slow "$base/slow: page 1: Operation timed out"
if [ "$ms" -lt 2500 ]; then ok "slow: gave up after ${ms} ms"; else fail "slow: took ${ms} ms"; fi

run cut triage "$base/cut$fast"
expect_code cut 3
expect_err cut "$base/cut: page 1:"
expect_err cut "(after 3 attempts)"

run cutjson triage "$base/cutjson#mapping=$tmp/big.json"
expect_code cutjson 3
expect_err cutjson "$base/cutjson?start=0&count=100: page 1: invalid JSON at line 1"

run invalid triage "$base/invalid#mapping=$tmp/big.json"
expect_code invalid 3
expect_err invalid "$base/invalid?start=0&count=100: page 1: invalid JSON at line 1, column"

run invalid_own triage "$base/invalid" --strict
expect_code invalid_own 3
expect_err invalid_own "$base/invalid:1:"
expect_err invalid_own "page 1:"

run loop triage "$base/loop$fast"
expect_code loop 3
expect_err loop "$base/loop: page 1: Maximum (3) redirects followed"

run huge triage "$base/huge$fast"
expect_code huge 3
expect_err huge "$base/huge: page 1: the response is over 1000000 bytes; aborted"

run hugestream triage "$base/hugestream$fast"
expect_code hugestream 3
expect_err hugestream "$base/hugestream: page 1: the response is over 1000000 bytes; aborted"

run refused triage "http://127.0.0.1:1/list$fast"
expect_code refused 3
expect_err refused "http://127.0.0.1:1/list: page 1:"
expect_err refused "(after 3 attempts)"

run html triage "$base/html$fast"
expect_code html 3
expect_err html "$base/html: page 1: the response is text/html; charset=utf-8, not JSON"

run notfound triage "$base/nothing-here$fast"
expect_code notfound 3
expect_err notfound "$base/nothing-here: page 1: HTTP status 404"

# ---- credentials: never on the command line, never printed
run userpw triage "http://user:hunter2@127.0.0.1:1/x"
expect_code userpw 3
expect_err userpw "the URL holds a password"
if grep -q hunter2 "$tmp/userpw.err"; then fail "userpw: the password was printed"; else ok "userpw: password not printed"; fi

printf '{"auth": {"type": "bearer", "env": "TEST_TOKEN"}}\n' >bearer.json
TEST_TOKEN=s3cret-token run auth triage "$base/auth#mapping=$tmp/bearer.json" --format jsonl
expect_code auth 0
expect_lines auth 3
TEST_TOKEN=wrong-token run auth_bad triage "$base/auth#mapping=$tmp/bearer.json"
expect_code auth_bad 3
expect_err auth_bad "$base/auth: page 1: HTTP status 401"
if grep -q wrong-token "$tmp/auth_bad.err"; then fail "auth_bad: the token was printed"; else ok "auth_bad: token not printed"; fi

# a redirect keeps the token on the same host and does not carry it to another
TEST_TOKEN=s3cret-token run auth_here triage "$base/auth-here#mapping=$tmp/bearer.json" --format jsonl
expect_code auth_here 0
expect_lines auth_here 3
TEST_TOKEN=s3cret-token run auth_elsewhere triage "$base/auth-elsewhere#mapping=$tmp/bearer.json"
expect_code auth_elsewhere 3
expect_err auth_elsewhere "page 1: HTTP status 401"

printf '{"auth": {"type": "bearer", "secret": "s3cret-token"}}\n' >inline.json
chmod 644 inline.json
run inline_open triage "$base/auth#mapping=$tmp/inline.json"
expect_code inline_open 3
expect_err inline_open "holds a secret but others may read it; refusing it"
chmod 600 inline.json
run inline triage "$base/auth#mapping=$tmp/inline.json" --format jsonl
expect_code inline 0
expect_lines inline 3

printf 'machine 127.0.0.1 login u password p\n' >netrc
chmod 644 netrc
printf '{"auth": {"type": "netrc", "file": "%s"}}\n' "$tmp/netrc" >netrc.json
run netrc_open triage "$base/own.jsonl#mapping=$tmp/netrc.json"
expect_code netrc_open 3
expect_err netrc_open "may be read by others; refusing it"
chmod 600 netrc
run netrc triage "$base/own.jsonl#mapping=$tmp/netrc.json" --format jsonl
expect_code netrc 0
expect_lines netrc 3

# ---- TLS with a CA made here; without the CA, verification fails
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj "/CN=doorman test CA" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" \
        >/dev/null 2>&1
    printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile san.ext >/dev/null 2>&1
    start_server "$tmp/tlsport" --cert srv.pem --key srv.key
    tbase=https://127.0.0.1:$(cat "$tmp/tlsport")
    printf '{"http": {"cacert": "%s", "retries": 0}}\n' "$tmp/ca.pem" >ca.json
    run tls triage "$tbase/own.jsonl#mapping=$tmp/ca.json" --format jsonl
    expect_code tls 0
    expect_lines tls 3
    run tls_noca triage "$tbase/own.jsonl#mapping=$tmp/noretry.json"
    expect_code tls_noca 3
    expect_err tls_noca "$tbase/own.jsonl: page 1:"
    expect_err tls_noca "certificate"
    # --cacert on the command line: for a URL in doorman's own schema (no mapping)
    run tls_cli triage "$tbase/own.jsonl" --cacert "$tmp/ca.pem" --format jsonl
    expect_code tls_cli 0
    expect_lines tls_cli 3
    run tls_cli_bad triage "$tbase/own.jsonl#mapping=$tmp/noretry.json" --cacert "$tmp/srv.key"
    expect_code tls_cli_bad 3
    expect_err tls_cli_bad "$tbase/own.jsonl: page 1:"
else
    fail "openssl is needed for the TLS checks (.ci/run installs it)"
fi

finish
