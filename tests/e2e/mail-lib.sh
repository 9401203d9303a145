# mail-lib.sh: what the `doorman mail` scripts (test_mail_*.sh) share, on top
# of lib.sh.  Sourced after lib.sh; not a test of its own.
#
#   $mails                    the test mails (tests/data/mail-filter)
#   mrun NAME INPUT ARGS...   runs `doorman mail ARGS` with INPUT on stdin and
#                             XDG_CONFIG_HOME=$config_home (default: an empty folder);
#                             stdout $tmp/NAME.out, stderr .err, $code
#   expect_same NAME FILE     the stdout of run NAME is FILE, byte for byte
#   expect_empty NAME         the stdout of run NAME is empty
#   header_of FILE NAME       prints the value of header NAME of the mail FILE
#                             (first occurrence, unfolded)
#   header_count FILE NAME    prints how many NAME headers the header block has
#   strip_doorman FILE        prints FILE without its X-Doorman-* headers
#   require_program NAME...   fails the whole test at once when a program is missing:
#                             CI installs them (./build.sh test), nothing is skipped
mails=$src/tests/data/mail-filter
mkdir -p "$tmp/xdg-empty"
# compiled rules are cached under $XDG_CACHE_HOME: keep them in the scratch
# folder (procmail and maildrop pass the environment on to doorman)
export XDG_CACHE_HOME=$tmp/cache

mrun() {
    local name=$1 input=$2
    shift 2
    NO_COLOR=1 XDG_CONFIG_HOME="${config_home:-$tmp/xdg-empty}" "$doorman" mail "$@" <"$input" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    code=$?
    echo "$code" >"$tmp/$name.code"
    sanitizer_check "$name"
    if [ "$code" -gt 128 ]; then
        fail "$name: doorman died of signal $((code - 128))"
        cat "$tmp/$name.err"
    fi
}

expect_same() {
    local name=$1 want=$2
    if cmp -s "$want" "$tmp/$name.out"; then
        ok "$name: the message came out unchanged ($(wc -c <"$want") bytes)"
    else
        fail "$name: the output is not the message byte for byte ($(wc -c <"$tmp/$name.out") bytes out, $(wc -c <"$want") in)"
        cmp "$want" "$tmp/$name.out" | head -3
    fi
}

expect_empty() {
    if [ -s "$tmp/$1.out" ]; then
        fail "$1: stdout should be empty; it has $(wc -c <"$tmp/$1.out") bytes"
    else
        ok "$1: nothing on stdout"
    fi
}

# The header block ends at the first empty line (LF or CRLF).
header_block() { awk '{ sub(/\r$/, "") } /^$/ { exit } { print }' "$1"; }

header_of() {
    header_block "$1" | awk -v want="$2" '
        BEGIN { want = tolower(want) }
        /^[ \t]/ { if (on) { sub(/^[ \t]+/, " "); val = val $0 } next }
        { if (on) exit; n = index($0, ":"); on = n && tolower(substr($0, 1, n - 1)) == want
          if (on) { val = substr($0, n + 1); sub(/^[ \t]+/, "", val) } }
        END { if (val != "") print val }'
}

header_count() {
    header_block "$1" | awk -v want="$2" 'BEGIN { want = tolower(want); n = 0 }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == want) n++ }
        END { print n }'
}

# strip_doorman FILE: FILE without the X-Doorman-* headers (and their
# continuation lines) of its header block; the body is left alone.
strip_doorman() {
    awk 'BEGIN { body = 0 }
         body { print; next }
         /^\r?$/ { body = 1; print; next }
         /^[ \t]/ { if (!skip) print; next }
         { skip = tolower(substr($0, 1, 10)) == "x-doorman-"; if (!skip) print }' "$1"
}

require_program() {
    local p
    for p in "$@"; do
        if ! command -v "$p" >/dev/null 2>&1; then
            echo "FAIL: $p is not installed (Debian: ./build.sh test installs procmail maildrop dovecot-sieve); this test needs it"
            exit 1
        fi
    done
}

# landed MAILDIR: prints the folder each delivered message is in ("INBOX",
# ".Declined", ...), one line a message.
landed() {
    find "$1" -type f -path '*/new/*' -o -type f -path '*/cur/*' | sort | while read -r f; do
        d=${f#"$1"/}
        d=${d%/*}
        d=${d%/new}
        d=${d%/cur}
        [ "$d" = new ] || [ "$d" = cur ] && d=INBOX
        echo "$d"
    done
}

# expect_delivered NAME MAILDIR FOLDER INPUT VERDICT: one message was
# delivered into MAILDIR, in FOLDER, with VERDICT in its X-Doorman-Verdict
# and otherwise INPUT byte for byte (a forged X-Doorman-* of the input gone);
# VERDICT "-" means no doorman header at all: INPUT unchanged.  A peer that
# adds an empty line at the end sets peer_adds_blank_line=1.
expect_delivered() {
    local name=$1 md=$2 folder=$3 input=$4 want=$5 where f v
    where=$(landed "$md" | tr '\n' ' ')
    if [ "$where" != "$folder " ]; then
        fail "$name: delivered to '${where% }', want '$folder'"
        return
    fi
    ok "$name: delivered to $folder"
    f=$(find "$md" -type f \( -path '*/new/*' -o -path '*/cur/*' \))
    if [ "${peer_adds_blank_line:-0}" = 1 ] && [ "$(tail -c 2 "$f" | od -An -c | tr -d ' ')" = '\n\n' ] &&
        [ "$(tail -c 2 "$input" | od -An -c | tr -d ' ')" != '\n\n' ]; then
        # procmail ends every message with an empty line (the mbox habit),
        # in a Maildir too: that byte is procmail's, not doorman's
        head -c -1 "$f" >"$tmp/$name.delivered"
        f=$tmp/$name.delivered
    fi
    if [ "$want" = - ]; then
        cmp -s "$input" "$f" && ok "$name: the message is the one sent, unchanged" ||
            { fail "$name: the delivered message is not the one sent:"; diff "$input" "$f" | head -10; }
        return
    fi
    v=$(header_of "$f" X-Doorman-Verdict)
    [ "$v" = "$want" ] && [ "$(header_count "$f" X-Doorman-Verdict)" = 1 ] &&
        ok "$name: X-Doorman-Verdict: $v" ||
        fail "$name: X-Doorman-Verdict is '$v' ($(header_count "$f" X-Doorman-Verdict) of them), want one '$want'"
    [ "$(header_count "$f" X-Doorman-Score)" = 1 ] && [ "$(header_count "$f" X-Doorman-Rules)" = 1 ] ||
        fail "$name: X-Doorman-Score or X-Doorman-Rules missing"
    if cmp -s <(strip_doorman "$input") <(strip_doorman "$f"); then
        ok "$name: the rest of the message is the one sent"
    else
        fail "$name: the delivered message differs beyond doorman's headers:"
        diff <(strip_doorman "$input") <(strip_doorman "$f") | head -10
    fi
}
