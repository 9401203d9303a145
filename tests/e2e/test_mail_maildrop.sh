#!/usr/bin/env bash
# test_mail_maildrop.sh DOORMAN SOURCE_DIR: the real maildrop runs
# examples/maildrop.filter (`xfilter "doorman mail"`, then tests on
# X-Doorman-Verdict; a copy with the path of the doorman under test) and
# delivers test mails into Maildir folders: a pitch (with a forged verdict)
# into Declined, a no-note LinkedIn request into Review, a personal request
# and an ordinary mail into the inbox, each with doorman's headers.  A
# doorman that cannot triage lets the mail through unchanged; one that
# fails makes maildrop exit 75 with nothing delivered.  maildrop must be
# installed (./build.sh test does it): a missing one fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail-lib.sh"
require_program maildrop maildirmake

home=$tmp/home
mkdir -p "$home"

# make_filter FILE DOORMAN: the example with the doorman under test and a
# Maildir in the scratch folder (maildrop sets HOME from the password file,
# so the example's $HOME/Maildir would be the real one); nothing else changes
make_filter() {
    sed -e "s#^DOORMAN=\"/usr/local/bin/doorman\"\$#DOORMAN=\"$2\"#" \
        -e "s#^MAILDIR=\"\$HOME/Maildir\"\$#MAILDIR=\"$home/Maildir\"#" \
        "$src/examples/maildrop.filter" >"$1"
    chmod 600 "$1"
    grep -q "^DOORMAN=\"$2\"\$" "$1" && grep -q "^MAILDIR=\"$home/Maildir\"\$" "$1" ||
        { echo "FAIL: examples/maildrop.filter has no DOORMAN= or MAILDIR= line to substitute"; exit 1; }
    [ "$(diff "$src/examples/maildrop.filter" "$1" | grep -c '^[<>]')" = 4 ] ||
        { echo "FAIL: the copy of examples/maildrop.filter differs in more than those lines"; exit 1; }
}
make_filter "$tmp/filter" "$doorman"

# deliver NAME MAIL [FILTER]: a fresh Maildir with its folders (maildrop
# creates none), then maildrop as an MTA runs it
deliver() {
    local name=$1 mail=$2 filter=${3:-$tmp/filter}
    rm -rf "$home/Maildir"
    maildirmake "$home/Maildir" && maildirmake -f Declined "$home/Maildir" &&
        maildirmake -f Review "$home/Maildir" || { fail "$name: maildirmake"; return; }
    HOME=$home XDG_CONFIG_HOME=$tmp/xdg-empty maildrop -f sender@example.com "$filter" <"$mail" \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    code=$?
    echo "$code" >"$tmp/$name.code"
    sanitizer_check "$name"
}

deliver pitch "$mails/pitch-invitation.eml"
expect_code pitch 0
expect_delivered pitch "$home/Maildir" .Declined "$mails/pitch-invitation.eml" decline

deliver nonote "$mails/no-note-invitation.eml"
expect_code nonote 0
expect_delivered nonote "$home/Maildir" .Review "$mails/no-note-invitation.eml" review

deliver personal "$mails/personal-invitation.eml"
expect_code personal 0
expect_delivered personal "$home/Maildir" INBOX "$mails/personal-invitation.eml" accept

deliver ordinary "$mails/ordinary.eml"
expect_code ordinary 0
expect_delivered ordinary "$home/Maildir" INBOX "$mails/ordinary.eml" review

# doorman cannot triage (its rules do not load): the safe fallback passes
# the mail unchanged with exit 0, and maildrop delivers it to the inbox
printf 'rule BROKEN {\n    describe "broken"\n    when message =~ /(/\n}\n' >"$tmp/broken.rules"
cat >"$tmp/doorman-broken" <<EOF
#!/bin/sh
exec "$doorman" "\$@" --rules "$tmp/broken.rules"
EOF
chmod 755 "$tmp/doorman-broken"
make_filter "$tmp/filter-broken" "$tmp/doorman-broken"
deliver broken "$mails/pitch-invitation.eml" "$tmp/filter-broken"
expect_code broken 0
expect_delivered broken "$home/Maildir" INBOX "$mails/pitch-invitation.eml" -

# doorman fails outright (--tempfail): a non-zero xfilter makes maildrop
# exit 75 (EX_TEMPFAIL) and deliver nothing, so the MTA retries
cat >"$tmp/doorman-tempfail" <<EOF
#!/bin/sh
exec "$doorman" "\$@" --tempfail --rules "$tmp/broken.rules"
EOF
chmod 755 "$tmp/doorman-tempfail"
make_filter "$tmp/filter-tempfail" "$tmp/doorman-tempfail"
deliver tempfail "$mails/pitch-invitation.eml" "$tmp/filter-tempfail"
expect_code tempfail 75
n=$(landed "$home/Maildir" | wc -l)
[ "$n" = 0 ] && ok "tempfail: nothing delivered" || fail "tempfail: $n messages delivered, want none"

finish
