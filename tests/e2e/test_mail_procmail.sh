#!/usr/bin/env bash
# test_mail_procmail.sh DOORMAN SOURCE_DIR: the real procmail runs
# examples/procmailrc (`:0fw | doorman mail`, then recipes on
# X-Doorman-Verdict) and delivers test mails into Maildir folders: a pitch
# (with a forged verdict) into Declined, a no-note LinkedIn request into
# Review, a personal request and an ordinary mail into the inbox, each with
# doorman's headers; a doorman that cannot triage lets the mail through
# unchanged; one that fails (exit 75) makes procmail ask for a retry.
# procmail must be installed (./build.sh test does it): a missing one fails.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail-lib.sh"
require_program procmail
peer_adds_blank_line=1

# procmail refuses a world-writable rc file: a private copy, unchanged
rc=$tmp/procmailrc
cp "$src/examples/procmailrc" "$rc"
chmod 600 "$rc"
home=$tmp/home
mkdir -p "$home"

# deliver NAME MAIL [DOORMAN]: a fresh Maildir, then procmail as an MTA runs it
deliver() {
    local name=$1 mail=$2 prog=${3:-$doorman}
    rm -rf "$home/Maildir"
    mkdir -p "$home/Maildir"
    HOME=$home XDG_CONFIG_HOME=$tmp/xdg-empty \
        procmail -f- -m DOORMAN="$prog" MAILDIR="$home/Maildir" "$rc" <"$mail" \
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
# the mail unchanged, exit 0, and procmail delivers it to the inbox
printf 'rule BROKEN {\n    describe "broken"\n    when message =~ /(/\n}\n' >"$tmp/broken.rules"
cat >"$tmp/doorman-broken" <<EOF
#!/bin/sh
exec "$doorman" "\$@" --rules "$tmp/broken.rules"
EOF
chmod 755 "$tmp/doorman-broken"
deliver broken "$mails/pitch-invitation.eml" "$tmp/doorman-broken"
expect_code broken 0
expect_delivered broken "$home/Maildir" INBOX "$mails/pitch-invitation.eml" -

# doorman fails outright (here --tempfail turns the same problem into exit
# 75): the recipe's `:0e` makes procmail exit 75 so the MTA retries, and
# nothing is delivered
cat >"$tmp/doorman-tempfail" <<EOF
#!/bin/sh
exec "$doorman" "\$@" --tempfail --rules "$tmp/broken.rules"
EOF
chmod 755 "$tmp/doorman-tempfail"
deliver tempfail "$mails/pitch-invitation.eml" "$tmp/doorman-tempfail"
expect_code tempfail 75
n=$(landed "$home/Maildir" | wc -l)
[ "$n" = 0 ] && ok "tempfail: nothing delivered" || fail "tempfail: $n messages delivered, want none"

finish
