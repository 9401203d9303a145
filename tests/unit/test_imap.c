/*
 * test_imap.c: the IMAP source (src/fetch/imap.c).
 *
 * Without a server: the URLs it refuses before connecting, each with its
 * error's code, source and text.
 *
 * With a server: when DM_TEST_IMAP_URL names a folder (and
 * DOORMAN_IMAP_PASSWORD its password), the cursor API the state store
 * uses: UIDVALIDITY and the last UID, a cursor that finds nothing new, one
 * that finds the last mail only, one of another UIDVALIDITY that reads the
 * whole folder again; a message over max_message, and one expunged after
 * the search, reported and skipped; the password of dm_imap_opts (before
 * $DOORMAN_IMAP_PASSWORD) and the progress callback; what
 * dm_imap_check_target() and dm_imap_mark() refuse before touching a mail
 * (the marking itself is checked on the server's side by test_imap.sh).
 * tests/e2e/test_imap.sh runs this binary so against
 * the Dovecot it starts; run alone, these tests are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"
#include "fetch/imap.h"

static void assert_refused(const char *url, dm_status code, const char *source, const char *text)
{
    dm_imap *im = NULL;
    dm_error e;
    dm_error_clear(&e);
    dm_status st = dm_imap_open(url, NULL, NULL, NULL, &im, &e);
    if (st != code)
        fail_msg("%s: status %d, want %d (%s: %s)", url, (int)st, (int)code, e.source, e.text);
    assert_null(im);
    assert_int_equal(e.code, code);
    assert_int_equal(e.line, 0);
    assert_int_equal(e.column, 0);
    assert_string_equal(e.source, source);
    if (!strstr(e.text, text))
        fail_msg("error text \"%s\" lacks \"%s\"", e.text, text);
}

static void refuses_bad_urls(void **state)
{
    (void)state;
    assert_refused("http://127.0.0.1/INBOX", DM_EINVAL, "imap", "not an imap:// or imaps:// URL");
    assert_refused("imap://me:hunter2@127.0.0.1:1/INBOX", DM_EINVAL, "imap://127.0.0.1:1",
                   "a password in the URL is refused");
    assert_refused("imaps:///INBOX", DM_EINVAL, "imaps://", "no host in the URL");
    assert_refused("imap://127.0.0.1:1/INBOX;UID=4", DM_EINVAL, "imap://127.0.0.1:1",
                   "give the folder only");
    assert_refused("imap://127.0.0.1:1/INBOX?ALL%0d%0aLOGOUT", DM_EINVAL, "imap://127.0.0.1:1",
                   "a control character in the URL");
    assert_refused("imap://127.0.0.1:1/IN%22BOX", DM_EINVAL, "imap://127.0.0.1:1",
                   "a quote or a backslash");
    assert_refused("imap://127.0.0.1:1/INBOX#x", DM_EINVAL, "imap://127.0.0.1:1", "a fragment");
}

/* ---- against a server ------------------------------------------------------ */

static const char *server_url(void)
{
    const char *u = getenv("DM_TEST_IMAP_URL");
    return u && *u ? u : NULL;
}

/* read_all() opens `url` with a cursor, reads every record, returns how
 * many; the last record's source in `last_source`. */
static size_t read_all(const char *url, uint32_t uidvalidity, uint32_t since, dm_imap **keep,
                       char *last_source, size_t cap)
{
    dm_imap_opts o = {.uidvalidity = uidvalidity, .since_uid = since, .timeout = 20};
    dm_imap *im = NULL;
    dm_error e;
    dm_error_clear(&e);
    dm_status st = dm_imap_open(url, &o, NULL, NULL, &im, &e);
    if (st != DM_OK)
        fail_msg("open %s: %s: %s", url, e.source, e.text);
    dm_record *rec = NULL;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    size_t n = 0;
    while ((st = dm_imap_next(im, rec, &e)) == DM_OK) {
        n++;
        snprintf(last_source, cap, "%s", dm_record_get(rec, DM_FIELD_SOURCE));
    }
    if (st != DM_END)
        fail_msg("next: %s: %s", e.source, e.text);
    assert_int_equal(n, dm_imap_found(im));
    dm_record_free(rec);
    *keep = im;
    return n;
}

static void cursor(void **state)
{
    (void)state;
    const char *url = server_url();
    if (!url)
        fail_msg("needs the Dovecot of tests/e2e/test_imap.sh");
    char src[256] = "", want[256];
    dm_imap *im;

    /* no cursor: the whole folder */
    size_t all = read_all(url, 0, 0, &im, src, sizeof src);
    assert_true(all >= 2);
    uint32_t v = dm_imap_uidvalidity(im), last = dm_imap_last_uid(im);
    assert_true(v > 0);
    assert_true(last >= all);
    assert_true(dm_imap_uidnext(im) > last);
    snprintf(want, sizeof want, ";UIDVALIDITY=%lu/;UID=%lu", (unsigned long)v, (unsigned long)last);
    assert_non_null(strstr(src, want));
    dm_imap_free(im);

    /* the cursor where the run ended: nothing new, the cursor stays */
    assert_int_equal(read_all(url, v, last, &im, src, sizeof src), 0);
    assert_int_equal(dm_imap_uidvalidity(im), v);
    assert_int_equal(dm_imap_last_uid(im), last);
    dm_imap_free(im);

    /* one before: the last mail only */
    src[0] = '\0';
    assert_int_equal(read_all(url, v, last - 1, &im, src, sizeof src), 1);
    assert_non_null(strstr(src, want));
    assert_int_equal(dm_imap_last_uid(im), last);
    dm_imap_free(im);

    /* another UIDVALIDITY: the folder was recreated, read all of it again */
    assert_int_equal(read_all(url, v + 1, last, &im, src, sizeof src), all);
    dm_imap_free(im);
}

typedef struct skips {
    size_t n;
    dm_status code;
    char source[DM_ERROR_SOURCE_MAX];
    char text[DM_ERROR_TEXT_MAX];
} skips;

static dm_status count_skip(void *ud, dm_severity sev, const dm_error *e)
{
    skips *k = ud;
    assert_int_equal(sev, DM_SEV_ERROR);
    k->n++;
    k->code = e->code;
    snprintf(k->source, sizeof k->source, "%s", e->source);
    snprintf(k->text, sizeof k->text, "%s", e->text);
    return DM_OK;
}

/* a message over max_message is reported with its URL and skipped; the
 * cursor still moves past it */
static void too_large(void **state)
{
    (void)state;
    const char *url = server_url();
    if (!url)
        fail_msg("needs the Dovecot of tests/e2e/test_imap.sh");
    skips k = {0};
    dm_imap_opts o = {.max_message = 100, .timeout = 20};
    dm_imap *im = NULL;
    dm_error e;
    dm_error_clear(&e);
    assert_int_equal(dm_imap_open(url, &o, count_skip, &k, &im, &e), DM_OK);
    dm_record *rec = NULL;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    assert_int_equal(dm_imap_next(im, rec, &e), DM_END);
    assert_int_equal(k.n, dm_imap_found(im));
    assert_int_equal(k.code, DM_ETOOLARGE);
    char want[64];
    snprintf(want, sizeof want, ";UID=%lu", (unsigned long)dm_imap_last_uid(im));
    assert_non_null(strstr(k.source, want));
    assert_string_equal(k.text, "the message is over the limit of 100 bytes; message skipped");
    dm_record_free(rec);
    dm_imap_free(im);
}

/* a message expunged between the search and its fetch (its Maildir file,
 * DM_TEST_IMAP_EXPUNGE_FILE, removed behind Dovecot's back) is reported and
 * skipped; the others are read */
static void expunged(void **state)
{
    (void)state;
    const char *url = server_url();
    const char *file = getenv("DM_TEST_IMAP_EXPUNGE_FILE");
    if (!url || !file || !*file)
        fail_msg("needs the Dovecot of tests/e2e/test_imap.sh");
    skips k = {0};
    dm_imap_opts o = {.timeout = 20};
    dm_imap *im = NULL;
    dm_error e;
    dm_error_clear(&e);
    assert_int_equal(dm_imap_open(url, &o, count_skip, &k, &im, &e), DM_OK);
    size_t found = dm_imap_found(im);
    assert_true(found >= 2);
    assert_int_equal(unlink(file), 0);
    dm_record *rec = NULL;
    assert_int_equal(dm_record_create(&rec), DM_OK);
    size_t n = 0;
    dm_status st;
    while ((st = dm_imap_next(im, rec, &e)) == DM_OK)
        n++;
    assert_int_equal(st, DM_END);
    assert_int_equal(n, found - 1);
    assert_int_equal(k.n, 1);
    assert_int_equal(k.code, DM_ENOENT);
    assert_non_null(strstr(k.source, ";UID=1"));
    assert_string_equal(k.text, "the message is gone (expunged?); skipped");
    dm_record_free(rec);
    dm_imap_free(im);
}

/* ---- the password of the options, the progress ------------------------------ */

typedef struct progress_log {
    size_t calls;
    uint64_t last_done, last_records, total, records_total;
    int ordered; /* done and records never went back */
    char source[256];
    char unit[16];
} progress_log;

static void on_progress(void *ud, const dm_progress *p)
{
    progress_log *l = ud;
    if (p->done < l->last_done || p->records < l->last_records)
        l->ordered = 0;
    l->calls++;
    l->last_done = p->done;
    l->last_records = p->records;
    l->total = p->total;
    l->records_total = p->records_total;
    snprintf(l->source, sizeof l->source, "%s", p->source);
    snprintf(l->unit, sizeof l->unit, "%s", p->unit);
}

/* opts.password is used before $DOORMAN_IMAP_PASSWORD (set to a wrong one
 * here: the login would fail with it) and without it; progress is told of
 * each mail */
static void password_and_progress(void **state)
{
    (void)state;
    const char *url = server_url();
    const char *pw = getenv("DOORMAN_IMAP_PASSWORD");
    if (!url || !pw || !*pw)
        fail_msg("needs the Dovecot of tests/e2e/test_imap.sh and its password");
    char password[128];
    snprintf(password, sizeof password, "%s", pw);
    for (int round = 0; round < 2; round++) {
        if (round == 0)
            setenv("DOORMAN_IMAP_PASSWORD", "not-the-password", 1);
        else
            unsetenv("DOORMAN_IMAP_PASSWORD");
        progress_log log = {.ordered = 1};
        dm_imap_opts o = {.timeout = 20,
                          .password = password,
                          .progress = on_progress,
                          .progress_ud = &log,
                          .progress_name = "the URL as given"};
        dm_imap *im = NULL;
        dm_error e;
        dm_error_clear(&e);
        dm_status st = dm_imap_open(url, &o, NULL, NULL, &im, &e);
        if (st != DM_OK)
            fail_msg("open with opts.password (round %d): %s: %s", round, e.source, e.text);
        assert_int_equal(log.calls, 0);
        size_t found = dm_imap_found(im);
        assert_true(found >= 2);
        dm_record *rec = NULL;
        assert_int_equal(dm_record_create(&rec), DM_OK);
        size_t n = 0;
        while ((st = dm_imap_next(im, rec, &e)) == DM_OK) {
            n++;
            assert_int_equal(log.calls, n);
            assert_int_equal(log.last_done, n);
            assert_int_equal(log.last_records, n);
        }
        assert_int_equal(st, DM_END);
        assert_int_equal(n, found);
        assert_int_equal(log.calls, found);
        assert_true(log.ordered);
        assert_int_equal(log.total, found);
        assert_int_equal(log.records_total, found);
        assert_string_equal(log.source, "the URL as given");
        assert_string_equal(log.unit, "mail");
        dm_record_free(rec);
        dm_imap_free(im);
    }
    setenv("DOORMAN_IMAP_PASSWORD", password, 1);
}

/* ---- what marking refuses --------------------------------------------------- */

static void assert_error(const dm_error *e, dm_status code, const char *source, const char *text)
{
    assert_int_equal(e->code, code);
    assert_int_equal(e->line, 0);
    assert_int_equal(e->column, 0);
    assert_string_equal(e->source, source);
    if (!strstr(e->text, text))
        fail_msg("error text \"%s\" lacks \"%s\"", e->text, text);
}

static void assert_target_refused(dm_imap *im, const char *shown, const char *flag,
                                  const char *folder, dm_status code, const char *text)
{
    dm_error e;
    dm_error_clear(&e);
    assert_int_equal(dm_imap_check_target(im, flag, folder, &e), code);
    assert_error(&e, code, shown, text);
}

/* the folder shown in errors: the URL without the user */
static void shown_of(const char *url, char *buf, size_t n)
{
    const char *at = strchr(url, '@');
    const char *sep = strstr(url, "://");
    snprintf(buf, n, "%.*s%s", (int)(sep - url + 3), url, at ? at + 1 : sep + 3);
}

/* dm_imap_check_target() and dm_imap_mark() refuse before touching a mail:
 * a bad flag, a folder that is not there, not ASCII, or the one being read;
 * a mark before any mail.  The folder "Declined" (test_imap.sh makes it)
 * passes; so does opening with opts.flag/move_to, and a bad flag there
 * fails the open. */
static void mark_refusals(void **state)
{
    (void)state;
    const char *url = server_url();
    if (!url)
        fail_msg("needs the Dovecot of tests/e2e/test_imap.sh");
    char shown[256], host[128];
    shown_of(url, shown, sizeof shown);
    const char *h = strstr(shown, "://") + 3;
    snprintf(host, sizeof host, "%.*s", (int)strcspn(h, "/"), h);

    dm_imap_opts o = {.timeout = 20, .flag = "$Declined", .move_to = "Declined"};
    dm_imap *im = NULL;
    dm_error e;
    dm_error_clear(&e);
    if (dm_imap_open(url, &o, NULL, NULL, &im, &e) != DM_OK)
        fail_msg("open with flag and move_to: %s: %s", e.source, e.text);

    assert_int_equal(dm_imap_check_target(im, "\\Flagged", NULL, &e), DM_OK);
    assert_int_equal(dm_imap_check_target(im, "$Declined", "Declined", &e), DM_OK);
    assert_int_equal(e.code, DM_OK);
    assert_target_refused(im, shown, "bad flag", NULL, DM_EINVAL,
                          "\"bad flag\" is not an IMAP flag: use a keyword such as $Declined");
    assert_target_refused(im, shown, "(x)", NULL, DM_EINVAL, "is not an IMAP flag");
    assert_target_refused(im, shown, "a\"b", NULL, DM_EINVAL, "is not an IMAP flag");
    assert_target_refused(im, shown, "\\Recent", NULL, DM_EINVAL,
                          "\"\\Recent\" is not a system flag one may set");
    assert_target_refused(im, shown, "", NULL, DM_EINVAL, "an empty flag name");
    assert_target_refused(im, shown, "caf\xc3\xa9", NULL, DM_EINVAL,
                          "a flag name must be printable ASCII");
    char want[256];
    snprintf(want, sizeof want, "folder \"No such\" does not exist on %s; create it first", host);
    assert_target_refused(im, shown, NULL, "No such", DM_ENOENT, want);
    assert_target_refused(im, shown, NULL,
                          "D\xc3\xa9"
                          "clin\xc3\xa9",
                          DM_EINVAL, "non-ASCII folder names (modified UTF-7) are not supported");
    assert_target_refused(im, shown, NULL, "INBOX", DM_EINVAL, "is the folder being read");
    assert_target_refused(im, shown, NULL, "a\r\nLOGOUT", DM_EINVAL, "a control character");

    /* nothing read yet: nothing to mark */
    dm_error_clear(&e);
    assert_int_equal(dm_imap_mark(im, "$Declined", NULL, &e), DM_EINVAL);
    assert_error(&e, DM_EINVAL, shown, "no mail read to mark");
    dm_imap_free(im);

    /* a bad flag in the options fails the open, before the search */
    o.flag = "bad flag";
    im = NULL;
    dm_error_clear(&e);
    assert_int_equal(dm_imap_open(url, &o, NULL, NULL, &im, &e), DM_EINVAL);
    assert_null(im);
    assert_error(&e, DM_EINVAL, shown, "\"bad flag\" is not an IMAP flag");
    o.flag = NULL;
    o.move_to = "Nope";
    dm_error_clear(&e);
    assert_int_equal(dm_imap_open(url, &o, NULL, NULL, &im, &e), DM_ENOENT);
    assert_null(im);
    snprintf(want, sizeof want, "folder \"Nope\" does not exist on %s; create it first", host);
    assert_error(&e, DM_ENOENT, shown, want);
}

/* The server tests need the Dovecot that tests/e2e/test_imap.sh starts: that
 * script runs this binary with DM_TEST_IMAP_URL (cursor, too_large,
 * password_and_progress, mark_refusals) and then
 * also DM_TEST_IMAP_EXPUNGE_FILE (expunged).  Only the tests whose server is
 * there are registered, so that nothing shows up as skipped. */
int main(void)
{
    const struct CMUnitTest offline[] = {
        cmocka_unit_test(refuses_bad_urls),
    };
    const struct CMUnitTest server[] = {
        cmocka_unit_test(cursor),
        cmocka_unit_test(too_large),
        cmocka_unit_test(password_and_progress),
        cmocka_unit_test(mark_refusals),
    };
    const struct CMUnitTest gone[] = {
        cmocka_unit_test(expunged),
    };
    if (server_url() && getenv("DM_TEST_IMAP_EXPUNGE_FILE"))
        return cmocka_run_group_tests(gone, NULL, NULL);
    if (server_url())
        return cmocka_run_group_tests(server, NULL, NULL);
    return cmocka_run_group_tests(offline, NULL, NULL);
}
