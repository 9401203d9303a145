/*
 * test_text.c: HTML to text and export dates to ISO 8601 (src/ingest/text.c).
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "ingest/text.h"

/* ---- dm_html_to_text ---- */

typedef struct html_case {
    const char *in;
    const char *out;
    unsigned facts;
} html_case;

#define SPIN DM_FACT_SPINMAIL
#define HTML DM_FACT_HTML

/* clang-format off */
static const html_case html_cases[] = {
    /* no tag, no entity: copied as it is, whitespace and all */
    {"", "", 0},
    {"Hello  there\n\n\n\n Bye ", "Hello  there\n\n\n\n Bye ", 0},
    {"x < y and y > z, I <3 you & me", "x < y and y > z, I <3 you & me", 0},
    {"unknown &foo; &amp and &#; &#x; &#12", "unknown &foo; &amp and &#; &#x; &#12", 0},
    {"<unknown>tag</unknown>", "<unknown>tag</unknown>", 0},

    /* line breaks */
    {"<p>Hello</p><p>World</p>", "Hello\n\nWorld", HTML},
    {"a<br>b<br/>c<BR />d", "a\nb\nc\nd", HTML},
    {"<div>a</div><div>b</div>", "a\nb", HTML},
    {"<ul><li>one</li><li>two</li></ul>", "one\ntwo", HTML},
    {"<P>A</P><P>B</P>", "A\n\nB", HTML},
    {"a<p>b", "a\nb", HTML},
    {"<p>a</p><br><br><br><br><p>b</p>", "a\n\nb", HTML},

    /* whitespace */
    {"<p>  a \t  b  </p>\n\n\n\n<p>c</p>", "a b\n\nc", HTML},
    {"  <b> x </b>  ", "x", HTML},
    {"Hi&amp;\nthere", "Hi&\nthere", 0},
    {"a&amp;b\r\nc", "a&b\nc", 0},
    {"a&nbsp;&nbsp;b", "a b", 0},
    {"&nbsp;a&nbsp;", "a", 0},

    /* entities */
    {"Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &apos;y&apos;", "Tom & Jerry <3 > \"x\" 'y'", 0},
    {"&hellip;&mdash;&ndash;&rsquo;&lsquo;&rdquo;&ldquo;&copy;&reg;&trade;&euro;",
     "\xE2\x80\xA6\xE2\x80\x94\xE2\x80\x93\xE2\x80\x99\xE2\x80\x98\xE2\x80\x9D\xE2\x80\x9C"
     "\xC2\xA9\xC2\xAE\xE2\x84\xA2\xE2\x82\xAC",
     0},
    {"&#65;&#x42;&#X43;&#233;&#x1F600;&#x7f;", "ABC\xC3\xA9\xF0\x9F\x98\x80\x7F", 0},
    {"[&#0;][&#xD800;][&#x110000;][&#99999999999;]",
     "[\xEF\xBF\xBD][\xEF\xBF\xBD][\xEF\xBF\xBD][\xEF\xBF\xBD]", 0},
    {"<b>&foo;</b> &amp x &#; &#x; &#12 &AMP; &am;", "&foo; &amp x &#; &#x; &#12 &AMP; &am;",
     HTML},
    {"co&shy;operate &amp; more", "cooperate & more", 0},
    {"&amp;lt;", "&lt;", 0}, /* decoded once */

    /* tags and what is not a tag */
    {"I <3 you <b>really</b>", "I <3 you really", HTML},
    {"<a href=\"x>y\" title='a>b'>link</a>", "link", HTML},
    {"<b>x</b> <p unterminated", "x <p unterminated", HTML},
    {"<i>x</i> a<y>b</y>", "x a<y>b</y>", HTML},
    {"a<!-- <p>x</p> -->b", "ab", HTML},
    {"a<!-- never closed", "a", HTML},
    {"<!DOCTYPE html><html><head><title>T</title></head><body><p>x</p></body></html>", "x",
     HTML},
    {"<style>p{color:red}</style><script>alert('<p>')</script>Hi", "Hi", HTML},
    {"<SCRIPT type=\"x\">a</Script >b<script src=\"y\"/>c", "bc", HTML},
    {"<script>never closed <p>x</p>", "", HTML},
    {"<o:p>word</o:p>", "word", HTML},

    /* the sponsored InMail marker */
    {"<p class=\"spinmail-quill-editor__spin-break\">Hi Paul,</p><p>Great offer &amp; more</p>",
     "Hi Paul,\n\nGreat offer & more", SPIN | HTML},
    {"spinmail-quill-editor__spin-break is text here", "spinmail-quill-editor__spin-break is text here",
     SPIN},
};

/* clang-format on */

static void test_html_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof html_cases / sizeof html_cases[0]; i++) {
        const html_case *k = &html_cases[i];
        dm_buf out;
        dm_buf_init(&out, 0);
        unsigned facts = DM_FACT_CONNECTED; /* facts are added, never cleared */
        assert_int_equal(dm_html_to_text(k->in, strlen(k->in), &out, &facts), DM_OK);
        const char *got = out.data ? out.data : "";
        if (strcmp(got, k->out) != 0)
            fail_msg("case %zu \"%s\": got \"%s\", expected \"%s\"", i, k->in, got, k->out);
        if (facts != (k->facts | DM_FACT_CONNECTED))
            fail_msg("case %zu \"%s\": facts 0x%x, expected 0x%x", i, k->in, facts,
                     k->facts | DM_FACT_CONNECTED);
        assert_int_equal(out.len, strlen(k->out));
        dm_buf_free(&out);
    }
}

static void test_html_appends(void **state)
{
    (void)state;
    dm_buf out;
    dm_buf_init(&out, 0);
    assert_int_equal(dm_buf_adds(&out, "note: "), DM_OK);
    assert_int_equal(dm_html_to_text("<p> hi </p>", 11, &out, NULL), DM_OK); /* facts may be NULL */
    assert_string_equal(out.data, "note: hi");
    /* only len bytes are read */
    assert_int_equal(dm_html_to_text("&amp;&amp;", 5, &out, NULL), DM_OK);
    assert_string_equal(out.data, "note: hi&");
    dm_buf_free(&out);
}

static void test_html_too_large(void **state)
{
    (void)state;
    dm_buf out;
    dm_buf_init(&out, 8);
    assert_int_equal(dm_buf_adds(&out, "ab"), DM_OK);
    unsigned facts = 0;
    const char *in = "<p class=\"spinmail-quill-editor__spin-break\">much too long</p>";
    assert_int_equal(dm_html_to_text(in, strlen(in), &out, &facts), DM_ETOOLARGE);
    assert_string_equal(out.data, "ab"); /* left as it was */
    assert_int_equal(out.len, 2);
    assert_int_equal(facts, 0);
    assert_int_equal(dm_html_to_text("x &lt; y", 8, &out, &facts), DM_OK);
    assert_string_equal(out.data, "abx < y");
    dm_buf_free(&out);
}

static void test_looks_html(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int yes;
    } cases[] = {
        {"", 0},       {"plain text", 0},      {"a < b > c", 0},
        {"<3", 0},     {"x<y>z", 0},           {"&foo;", 0},
        {"&amp", 0},   {"& amp;", 0},          {"<p>", 1},
        {"</DIV>", 1}, {"a<br/>b", 1},         {"<!-- c -->", 1},
        {"&amp;", 1},  {"&#65;", 1},           {"&#x1F600;", 1},
        {"<b", 0},     {"<!DOCTYPE html>", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (dm_looks_html(cases[i].s, strlen(cases[i].s)) != cases[i].yes)
            fail_msg("dm_looks_html(\"%s\") != %d", cases[i].s, cases[i].yes);
    assert_int_equal(dm_looks_html("<p>", 2), 0); /* only len bytes */
}

/* ---- dm_date_iso ---- */

/* clang-format off */
static const struct {
    const char *in, *out;
} good_dates[] = {
    /* Invitations.csv and 2018 messages: M/D/YY, 12-hour clock */
    {"2/12/26, 11:44 AM", "2026-02-12T11:44:00"},
    {"10/16/18, 8:36 AM", "2018-10-16T08:36:00"},
    {"1/8/18, 6:14 PM", "2018-01-08T18:14:00"},
    {"2/12/26, 12:05 AM", "2026-02-12T00:05:00"},
    {"2/12/26, 12:05 PM", "2026-02-12T12:05:00"},
    {"2/12/26, 1:05 pm", "2026-02-12T13:05:00"},
    {"2/12/26, 11:59:58 PM", "2026-02-12T23:59:58"},
    {"2/12/26, 11:44\xE2\x80\xAF" "AM", "2026-02-12T11:44:00"}, /* U+202F, newer CLDR */
    {"2/12/26, 11:44AM", "2026-02-12T11:44:00"},
    {"2/12/26 23:44", "2026-02-12T23:44:00"},
    {"2/29/24, 9:00 AM", "2024-02-29T09:00:00"},
    {"2/12/2026", "2026-02-12"},
    {"02/09/26", "2026-02-09"},
    /* messages.csv */
    {"2026-02-10 20:33:10 UTC", "2026-02-10T20:33:10Z"},
    {"2026-02-10 20:33:10", "2026-02-10T20:33:10"},
    {"2026-02-10 20:33 UTC", "2026-02-10T20:33Z"},
    /* ISO 8601 kept as it is */
    {"2026-02-10T20:33:10Z", "2026-02-10T20:33:10Z"},
    {"2026-02-10T20:33:10.123+01:00", "2026-02-10T20:33:10.123+01:00"},
    {"2026-02-10T20:33:10-0500", "2026-02-10T20:33:10-0500"},
    {"2026-02-10T20:33", "2026-02-10T20:33"},
    {"2026-02-10", "2026-02-10"},
    {"2014-03", "2014-03"},
    /* Connections.csv, and as a spreadsheet re-saves it */
    {"08 Feb 2026", "2026-02-08"},
    {"8 february 2026", "2026-02-08"},
    {"6-Feb-26", "2026-02-06"},
    {"29-Feb-2000", "2000-02-29"},
    {"31-DEC-99", "2099-12-31"},
    /* Positions.csv */
    {"Mar 2014", "2014-03"},
    {"SEPT 2014", "2014-09"},
    {"September 2014", "2014-09"},
    {"Feb 8, 2026", "2026-02-08"},
    /* surrounding blanks */
    {"  Mar 2014 \n", "2014-03"},
};

static const char *const bad_dates[] = {
    "",
    "   ",
    "hello",
    "2026",
    "13/1/26, 1:00 AM",
    "0/1/26",
    "2/30/26, 1:00 AM",
    "2/29/25",
    "2/12/26, 13:00 PM",
    "2/12/26, 0:30 AM",
    "2/12/26, 24:00",
    "2/12/26, 11:60 AM",
    "2/12/26, 11:44 XM",
    "2/12/26, 11:4 AM",
    "2/12/126",
    "2/12/26,",
    "2/12/26, ",
    "2026-02-30",
    "2026-13-01",
    "2026-00",
    "2026-2-10",
    "2026-02-10 25:00:00 UTC",
    "2026-02-10 20:33:61",
    "2026-02-10 20:33:10 PST",
    "2026-02-10T20:33:10Z trailing",
    "2026-02-10T20:33:10+25:00",
    "30 Feb 2026",
    "31-Apr-26",
    "29-Feb-2100",
    "Foo 2014",
    "Mar 14",
    "Ma 2014",
    "Feb 30, 2026",
    "6/Feb/26",
};

/* clang-format on */

static void run_dates(void)
{
    char out[32];
    for (size_t i = 0; i < sizeof good_dates / sizeof good_dates[0]; i++) {
        memset(out, 'x', sizeof out);
        dm_status st = dm_date_iso(good_dates[i].in, out, sizeof out);
        if (st != DM_OK || strcmp(out, good_dates[i].out) != 0)
            fail_msg("dm_date_iso(\"%s\"): %s \"%s\", expected \"%s\"", good_dates[i].in,
                     dm_strerror(st), st == DM_OK ? out : "", good_dates[i].out);
    }
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        memset(out, 'x', sizeof out);
        dm_status st = dm_date_iso(bad_dates[i], out, sizeof out);
        if (st != DM_ESYNTAX || out[0] != '\0')
            fail_msg("dm_date_iso(\"%s\"): %s \"%.31s\", expected a syntax error and \"\"",
                     bad_dates[i], dm_strerror(st), out);
    }
}

static void test_dates(void **state)
{
    (void)state;
    run_dates();
}

static void test_dates_small_buffer(void **state)
{
    (void)state;
    char out[16] = "junk";
    /* a date that does not fit is not written at all */
    assert_int_equal(dm_date_iso("2026-02-10 20:33:10 UTC", out, sizeof out), DM_ESYNTAX);
    assert_string_equal(out, "");
    assert_int_equal(dm_date_iso("08 Feb 2026", out, sizeof out), DM_OK);
    assert_string_equal(out, "2026-02-08");
    assert_int_equal(dm_date_iso(NULL, out, sizeof out), DM_ESYNTAX);
    assert_string_equal(out, "");
    assert_int_equal(dm_date_iso("Mar 2014", NULL, 0), DM_EINVAL);
}

/* Month names and AM/PM must not depend on the locale (Turkish dotless i). */
static void test_dates_locale(void **state)
{
    (void)state;
    const char *locales[] = {"tr_TR.UTF-8", "tr_TR.utf8", "de_DE.UTF-8", "C.UTF-8"};
    for (size_t i = 0; i < sizeof locales / sizeof locales[0]; i++) {
        if (!setlocale(LC_ALL, locales[i]))
            continue;
        run_dates();
        char out[32];
        assert_int_equal(dm_date_iso("1 MAY 2026", out, sizeof out), DM_OK);
        assert_string_equal(out, "2026-05-01");
    }
    setlocale(LC_ALL, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_cases),     cmocka_unit_test(test_html_appends),
        cmocka_unit_test(test_html_too_large), cmocka_unit_test(test_looks_html),
        cmocka_unit_test(test_dates),          cmocka_unit_test(test_dates_small_buffer),
        cmocka_unit_test(test_dates_locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
