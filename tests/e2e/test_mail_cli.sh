#!/usr/bin/env bash
# test_mail_cli.sh DOORMAN SOURCE_DIR: `doorman mail`, the passthrough filter.
# The headers it adds (and the forged ones it removes), CRLF kept, --check's
# output and exit codes; then the safe fallback: rules that fail to load, a
# rules path that cannot be read, a bad profile or config, a message over
# --max-size (and over the default 10 MiB, in bounded memory), the time
# limit while deciding and while reading, an unreadable stdin, a closed or
# full stdout: each behaves as docs/doorman.1 says, in the three modes
# (passthrough, --tempfail, --check).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail-lib.sh"
command -v mkfifo >/dev/null || { echo "FAIL: mkfifo is not installed"; exit 1; }

pitch=$mails/pitch-invitation.eml
personal=$mails/personal-invitation.eml
nonote=$mails/no-note-invitation.eml
ordinary=$mails/ordinary.eml

# expect_tagged NAME INPUT VERDICT: the output of run NAME is INPUT with one
# each of doorman's three headers at the end of its header block, VERDICT the
# verdict, and nothing else changed.
expect_tagged() {
    local name=$1 input=$2 want=$3 out=$tmp/$1.out h v
    expect_code "$name" 0
    for h in X-Doorman-Verdict X-Doorman-Score X-Doorman-Rules; do
        n=$(header_count "$out" "$h")
        [ "$n" = 1 ] || fail "$name: $n $h headers, want 1"
    done
    v=$(header_of "$out" X-Doorman-Verdict)
    [ "$v" = "$want" ] && ok "$name: X-Doorman-Verdict: $v" ||
        fail "$name: X-Doorman-Verdict is '$v', want '$want'"
    header_of "$out" X-Doorman-Score | grep -qE '^-?[0-9]+(\.[0-9]+)?$' ||
        fail "$name: X-Doorman-Score is '$(header_of "$out" X-Doorman-Score)'"
    # ours are the last headers: after the first, only ours or continuations
    header_block "$out" | awk '/^X-Doorman-/ { seen = 1; next } seen && !/^[ \t]/ { bad = 1 }
        END { exit !(seen && !bad) }' ||
        fail "$name: doorman's headers are not at the end of the header block"
    # everything else byte for byte (a forged X-Doorman-* of the input is gone)
    strip_doorman "$input" >"$tmp/$name.want"
    strip_doorman "$out" >"$tmp/$name.got"
    cmp -s "$tmp/$name.want" "$tmp/$name.got" &&
        ok "$name: the rest of the message is unchanged" ||
        { fail "$name: the message changed beyond doorman's headers:"; diff "$tmp/$name.want" "$tmp/$name.got" | head -10; }
}

# ---- the filter at work ----------------------------------------------------------------

mrun pitch "$pitch"
expect_tagged pitch "$pitch" decline
# the pitch came in with a forged "X-Doorman-Verdict: accept": removed
grep -q '^X-Doorman-Verdict: accept' "$tmp/pitch.out" && fail "pitch: the forged verdict is still there"

mrun personal "$personal"
expect_tagged personal "$personal" accept
mrun nonote "$nonote"
expect_tagged nonote "$nonote" review
mrun ordinary "$ordinary"
expect_tagged ordinary "$ordinary" review

# CRLF in, CRLF out: doorman's headers end in CRLF like the rest
sed 's/$/\r/' "$pitch" >"$tmp/crlf.eml"
mrun crlf "$tmp/crlf.eml"
expect_tagged crlf "$tmp/crlf.eml" decline
if header_block "$tmp/crlf.out" >/dev/null &&
    awk '/^\r?$/ { exit } !/\r$/ { bad = 1 } END { exit bad }' "$tmp/crlf.out"; then
    ok "crlf: every header line ends in CRLF"
else
    fail "crlf: a header line of the output ends in a bare LF"
fi

# the same verdict and score as the headers say, and bogofilter's exit codes
for m in pitch:1 personal:0 nonote:2; do
    name=${m%%:*} want=${m##*:}
    eval "input=\$$name"
    mrun "check-$name" "$input" --check
    expect_code "check-$name" "$want"
    line="$(header_of "$tmp/$name.out" X-Doorman-Verdict) $(header_of "$tmp/$name.out" X-Doorman-Score)"
    [ "$(cat "$tmp/check-$name.out")" = "$line" ] && ok "check-$name: prints '$line'" ||
        fail "check-$name: prints '$(cat "$tmp/check-$name.out")', want '$line'"
done

# an empty input: nothing in, nothing out, no crash
printf '' >"$tmp/empty.eml"
mrun empty "$tmp/empty.eml"
expect_code empty 0
expect_same empty "$tmp/empty.eml"

# ---- the safe fallback ------------------------------------------------------------------

# expect_fallback NAME INPUT REASON ARGS...: in each mode, doorman cannot
# triage INPUT: passthrough writes it unchanged and exits 0, --tempfail exits
# 75 with nothing on stdout, --check exits 3 with nothing on stdout; stderr
# says REASON each time.
expect_fallback() {
    local name=$1 input=$2 reason=$3
    shift 3
    mrun "$name" "$input" "$@"
    expect_code "$name" 0
    expect_same "$name" "$input"
    expect_err "$name" "$reason"
    expect_err "$name" "the message passes unchanged"
    mrun "$name-tempfail" "$input" --tempfail "$@"
    expect_code "$name-tempfail" 75
    expect_empty "$name-tempfail"
    expect_err "$name-tempfail" "$reason"
    mrun "$name-check" "$input" --check "$@"
    expect_code "$name-check" 3
    expect_empty "$name-check"
    expect_err "$name-check" "$reason"
}

# rules that do not load
printf 'rule BROKEN {\n    describe "broken"\n    score 3\n    when message =~ /unclosed(/\n}\n' >"$tmp/broken.rules"
expect_fallback rules-broken "$pitch" "1 error in the rules" --rules "$tmp/broken.rules"
# a rules path that cannot be read: missing, and under a file (ENOTDIR even for root)
expect_fallback rules-missing "$pitch" "$tmp/no-such.rules" --rules "$tmp/no-such.rules"
expect_fallback rules-notdir "$pitch" "$tmp/broken.rules/x.rules" --rules "$tmp/broken.rules/x.rules"
DOORMAN_RULES_DIR=$tmp/no-rules-here expect_fallback rules-dir-missing "$personal" "no-rules-here"

# a bad profile: missing, not an export, a bad config file
expect_fallback profile-missing "$personal" "$tmp/no-export" --profile "$tmp/no-export"
mkdir -p "$tmp/not-an-export"
echo hello >"$tmp/not-an-export/notes.txt"
expect_fallback profile-not-export "$personal" "is this a LinkedIn data export" \
    --profile "$tmp/not-an-export"
printf 'name = Gideon Marsh\nfavourite colour = green\n' >"$tmp/bad.config"
expect_fallback config-bad-key "$personal" "bad.config:2:1: error: unknown key 'favourite colour'" \
    --config "$tmp/bad.config"
expect_fallback config-missing "$personal" "no-such.config" --config "$tmp/no-such.config"
printf 'profile = no-export-here\n' >"$tmp/profile.config"
expect_fallback config-bad-profile "$personal" "no-export-here" --config "$tmp/profile.config"
# the default config file ($XDG_CONFIG_HOME/doorman/config) is read, and a bad one falls back too
mkdir -p "$tmp/xdg-bad/doorman"
printf 'name\n' >"$tmp/xdg-bad/doorman/config"
mrun xdg-good "$personal" # (the empty config home of mrun: no config file is fine)
expect_code xdg-good 0
NO_COLOR=1 XDG_CONFIG_HOME=$tmp/xdg-bad "$doorman" mail <"$personal" >"$tmp/xdg-bad.out" 2>"$tmp/xdg-bad.err"
echo $? >"$tmp/xdg-bad.code"
expect_code xdg-bad 0
expect_same xdg-bad "$personal"
expect_err xdg-bad "doorman/config:1:1: error: expected KEY = VALUE"

# over --max-size: passes unchanged, the whole of it; at the limit it is triaged
size=$(wc -c <"$pitch")
expect_fallback max-size "$pitch" "the message is over $((size - 1)) bytes (--max-size)" --max-size $((size - 1))
mrun at-max-size "$pitch" --max-size "$size"
expect_tagged at-max-size "$pitch" decline

# over the default 10 MiB: streamed through unchanged, in bounded memory.
# 10 MiB + 1 byte exactly is the first size over; 60 MiB shows that memory
# does not grow with the message.
big_mail() { # big_mail FILE BYTES: a mail of exactly BYTES bytes
    head -c 200 "$ordinary" | sed -n '1,3p' >"$1"
    printf 'Subject: big\n\n' >>"$1"
    local have
    have=$(wc -c <"$1")
    head -c $(($2 - have)) /dev/zero | tr '\0' 'x' | fold -w 76 >>"$1"
    truncate -s "$2" "$1"
}
big_mail "$tmp/over.eml" $((10 * 1024 * 1024 + 1))
mrun over-10m "$tmp/over.eml"
expect_code over-10m 0
expect_same over-10m "$tmp/over.eml"
expect_err over-10m "over 10485760 bytes (--max-size)"
big_mail "$tmp/huge.eml" $((60 * 1024 * 1024))
t0=$(date +%s%N)
kib=$(XDG_CONFIG_HOME=$tmp/xdg-empty peak_rss_kb "$doorman" mail <"$tmp/huge.eml" 3>"$tmp/huge.out" 4>"$tmp/huge.err")
ms=$((($(date +%s%N) - t0) / 1000000))
echo "$(cat "$tmp/rss.code")" >"$tmp/huge.code"
expect_code huge 0
expect_same huge "$tmp/huge.eml"
# ASan's shadow memory and the rules cost their share; 10 MiB is the message
expect_rss huge "$kib" $((48 * 1024)) "$ms"
rm -f "$tmp/huge.eml" "$tmp/huge.out"

# the time limit while deciding: rules that never finish loading (a FIFO
# nobody writes) hold doorman up; after --timeout it lets the message go
mkfifo "$tmp/stuck.rules"
t0=$(date +%s%N)
expect_fallback timeout "$personal" "time limit reached" --timeout 0.5 --rules "$tmp/stuck.rules"
ms=$((($(date +%s%N) - t0) / 1000000))
# three runs of 0.5 s each; a hang would take forever
[ "$ms" -lt 20000 ] && ok "timeout: three runs took $ms ms" || fail "timeout: three runs took $ms ms"

# the time limit while reading: a writer that stalls mid-message.  What was
# read goes out, then the rest as it comes: the message is whole.
slow_writer() { head -c 300 "$personal"; sleep 1.5; tail -c +301 "$personal"; }
slow_writer | XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail --timeout 0.3 >"$tmp/slow.out" 2>"$tmp/slow.err"
echo $? >"$tmp/slow.code"
expect_code slow 0
expect_same slow "$personal"
expect_err slow "time limit reached while reading the message"
slow_writer | XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail --timeout 0.3 --tempfail >"$tmp/slow-tempfail.out" 2>"$tmp/slow-tempfail.err"
echo $? >"$tmp/slow-tempfail.code"
expect_code slow-tempfail 75
expect_empty slow-tempfail
# a writer that is slow but within the limit is simply waited for
slow_writer | XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail --timeout 20 >"$tmp/slow-ok.out" 2>"$tmp/slow-ok.err"
echo $? >"$tmp/slow-ok.code"
expect_tagged slow-ok "$personal" accept

# standard input that cannot be read (a folder): the message cannot go out
# whole, so never exit 0
mrun stdin-dir / 
expect_code stdin-dir 75
expect_err stdin-dir "cannot read the message: Is a directory"
mrun stdin-dir-check / --check
expect_code stdin-dir-check 3

# standard output closed or full: the message did not go out, exit 75 (3 with --check)
for m in triaged:"" fallback:"--rules $tmp/broken.rules" oversize:"--max-size 100"; do
    name=${m%%:*} args=${m#*:}
    # shellcheck disable=SC2086
    XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail $args <"$pitch" >&- 2>"$tmp/closed-$name.err"
    echo $? >"$tmp/closed-$name.code"
    expect_code "closed-$name" 75
    expect_err "closed-$name" "cannot write the message: Bad file descriptor"
    # shellcheck disable=SC2086
    XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail $args <"$pitch" >/dev/full 2>"$tmp/full-$name.err"
    echo $? >"$tmp/full-$name.code"
    expect_code "full-$name" 75
    expect_err "full-$name" "cannot write the message: No space left on device"
done
XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail --check <"$pitch" >&- 2>"$tmp/closed-check.err"
echo $? >"$tmp/closed-check.code"
expect_code closed-check 3
# a reader that goes away (procmail killed): no death by SIGPIPE
XDG_CONFIG_HOME=$tmp/xdg-empty "$doorman" mail --max-size 100 <"$tmp/over.eml" 2>"$tmp/pipe.err" | head -c 10 >/dev/null
rc=${PIPESTATUS[0]}
echo "$rc" >"$tmp/pipe.code"
expect_code pipe 75

# ---- usage ------------------------------------------------------------------------------
run usage-bad-option mail --frobnicate
expect_code usage-bad-option 2
expect_err usage-bad-option "unknown option '--frobnicate'"
run usage-operand mail message.eml
expect_code usage-operand 2
expect_err usage-operand "mail reads the message on standard input, not 'message.eml'"
run usage-timeout mail --timeout soon
expect_code usage-timeout 2
run usage-check mail --check --timeout -1
expect_code usage-check 3 # with --check, 2 would read as "review"
run usage-check-tempfail mail --check --tempfail
expect_code usage-check-tempfail 3
run usage-no-rules mail --no-default-rules
expect_code usage-no-rules 2
run help mail --help
expect_code help 0
grep -q -- '--tempfail' "$tmp/help.out" || fail "help: no --tempfail in the help"

finish
