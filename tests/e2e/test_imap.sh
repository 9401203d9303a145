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
    # imap_caps: what the server says it can do after the login (to hide MOVE)
    if [ -n "${imap_caps:-}" ]; then
        printf 'protocol imap {\n  imap_capability = %s\n}\n' "$imap_caps" >>"$D/dovecot.conf"
    fi
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
# for --flag-declined and --move-declined: a folder "Mark" to triage (Maildir++:
# ".Mark"; UID 1 and 3 declined, 2 accepted, 4 for review, 5 not searched)
# and folders to move to, one with a space in its name; no "Nope"
for f in Mark Declined "Not now"; do
    mkdir -p "$D/mail/testuser/.$f/cur" "$D/mail/testuser/.$f/new" "$D/mail/testuser/.$f/tmp"
done
i=0
for f in mail-filter/pitch-invitation.eml mail-filter/personal-invitation.eml \
    mail-filter/pitch-invitation.eml mail-filter/no-note-invitation.eml mail-filter/ordinary.eml; do
    i=$((i + 1))
    cp "$src/tests/data/$f" "$D/mail/testuser/.Mark/new/$((1700000000 + i)).M${i}P2.doorman-test"
done
chown -R 65534:65534 "$D/mail" "$D/home"
# a folder Dovecot (uid 65534) can see but not write: a move there is refused
mkdir -p "$D/mail/testuser/.Locked/cur" "$D/mail/testuser/.Locked/new" \
    "$D/mail/testuser/.Locked/tmp"
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
    grep -q '^\[  PASSED  \] 4 test(s)' "$tmp/cursor.out"; then
    ok "cursor: UIDVALIDITY and last UID, nothing new, the last mail only, a reset, max_message"
    ok "cursor: the options' password, progress, what marking refuses"
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
# --cacert on the command line, and the password from the config file (no variable)
mkdir -p "$tmp/cfg"
printf 'password imaps://testuser@127.0.0.1:%s = secret\n' "$tlsport" >"$tmp/cfg/config"
chmod 600 "$tmp/cfg/config"
DOORMAN_IMAP_PASSWORD= run imaps_cli triage "$tls_url" --format jsonl --cacert "$D/tls/ca.crt" \
    --config "$tmp/cfg/config"
expect_code imaps_cli 0
[ "$(summary imaps_cli | wc -l)" = 7 ] && ok "imaps_cli: --cacert and the config's password" ||
    { fail "imaps_cli: want 7 records"; cat "$tmp/imaps_cli.err"; }
grep -q secret "$tmp/imaps_cli.err" && fail "imaps_cli: the password was printed"
# the config's password is used first: a wrong one there fails, though the variable is right
printf 'password imaps://testuser@127.0.0.1:%s/INBOX = wrong\n' "$tlsport" >"$tmp/cfg/wrong"
chmod 600 "$tmp/cfg/wrong"
run imaps_wrong triage "$tls_url" --format jsonl --cacert "$D/tls/ca.crt" --config "$tmp/cfg/wrong"
expect_code imaps_wrong 3
grep -q wrong "$tmp/imaps_wrong.err" && fail "imaps_wrong: the password was printed" ||
    ok "imaps_wrong: refused, the password not printed"
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
# the stored cursor (uidvalidity:V last_uid:N) bounds the search: the old mails
# are not even fetched, so nothing is "triaged before, skipped"
run st2 triage "$url" --format jsonl
expect_code st2 0
[ ! -s "$tmp/st2.out" ] && ok "st2: nothing new" || { fail "st2: records again:"; summary st2; }
[ ! -s "$tmp/st2.err" ] && ok "st2: no mail fetched again (nothing skipped)" ||
    { fail "st2: stderr:"; cat "$tmp/st2.err"; }
last=$(summary st1 | sort -n | tail -1 | cut -d' ' -f1)
deliver "$src/tests/data/mail/linkedin/invitation-stock.eml"
# with stderr on a terminal: the progress line counts the mails the search
# found from the cursor on: the new one alone
python3 "$src/tests/e2e/pty-stderr.py" "$tmp/st3.out" "$tmp/st3.tty" \
    env NO_COLOR=1 "$doorman" triage "$url" --format jsonl
echo $? >"$tmp/st3.code"
expect_code st3 0
if [ "$(summary st3)" = "$((last + 1)) invitation review" ]; then
    ok "st3: only the new mail (UID $((last + 1)))"
else
    fail "st3: want only UID $((last + 1)):"
    cat "$tmp/st3.out" "$tmp/st3.tty"
fi
tr '\r' '\n' <"$tmp/st3.tty" | sed 's/\x1b\[K//g' >"$tmp/st3.lines"
if grep -qE "^doorman: .*INBOX: 1/1 mails, [01] records?" "$tmp/st3.lines" &&
    ! grep -qE "/$((last + 1)) mails" "$tmp/st3.lines"; then
    ok "st3: the search from the cursor found 1 mail (progress: 1/1 mails)"
else
    fail "st3: progress lines:"
    cat "$tmp/st3.lines"
fi
grep -q 'Sanitizer\|runtime error' "$tmp/st3.tty" && fail "st3: sanitizer report"
# --all: no cursor, every mail fetched again
run st_all triage "$url" --format jsonl --all
[ "$(wc -l <"$tmp/st_all.out")" = $((n1 + 1)) ] && ok "st_all: --all fetches all $((n1 + 1))" ||
    { fail "st_all: want $((n1 + 1)) records"; cat "$tmp/st_all.err"; }
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

# ---- flagging and moving declined mails (--flag-declined, --move-declined) ----------
# checked from the server's side with curl, and in the Maildirs on disk
imapc() { # imapc FOLDER COMMAND: the untagged answer, without CRs
    curl -s --max-time 20 -u testuser:secret "imap://127.0.0.1:$port/$1" -X "$2" | tr -d '\r'
}
# flags_of FOLDER: "UID:FLAGS" a line for each mail (\Recent left out: it
# belongs to whichever session looks first)
flags_of() {
    local line u f
    imapc "$1" 'UID FETCH 1:* (FLAGS)' | while IFS= read -r line; do
        case $line in '* '*' FETCH '*) ;; *) continue ;; esac
        u=$(printf '%s\n' "$line" | sed -nE 's/.*UID ([0-9]+).*/\1/p')
        f=$(printf '%s\n' "$line" | sed -nE 's/.*FLAGS \(([^)]*)\).*/\1/p' |
            sed -E 's/\\Recent ?//; s/ $//')
        echo "$u:$f"
    done | sort -n | tr '\n' ' '
}
expect_flags() { # expect_flags NAME FOLDER WANT
    local got
    got=$(flags_of "$2")
    if [ "$got" = "$3" ]; then
        ok "$1: flags in $2: $3"
    else
        fail "$1: flags in $2: want '$3', got '$got'"
    fi
}
# files_in FOLDER: how many mails a Maildir++ folder (".NAME") holds on disk
files_in() { find "$D/mail/testuser/$1/cur" "$D/mail/testuser/$1/new" -type f | wc -l; }
murl="imap://testuser@127.0.0.1:$port/Mark"
mhost="imap://127.0.0.1:$port/Mark"
imapc Mark 'UID STORE 3 +FLAGS (\Seen)' >/dev/null
expect_flags mark_before Mark '1: 2: 3:\Seen 4: 5: '

# the options apply to IMAP sources only
run mark_nonimap triage --move-declined Declined "$src/examples/export"
expect_code mark_nonimap 2
expect_err mark_nonimap "--move-declined applies to imap:// and imaps:// sources only"
run mark_nonimap2 triage "$src/examples/export" --flag-declined '$Declined'
expect_code mark_nonimap2 2
expect_err mark_nonimap2 "--flag-declined applies to imap:// and imaps:// sources only"
# a bad flag, a missing folder, the folder read: refused before any mail is read
run mark_badflag triage "$murl" --flag-declined 'bad flag' --format jsonl
expect_code mark_badflag 3
expect_err mark_badflag "$mhost: error: \"bad flag\" is not an IMAP flag"
run mark_nofolder triage "$murl" --move-declined Nope --format jsonl
expect_code mark_nofolder 3
expect_err mark_nofolder "$mhost: error: folder \"Nope\" does not exist on 127.0.0.1:$port; create it first"
run mark_self triage "$murl" --move-declined Mark --format jsonl
expect_code mark_self 3
expect_err mark_self "the folder to move to, \"Mark\", is the folder being read"
if [ -s "$tmp/mark_badflag.out" ] || [ -s "$tmp/mark_nofolder.out" ] || [ -s "$tmp/mark_self.out" ]; then
    fail "mark refusals: records were written"
else
    ok "mark refusals: no record written"
fi
expect_flags mark_refused Mark '1: 2: 3:\Seen 4: 5: '
[ "$(files_in .Mark)" = 5 ] && ok "mark refusals: the 5 mails are still in Mark" ||
    fail "mark refusals: mails left Mark: $(ls "$D/mail/testuser/.Mark/"*)"

# --flag-declined: the declined mails get the keyword, shown or not (--only);
# the others, and the unseen state of all, stay as they were
run mark_flag triage "$murl" --flag-declined '$Declined' --only accept --format jsonl
expect_code mark_flag 0
expect_summary mark_flag "2 invitation accept"
expect_flags mark_flag Mark '1:$Declined 2: 3:\Seen $Declined 4: 5: '
if grep -qx '[0-9]* \$Declined' "$D/mail/testuser/.Mark/dovecot-keywords" &&
    [ "$(ls "$D/mail/testuser/.Mark/cur" | grep -c ':2,[A-Z]*a[a-z]*$')" = 2 ]; then
    ok "mark_flag: Dovecot keeps the keyword on 2 files (dovecot-keywords, the file names)"
else
    fail "mark_flag: want \$Declined in dovecot-keywords and on 2 files:"
    cat "$D/mail/testuser/.Mark/dovecot-keywords"
    ls "$D/mail/testuser/.Mark/cur"
fi

# a move the server refuses: named, that source stops after the record it
# wrote (UID 1), exit 3; nothing moved.  These two runs share a state database.
DM_E2E_FRESH_STATE=0
export XDG_STATE_HOME=$tmp/markstate
run mark_nomove triage "$murl" --move-declined Locked --format jsonl
expect_code mark_nomove 3
expect_err mark_nomove "$mhost: error: the server refused to move the mail (UID 1): UID MOVE 1 \"Locked\""
expect_summary mark_nomove "1 invitation decline"
expect_flags mark_nomove Mark '1:$Declined 2: 3:\Seen $Declined 4: 5: '
[ "$(files_in .Mark)" = 5 ] && [ "$(files_in .Locked)" = 0 ] &&
    ok "mark_nomove: nothing moved" || fail "mark_nomove: mails moved: $(ls -R "$D/mail/testuser/.Locked")"

# --move-declined: the declined mails (output written first) end up in Declined
# with their flags, unseen or seen as they were; the others stay.  UID 1, whose
# record the refused run wrote (and delivered) but could not move, is moved now
# without being written again: the cursor did not pass it, the source having
# stopped
run mark_move triage "$murl" --move-declined Declined --format jsonl
DM_E2E_FRESH_STATE=1
expect_code mark_move 0
expect_summary mark_move "2 invitation accept
3 invitation decline
4 invitation review"
expect_err mark_move "1 record triaged before, skipped"
expect_flags mark_move Mark '2: 4: 5: '
expect_flags mark_move Declined '1:$Declined 2:\Seen $Declined '
d_files=$(files_in .Declined)
d_seen=$(ls "$D/mail/testuser/.Declined/cur" | grep -c ':2,[A-Z]*S')
d_pitch=$(grep -l '^From: Rhett Calloway' "$D/mail/testuser/.Declined/cur/"* \
    "$D/mail/testuser/.Declined/new/"* 2>/dev/null | wc -l)
if [ "$d_files" = 2 ] && [ "$d_seen" = 1 ] && [ "$d_pitch" = 2 ] && [ "$(files_in .Mark)" = 3 ]; then
    ok "mark_move: on disk, Declined holds the 2 pitches (1 seen), Mark the 3 others"
else
    fail "mark_move: on disk: $d_files files in Declined ($d_seen seen, $d_pitch pitches):"
    ls -R "$D/mail/testuser/.Declined" "$D/mail/testuser/.Mark"
fi

# both at once, to a folder whose name needs quoting
run mark_both triage "imap://testuser@127.0.0.1:$port/Declined" --flag-declined '\Flagged' \
    --move-declined 'Not now' --format jsonl
expect_code mark_both 0
expect_summary mark_both "1 invitation decline
2 invitation decline"
expect_flags mark_both Declined ''
expect_flags mark_both 'Not%20now' '1:\Flagged $Declined 2:\Flagged \Seen $Declined '
if [ "$(ls "$D/mail/testuser/.Not now/cur" | grep -c ':2,F[A-Z]*a')" = 2 ]; then
    ok "mark_both: on disk, both mails in \"Not now\", flagged"
else
    fail "mark_both: want 2 flagged files in .Not now:"
    ls -R "$D/mail/testuser/.Not now"
fi

# without MOVE (hidden from CAPABILITY): UID COPY, +FLAGS \Deleted, UID EXPUNGE
caps=$(imapc '' CAPABILITY | sed -n 's/^\* CAPABILITY //p')
# with neither MOVE nor UIDPLUS, moving is refused before any mail is read
stop_dovecot
imap_caps=$(printf '%s\n' "$caps" | tr ' ' '\n' | grep -vx -e MOVE -e UIDPLUS | tr '\n' ' ')
keep_port=$port start_dovecot
run mark_nocaps triage "imap://testuser@127.0.0.1:$port/Not%20now" --move-declined Declined
expect_code mark_nocaps 3
expect_err mark_nocaps "the server can neither MOVE nor UID EXPUNGE (UIDPLUS)"
[ ! -s "$tmp/mark_nocaps.out" ] && [ "$(files_in '.Not now')" = 2 ] &&
    ok "mark_nocaps: nothing written, nothing moved" || fail "mark_nocaps: something moved"
stop_dovecot
imap_caps=$(printf '%s\n' "$caps" | tr ' ' '\n' | grep -vx MOVE | tr '\n' ' ')
keep_port=$port start_dovecot
if imapc '' CAPABILITY | grep -q '^\* CAPABILITY .*UIDPLUS' &&
    ! imapc '' CAPABILITY | grep -qw MOVE; then
    ok "nomove: the server offers UIDPLUS, not MOVE"
else
    fail "nomove: the server still says MOVE, or not UIDPLUS: $(imapc '' CAPABILITY)"
fi
run mark_copy triage "imap://testuser@127.0.0.1:$port/Not%20now" --move-declined Declined \
    --format jsonl
expect_code mark_copy 0
expect_summary mark_copy "1 invitation decline
2 invitation decline"
expect_flags mark_copy 'Not%20now' ''
expect_flags mark_copy Declined '3:\Flagged $Declined 4:\Flagged \Seen $Declined '
[ "$(files_in '.Not now')" = 0 ] && [ "$(files_in .Declined)" = 2 ] &&
    ok "mark_copy: on disk, the 2 mails are back in Declined, none left behind" ||
    fail "mark_copy: on disk: $(ls -R "$D/mail/testuser/.Not now" "$D/mail/testuser/.Declined")"
stop_dovecot
imap_caps=
keep_port=$port start_dovecot

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
