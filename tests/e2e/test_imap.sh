# test_imap.sh: `doorman triage imap://...` against a real Dovecot, started
# here on a free loopback port from tests/imap/ and stopped by PID on exit,
# even when a check fails (docs/sources.md, "IMAP mailboxes").
#
# Dovecot is required: CI installs it (dovecot-imapd); when it is missing the
# test fails, it is never skipped.
. "$(dirname "$0")/lib.sh"
# every run as the first: what the state database changes is test_state_cli.sh's
DM_E2E_FRESH_STATE=1

PATH=$PATH:/usr/sbin:/sbin
if ! command -v dovecot >/dev/null; then
    echo "FAIL: dovecot is not installed (apt-get install dovecot-imapd); this test needs it"
    exit 1
fi
if ! command -v openssl >/dev/null; then
    echo "FAIL: openssl is not installed; this test makes its own CA with it"
    exit 1
fi

D=$tmp/dv
dpid=
stop_dovecot() {
    if [ -n "$dpid" ]; then
        kill "$dpid" 2>/dev/null
        wait "$dpid" 2>/dev/null
        dpid=
    fi
}
trap 'stop_dovecot; rm -rf "$tmp"' EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local i p
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if [ "$p" != "${port:-}" ] && port_free "$p"; then
            echo "$p"
            return
        fi
    done
}

start_dovecot() {
    local i
    # keep_port: the same URL as before a restart (the state database's key)
    port=
    port=${keep_port:-$(free_port)}
    tlsport=$(free_port)
    sed -e "s|@DIR@|$D|g" -e "s|@PORT@|$port|g" -e "s|@TLSPORT@|$tlsport|g" \
        "$src/tests/imap/dovecot.conf.in" >"$D/dovecot.conf"
    dovecot -c "$D/dovecot.conf" -F >>"$D/dovecot.out" 2>&1 &
    dpid=$!
    for i in $(seq 1 100); do
        port_free "$port" || return 0
        if ! kill -0 "$dpid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "FAIL: dovecot did not start on 127.0.0.1:$port"
    cat "$D/dovecot.out" "$D/dovecot.log" 2>/dev/null
    exit 1
}

# deliver FILE: a new mail into the test user's INBOX (Dovecot numbers the
# files of new/ in name order)
seq_no=0
deliver() {
    seq_no=$((seq_no + 1))
    cp "$1" "$D/mail/testuser/new/$((1700000000 + seq_no)).M${seq_no}P1.doorman-test"
    chown 65534:65534 "$D/mail/testuser/new/"*
}

mkdir -p "$D/run" "$D/state" "$D/home" "$D/mail/testuser/cur" "$D/mail/testuser/new" \
    "$D/mail/testuser/tmp"
# the auth process runs as dovecot: a 0700 folder on the way makes logins hang
chmod 755 "$tmp" "$D"
echo "testuser:{PLAIN}secret:65534:65534::$D/home" >"$D/passwd"
# a test CA, and a certificate it signs for 127.0.0.1 only
mkdir -p "$D/tls"
(
    cd "$D/tls" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=doorman test CA" \
            -keyout ca.key -out ca.crt &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key \
            -out server.csr &&
        printf 'subjectAltName=IP:127.0.0.1\n' >ext &&
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile ext -out server.crt
) >"$D/openssl.out" 2>&1 || {
    echo "FAIL: could not make the test certificates:"
    cat "$D/openssl.out"
    exit 1
}
chmod 644 "$D/tls/"*
while read -r f; do
    case $f in '#'* | '') continue ;; esac
    deliver "$src/tests/data/$f"
done <"$src/tests/imap/inbox.list"
chown -R 65534:65534 "$D/mail" "$D/home"
start_dovecot

export DOORMAN_IMAP_PASSWORD=secret
url="imap://testuser@127.0.0.1:$port/INBOX"
host="imap://127.0.0.1:$port/INBOX"

# summary NAME: "UID KIND VERDICT" for each record of run NAME (jsonl)
summary() {
    sed -E 's/.*"kind":"([^"]*)","source":"[^"]*;UID=([0-9]+)","verdict":"([^"]*)".*/\2 \1 \3/' \
        "$tmp/$1.out"
}
uidvalidity_of() { sed -nE '1s/.*;UIDVALIDITY=([0-9]+)\/;UID=.*/\1/p' "$tmp/$1.out"; }

expect_summary() {
    local name=$1 want=$2
    if [ "$(summary "$name")" = "$want" ]; then
        ok "$name: the records and verdicts are as expected"
    else
        fail "$name: records differ; want:"
        echo "$want"
        echo "got:"
        summary "$name"
        cat "$tmp/$name.err"
    fi
}

# ---- the default search: LinkedIn's notification senders ----------------------
run default triage "$url" --format jsonl
expect_code default 0
# UID 2 (a friend's mail) and 4 (editors-noreply: a newsletter) are not
# searched; 6 is a look-alike sender the search's substring match lets in,
# which the mail path then reads as the plain email it is
expect_summary default "1 invitation decline
3 invitation accept
5 invitation review
6 email review
7 message review
8 invitation accept"
v1=$(uidvalidity_of default)
if grep -q "\"source\":\"$host;UIDVALIDITY=$v1/;UID=1\"" "$tmp/default.out"; then
    ok "default: the source is the RFC 5092 URL of the message"
else
    fail "default: no source $host;UIDVALIDITY=$v1/;UID=1 in the output"
fi
if grep -q -e secret -e testuser "$tmp/default.out" "$tmp/default.err"; then
    fail "default: the user or the password shows in the output"
else
    ok "default: neither the user nor the password shows in the output"
fi
# read-only: the mails' flags (the Maildir names' info) are as before
if ls "$D/mail/testuser/cur" "$D/mail/testuser/new" | grep -q ':2,.*S'; then
    fail "default: the run marked messages \\Seen:"
    ls "$D/mail/testuser/cur"
else
    ok "default: no message was marked \\Seen"
fi

# ---- a search of the user's own --------------------------------------------------
run own triage "$url?FROM%20%22nora%40example.org%22" --format jsonl
expect_code own 0
expect_summary own "2 email review"
run all triage "$url?ALL" --format jsonl
expect_code all 0
expect_summary all "1 invitation decline
2 email review
3 invitation accept
4 email review
5 invitation review
6 email review
7 message review
8 invitation accept"
# a message that was already \Seen stays so (only what the run set is taken back)
seen=$(ls "$D/mail/testuser/cur" | head -1)
mv "$D/mail/testuser/cur/$seen" "$D/mail/testuser/cur/${seen%:2,*}:2,S"
run seen triage "$url?ALL" --format jsonl
expect_code seen 0
if [ "$(ls "$D/mail/testuser/cur" | grep -c ':2,.*S')" = 1 ]; then
    ok "seen: a \\Seen message stays \\Seen, the others unseen"
else
    fail "seen: the \\Seen flags changed:"
    ls "$D/mail/testuser/cur"
fi

# ---- a new mail between runs gets the next UID -------------------------------------
deliver "$src/tests/data/mail/linkedin/invitation-stock.eml"
run newmail triage "$url" --format jsonl
expect_code newmail 0
if [ "$(summary newmail | tail -1)" = "9 invitation review" ] &&
    [ "$(uidvalidity_of newmail)" = "$v1" ]; then
    ok "newmail: the new mail is UID 9, UIDVALIDITY unchanged"
else
    fail "newmail: want UID 9 last with UIDVALIDITY $v1:"
    cat "$tmp/newmail.out" "$tmp/newmail.err"
fi

# ---- the cursor the state store keeps (tests/unit/test_imap.c, "cursor") ----------
unit=$(dirname "$doorman")/tests/test_imap
if [ ! -x "$unit" ]; then
    fail "cursor: $unit is not built"
elif DM_TEST_IMAP_URL=$url "$unit" >"$tmp/cursor.out" 2>&1 &&
    grep -q '^\[  PASSED  \] 2 test(s)' "$tmp/cursor.out"; then
    ok "cursor: UIDVALIDITY and last UID, nothing new, the last mail only, a reset, max_message"
else
    fail "cursor: test_imap against Dovecot:"
    cat "$tmp/cursor.out"
fi
if [ "$(ls "$D/mail/testuser/cur" | grep -c ':2,.*S')" = 1 ]; then
    ok "cursor: the \\Seen flags are as before (the fetches cut short included)"
else
    fail "cursor: the \\Seen flags changed:"
    ls "$D/mail/testuser/cur"
fi

# ---- a UIDVALIDITY reset ---------------------------------------------------------
# Dovecot makes a new UIDVALIDITY (from the clock) when its uidlist and
# indexes are gone; the UIDs start again at 1
stop_dovecot
sleep 1
rm -f "$D/mail/testuser/dovecot-uidlist" "$D/mail/testuser/dovecot.index"* \
    "$D/mail/testuser/dovecot-uidvalidity"*
start_dovecot
url="imap://testuser@127.0.0.1:$port/INBOX"
run reset triage "$url" --format jsonl
expect_code reset 0
v2=$(uidvalidity_of reset)
if [ -n "$v2" ] && [ "$v2" != "$v1" ] && [ "$(summary reset | wc -l)" = 7 ]; then
    ok "reset: UIDVALIDITY changed ($v1 -> $v2), all 7 mails read again"
else
    fail "reset: want a UIDVALIDITY other than $v1 and 7 records:"
    cat "$tmp/reset.out" "$tmp/reset.err"
fi
url_host="imap://127.0.0.1:$port/INBOX"

# ---- credentials --------------------------------------------------------------------
run inurl triage "imap://testuser:secret@127.0.0.1:$port/INBOX"
expect_code inurl 3
expect_err inurl "a password in the URL is refused"
if grep -q secret "$tmp/inurl.err"; then fail "inurl: the password is printed"; fi

# netrc, when the variable is not set; refused when others can read it
printf 'machine 127.0.0.1 login testuser password secret\n' >"$tmp/netrc"
chmod 600 "$tmp/netrc"
DOORMAN_IMAP_PASSWORD= NETRC=$tmp/netrc run netrc triage "$url" --format jsonl
expect_code netrc 0
if [ "$(summary netrc | wc -l)" = 7 ]; then
    ok "netrc: logged in with the netrc file"
else
    fail "netrc: want 7 records"
    cat "$tmp/netrc.err"
fi
chmod 644 "$tmp/netrc"
DOORMAN_IMAP_PASSWORD= NETRC=$tmp/netrc run netrc_open triage "$url"
expect_code netrc_open 3
expect_err netrc_open "can be read by others (mode 644): chmod 600 it"

# ---- what goes wrong -----------------------------------------------------------------
run nofolder triage "imap://testuser@127.0.0.1:$port/NoSuchFolder"
expect_code nofolder 3
expect_err nofolder "imap://127.0.0.1:$port/NoSuchFolder: the server refused"
run badsearch triage "$url?NOSUCHKEY%201"
expect_code badsearch 3
expect_err badsearch "the server refused \"UID SEARCH NOSUCHKEY 1\""
run crlf triage "$url?ALL%0D%0ALOGOUT"
expect_code crlf 3
expect_err crlf "a control character in the URL"
run onemsg triage "$url;UID=3"
expect_code onemsg 3
expect_err onemsg "give the folder only"
# ---- TLS ----------------------------------------------------------------------
tls_url="imaps://testuser@127.0.0.1:$tlsport/INBOX"
DOORMAN_IMAP_CACERT=$D/tls/ca.crt run imaps triage "$tls_url" --format jsonl
expect_code imaps 0
if [ "$(summary imaps | wc -l)" = 7 ] &&
    grep -q "\"source\":\"imaps://127.0.0.1:$tlsport/INBOX;UIDVALIDITY=$v2/;UID=1\"" \
        "$tmp/imaps.out"; then
    ok "imaps: read over TLS with the test CA"
else
    fail "imaps: want 7 records from imaps://127.0.0.1:$tlsport/INBOX"
    cat "$tmp/imaps.out" "$tmp/imaps.err"
fi
# the system's CAs do not know the test CA: verification is never off
run imaps_noca triage "$tls_url"
expect_code imaps_noca 3
expect_err imaps_noca "imaps://127.0.0.1:$tlsport/INBOX: IMAP EXAMINE failed: SSL certificate problem"
# the certificate is for 127.0.0.1, not for localhost
DOORMAN_IMAP_CACERT=$D/tls/ca.crt run imaps_name triage "imaps://testuser@localhost:$tlsport/INBOX"
expect_code imaps_name 3
expect_err imaps_name "imaps://localhost:$tlsport/INBOX: IMAP EXAMINE failed:"
# imaps:// to a server that speaks plain IMAP: the TLS handshake fails
run tls triage "imaps://testuser@127.0.0.1:$port/INBOX"
expect_code tls 3
expect_err tls "imaps://127.0.0.1:$port/INBOX: IMAP EXAMINE failed:"
# a message expunged after the search (UID 1's file removed behind Dovecot's
# back, by tests/unit/test_imap.c "expunged"): reported, skipped, the rest read
first=$(ls "$D/mail/testuser/cur" | head -1)
if DM_TEST_IMAP_URL=$url DM_TEST_IMAP_EXPUNGE_FILE=$D/mail/testuser/cur/$first "$unit" \
    >"$tmp/expunged.out" 2>&1 && grep -q '^\[  PASSED  \] 1 test(s)' "$tmp/expunged.out"; then
    ok "expunged: the message gone since the search is reported and skipped"
else
    fail "expunged: test_imap against Dovecot:"
    cat "$tmp/expunged.out"
fi

# ---- the state database (docs/sources.md, "State: what doorman remembers") --------
# a second run finds nothing new; a new mail between runs is the only one
# triaged; a UIDVALIDITY change reads the folder again
DM_E2E_FRESH_STATE=0
export XDG_STATE_HOME=$tmp/imapstate
run st1 triage "$url" --format jsonl
expect_code st1 0
n1=$(wc -l <"$tmp/st1.out")
[ "$n1" -gt 0 ] && ok "st1: $n1 records" || { fail "st1: no records"; cat "$tmp/st1.err"; }
run st2 triage "$url" --format jsonl
expect_code st2 0
[ ! -s "$tmp/st2.out" ] && ok "st2: nothing new" || { fail "st2: records again:"; summary st2; }
expect_err st2 "$n1 records triaged before, skipped"
last=$(summary st1 | sort -n | tail -1 | cut -d' ' -f1)
deliver "$src/tests/data/mail/linkedin/invitation-stock.eml"
run st3 triage "$url" --format jsonl
expect_code st3 0
if [ "$(summary st3)" = "$((last + 1)) invitation review" ]; then
    ok "st3: only the new mail (UID $((last + 1)))"
else
    fail "st3: want only UID $((last + 1)):"
    cat "$tmp/st3.out" "$tmp/st3.err"
fi
run st_hist history --source "$url" --format jsonl
[ "$(wc -l <"$tmp/st_hist.out")" = $((n1 + 1)) ] && ok "st_hist: $((n1 + 1)) records" ||
    { fail "st_hist: want $((n1 + 1)) records"; cat "$tmp/st_hist.out"; }
stop_dovecot
sleep 1
rm -f "$D/mail/testuser/dovecot-uidlist" "$D/mail/testuser/dovecot.index"* \
    "$D/mail/testuser/dovecot-uidvalidity"*
keep_port=$port start_dovecot
run st4 triage "$url" --format jsonl
expect_code st4 0
expect_err st4 "UIDVALIDITY changed"
[ "$(wc -l <"$tmp/st4.out")" = $((n1 + 1)) ] && ok "st4: a new UIDVALIDITY, all read again" ||
    { fail "st4: want $((n1 + 1)) records"; cat "$tmp/st4.out" "$tmp/st4.err"; }
run st5 triage "$url" --format jsonl
[ ! -s "$tmp/st5.out" ] && ok "st5: nothing new after the reset" || fail "st5: records again"
DM_E2E_FRESH_STATE=1

# last: Dovecot slows down logins from an address after a failed one
DOORMAN_IMAP_PASSWORD=wrong run badpw triage "$url"
expect_code badpw 3
expect_err badpw "$url_host: IMAP EXAMINE failed: Login denied"
if grep -q wrong "$tmp/badpw.err"; then fail "badpw: the password is printed"; fi
stop_dovecot
# nobody listening
run refused triage "$url"
expect_code refused 3
expect_err refused "$url_host: IMAP EXAMINE failed:"

finish
