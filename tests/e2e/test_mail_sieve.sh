#!/usr/bin/env bash
# test_mail_sieve.sh DOORMAN SOURCE_DIR: Dovecot Pigeonhole's own sieve-test
# runs examples/sieve/doorman.sieve with examples/sieve/90-doorman.conf
# (vnd.dovecot.filter; a copy with the program folder of this test) and
# really delivers (-e) test mails into a Maildir: a pitch (with a forged
# verdict) into Declined, a no-note LinkedIn request into Review, a personal
# request and an ordinary mail into the inbox, each with doorman's headers;
# a doorman that cannot triage lets the mail through unchanged.
# sieve-test (Debian dovecot-sieve) must be installed: a missing one fails.
#
# Dovecot refuses to run as root (so, as root, the test makes it nobody) and
# runs the program as the mail user with a bare environment: so the program
# is a copy of the doorman under test with a copy of the rules, in a folder
# that user can read.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail-lib.sh"
require_program sieve-test

D=$tmp/sieve
mkdir -p "$D/filters" "$D/prog" "$D/xdg"
cp "$doorman" "$D/prog/doorman"
cp -r "${DOORMAN_RULES_DIR:-$src/rules}" "$D/rules"
printf 'rule BROKEN {\n    describe "broken"\n    when message =~ /(/\n}\n' >"$D/broken.rules"
cp "$src/examples/sieve/doorman.sieve" "$D/doorman.sieve"
# the example's settings, with this test's program folder
sed "s#^\\( *sieve_filter_bin_dir\\) = .*#\\1 = $D/filters#" \
    "$src/examples/sieve/90-doorman.conf" >"$D/90-doorman.conf"
[ "$(diff "$src/examples/sieve/90-doorman.conf" "$D/90-doorman.conf" | grep -c '^[<>]')" = 2 ] ||
    { echo "FAIL: examples/sieve/90-doorman.conf has no sieve_filter_bin_dir line to substitute"; exit 1; }
# as root, Dovecot must be told to be someone else
as_root=0
[ "$(id -u)" = 0 ] && as_root=1
{
    echo "base_dir = $D/run"
    echo "log_path = /dev/stderr"
    [ $as_root = 1 ] && printf 'mail_uid = nobody\nmail_gid = nogroup\n'
    echo "mail_location = maildir:$D/mail"
    echo "!include $D/90-doorman.conf"
} >"$D/sieve.conf"

# set_program ARGS...: the program Sieve calls as "doorman": the doorman under
# test, with the copied rules, an empty config home and a cache of its own, then ARGS
set_program() {
    cat >"$D/filters/doorman" <<EOF
#!/bin/sh
DOORMAN_RULES_DIR=$D/rules XDG_CONFIG_HOME=$D/xdg XDG_CACHE_HOME=$D/cache ASAN_OPTIONS=$ASAN_OPTIONS exec $D/prog/doorman "\$@" $*
EOF
    chmod 755 "$D/filters/doorman"
}

# deliver NAME MAIL: a fresh Maildir, then sieve-test runs the script and delivers
deliver() {
    local name=$1 mail=$2
    rm -rf "$D/mail"
    mkdir -p "$D/mail"
    cp "$mail" "$D/msg.eml"
    chmod 755 "$tmp"
    [ $as_root = 1 ] && chown -R nobody:nogroup "$D"
    (cd "$D" && sieve-test -c "$D/sieve.conf" -e "$D/doorman.sieve" "$D/msg.eml") \
        >"$tmp/$name.out" 2>"$tmp/$name.err"
    code=$?
    echo "$code" >"$tmp/$name.code"
    sanitizer_check "$name"
}

set_program
deliver pitch "$mails/pitch-invitation.eml"
expect_code pitch 0
expect_delivered pitch "$D/mail" .Declined "$mails/pitch-invitation.eml" decline

deliver nonote "$mails/no-note-invitation.eml"
expect_code nonote 0
expect_delivered nonote "$D/mail" .Review "$mails/no-note-invitation.eml" review

deliver personal "$mails/personal-invitation.eml"
expect_code personal 0
expect_delivered personal "$D/mail" INBOX "$mails/personal-invitation.eml" accept

deliver ordinary "$mails/ordinary.eml"
expect_code ordinary 0
expect_delivered ordinary "$D/mail" INBOX "$mails/ordinary.eml" review

# doorman cannot triage (its rules do not load): the message passes
# unchanged and lands in the inbox
set_program --rules "$D/broken.rules"
deliver broken "$mails/pitch-invitation.eml"
expect_code broken 0
expect_delivered broken "$D/mail" INBOX "$mails/pitch-invitation.eml" -
expect_err broken "the message passes unchanged"

# doorman fails (--tempfail): Sieve logs it and keeps the message as it was
set_program --tempfail --rules "$D/broken.rules"
deliver tempfail "$mails/pitch-invitation.eml"
expect_code tempfail 0
expect_delivered tempfail "$D/mail" INBOX "$mails/pitch-invitation.eml" -

finish
