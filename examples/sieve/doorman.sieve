# doorman.sieve: sort mail on doorman's verdict with Dovecot Pigeonhole
# (docs/integration.md, "Dovecot Sieve").  Needs 90-doorman.conf.
#
#   decline                 -> the Declined folder (cold pitches, bot templates, scams)
#   review, from LinkedIn   -> the Review folder (requests for you to look at)
#   everything else         -> the inbox (accepted requests, ordinary mail)
require ["vnd.dovecot.filter", "fileinto", "mailbox"];

# "doorman" is the program of that name in sieve_filter_bin_dir.  When it
# fails, the message stays as it was, the test is false, and the mail goes
# to the inbox (doorman itself passes the message unchanged and succeeds
# when it cannot triage it).
if filter "doorman" ["mail"] {
    if header :is "X-Doorman-Verdict" "decline" {
        fileinto :create "Declined";
        stop;
    }
    if allof (header :is "X-Doorman-Verdict" "review",
              address :domain :is "from" "linkedin.com") {
        fileinto :create "Review";
        stop;
    }
}
