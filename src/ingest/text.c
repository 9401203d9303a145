/*
 * text.c: HTML message bodies to plain text, export dates to ISO 8601
 * (text.h).  Nothing here depends on the locale: the character classes
 * are ASCII ones written out, numbers are parsed by hand.
 *
 * Only the names of real HTML elements count as tags, so that plain text
 * such as "x<y and y>z" or "<3" survives a body that also holds an
 * entity.  Line breaks in the source are kept as line breaks: the export's
 * bodies mix plain text and markup, and a line break is never wrong there.
 */
#include "text.h"

#include <stdint.h>
#include <string.h>

static int is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}
static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}
static int is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}
static int is_xdigit(unsigned char c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
static int is_hspace(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* find() is memmem(): the offset of `needle` in s[0..n), or n. */
static size_t find(const char *s, size_t n, const char *needle, int nocase)
{
    size_t m = strlen(needle);
    if (m == 0 || m > n)
        return n;
    for (size_t i = 0; i + m <= n; i++)
        if (nocase ? dm_ascii_ncasecmp(s + i, needle, m) == 0 : memcmp(s + i, needle, m) == 0)
            return i;
    return n;
}

static size_t utf8_put(char *o, uint32_t cp)
{
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- entities ---- */

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},        {"quot", '"'},
    {"apos", '\''},     {"nbsp", ' '},      {"hellip", 0x2026}, {"mdash", 0x2014},
    {"ndash", 0x2013},  {"rsquo", 0x2019},  {"lsquo", 0x2018},  {"rdquo", 0x201D},
    {"ldquo", 0x201C},  {"sbquo", 0x201A},  {"bdquo", 0x201E},  {"copy", 0xA9},
    {"reg", 0xAE},      {"trade", 0x2122},  {"euro", 0x20AC},   {"pound", 0xA3},
    {"yen", 0xA5},      {"cent", 0xA2},     {"sect", 0xA7},     {"para", 0xB6},
    {"deg", 0xB0},      {"plusmn", 0xB1},   {"times", 0xD7},    {"divide", 0xF7},
    {"middot", 0xB7},   {"bull", 0x2022},   {"laquo", 0xAB},    {"raquo", 0xBB},
    {"lsaquo", 0x2039}, {"rsaquo", 0x203A}, {"iexcl", 0xA1},    {"iquest", 0xBF},
    {"ensp", ' '},      {"emsp", ' '},      {"thinsp", ' '},    {"shy", 0xAD},
    {"zwj", 0x200D},    {"zwnj", 0x200C},   {"agrave", 0xE0},   {"aacute", 0xE1},
    {"acirc", 0xE2},    {"atilde", 0xE3},   {"auml", 0xE4},     {"aring", 0xE5},
    {"aelig", 0xE6},    {"ccedil", 0xE7},   {"egrave", 0xE8},   {"eacute", 0xE9},
    {"ecirc", 0xEA},    {"euml", 0xEB},     {"igrave", 0xEC},   {"iacute", 0xED},
    {"icirc", 0xEE},    {"iuml", 0xEF},     {"ntilde", 0xF1},   {"ograve", 0xF2},
    {"oacute", 0xF3},   {"ocirc", 0xF4},    {"otilde", 0xF5},   {"ouml", 0xF6},
    {"oslash", 0xF8},   {"ugrave", 0xF9},   {"uacute", 0xFA},   {"ucirc", 0xFB},
    {"uuml", 0xFC},     {"yacute", 0xFD},   {"yuml", 0xFF},     {"szlig", 0xDF},
    {"Agrave", 0xC0},   {"Aacute", 0xC1},   {"Acirc", 0xC2},    {"Auml", 0xC4},
    {"Aring", 0xC5},    {"Ccedil", 0xC7},   {"Egrave", 0xC8},   {"Eacute", 0xC9},
    {"Ntilde", 0xD1},   {"Ouml", 0xD6},     {"Oslash", 0xD8},   {"Uuml", 0xDC},
};

/*
 * entity() decodes the entity at s[0] == '&' into o (at most 4 bytes).
 * Returns the bytes it used, or 0 when this is no entity it knows; then
 * the '&' is text.
 *   entity -> '&' NAME ';' | '&#' DIGIT+ ';' | '&#' [xX] XDIGIT+ ';'
 */
static size_t entity(const char *s, size_t n, char *o, size_t *olen)
{
    size_t i = 1;
    if (i < n && s[i] == '#') {
        int hex = 0;
        i++;
        if (i < n && (s[i] == 'x' || s[i] == 'X')) {
            hex = 1;
            i++;
        }
        size_t digits = i;
        uint32_t cp = 0;
        while (i < n && (hex ? is_xdigit((unsigned char)s[i]) : is_digit((unsigned char)s[i]))) {
            unsigned char d = (unsigned char)s[i];
            unsigned v = is_digit(d) ? (unsigned)(d - '0') : (unsigned)((d | 0x20) - 'a' + 10);
            if (cp <= 0x10FFFF)
                cp = cp * (hex ? 16u : 10u) + v; /* saturates past U+10FFFF */
            i++;
        }
        if (i == digits || i >= n || s[i] != ';')
            return 0;
        *olen = utf8_put(o, cp);
        return i + 1;
    }
    while (i < n && i <= 32 && is_alnum((unsigned char)s[i]))
        i++;
    if (i == 1 || i >= n || s[i] != ';')
        return 0;
    size_t len = i - 1;
    for (size_t k = 0; k < sizeof entities / sizeof entities[0]; k++)
        if (strlen(entities[k].name) == len && memcmp(entities[k].name, s + 1, len) == 0) {
            *olen = entities[k].cp == 0xAD ? 0 : utf8_put(o, entities[k].cp); /* soft hyphen */
            return i + 1;
        }
    return 0;
}

/* ---- tags ---- */

enum { TAG_TEXT, TAG_BREAK, TAG_SKIP };

/* What a tag does: by name, for its opening and its closing form. */
static const struct {
    const char *name;
    unsigned char open, close;
} tags[] = {
    {"a", TAG_TEXT, TAG_TEXT},           {"abbr", TAG_TEXT, TAG_TEXT},
    {"address", TAG_TEXT, TAG_BREAK},    {"article", TAG_TEXT, TAG_BREAK},
    {"aside", TAG_TEXT, TAG_BREAK},      {"b", TAG_TEXT, TAG_TEXT},
    {"big", TAG_TEXT, TAG_TEXT},         {"blockquote", TAG_TEXT, TAG_BREAK},
    {"body", TAG_TEXT, TAG_TEXT},        {"br", TAG_BREAK, TAG_BREAK},
    {"caption", TAG_TEXT, TAG_BREAK},    {"center", TAG_TEXT, TAG_BREAK},
    {"cite", TAG_TEXT, TAG_TEXT},        {"code", TAG_TEXT, TAG_TEXT},
    {"col", TAG_TEXT, TAG_TEXT},         {"colgroup", TAG_TEXT, TAG_TEXT},
    {"dd", TAG_TEXT, TAG_BREAK},         {"del", TAG_TEXT, TAG_TEXT},
    {"div", TAG_TEXT, TAG_BREAK},        {"dl", TAG_TEXT, TAG_BREAK},
    {"dt", TAG_TEXT, TAG_BREAK},         {"em", TAG_TEXT, TAG_TEXT},
    {"figcaption", TAG_TEXT, TAG_BREAK}, {"figure", TAG_TEXT, TAG_BREAK},
    {"font", TAG_TEXT, TAG_TEXT},        {"footer", TAG_TEXT, TAG_BREAK},
    {"form", TAG_TEXT, TAG_TEXT},        {"h1", TAG_TEXT, TAG_BREAK},
    {"h2", TAG_TEXT, TAG_BREAK},         {"h3", TAG_TEXT, TAG_BREAK},
    {"h4", TAG_TEXT, TAG_BREAK},         {"h5", TAG_TEXT, TAG_BREAK},
    {"h6", TAG_TEXT, TAG_BREAK},         {"head", TAG_TEXT, TAG_TEXT},
    {"header", TAG_TEXT, TAG_BREAK},     {"hr", TAG_BREAK, TAG_BREAK},
    {"html", TAG_TEXT, TAG_TEXT},        {"i", TAG_TEXT, TAG_TEXT},
    {"img", TAG_TEXT, TAG_TEXT},         {"ins", TAG_TEXT, TAG_TEXT},
    {"kbd", TAG_TEXT, TAG_TEXT},         {"label", TAG_TEXT, TAG_TEXT},
    {"li", TAG_TEXT, TAG_BREAK},         {"link", TAG_TEXT, TAG_TEXT},
    {"main", TAG_TEXT, TAG_BREAK},       {"mark", TAG_TEXT, TAG_TEXT},
    {"meta", TAG_TEXT, TAG_TEXT},        {"nav", TAG_TEXT, TAG_BREAK},
    {"noscript", TAG_TEXT, TAG_TEXT},    {"o:p", TAG_TEXT, TAG_TEXT},
    {"ol", TAG_TEXT, TAG_BREAK},         {"p", TAG_BREAK, TAG_BREAK},
    {"pre", TAG_TEXT, TAG_BREAK},        {"q", TAG_TEXT, TAG_TEXT},
    {"s", TAG_TEXT, TAG_TEXT},           {"samp", TAG_TEXT, TAG_TEXT},
    {"script", TAG_SKIP, TAG_TEXT},      {"section", TAG_TEXT, TAG_BREAK},
    {"small", TAG_TEXT, TAG_TEXT},       {"span", TAG_TEXT, TAG_TEXT},
    {"strike", TAG_TEXT, TAG_TEXT},      {"strong", TAG_TEXT, TAG_TEXT},
    {"style", TAG_SKIP, TAG_TEXT},       {"sub", TAG_TEXT, TAG_TEXT},
    {"sup", TAG_TEXT, TAG_TEXT},         {"table", TAG_TEXT, TAG_BREAK},
    {"tbody", TAG_TEXT, TAG_TEXT},       {"td", TAG_TEXT, TAG_TEXT},
    {"tfoot", TAG_TEXT, TAG_TEXT},       {"th", TAG_TEXT, TAG_TEXT},
    {"thead", TAG_TEXT, TAG_TEXT},       {"title", TAG_SKIP, TAG_TEXT},
    {"tr", TAG_TEXT, TAG_BREAK},         {"tt", TAG_TEXT, TAG_TEXT},
    {"u", TAG_TEXT, TAG_TEXT},           {"ul", TAG_TEXT, TAG_BREAK},
    {"wbr", TAG_TEXT, TAG_TEXT},
};

/*
 * tag() parses the markup at s[0] == '<'.  Returns the bytes it covers
 * (for <script>, <style> and <title>, through their closing tag), or 0 when it is
 * text; *what says what it does.
 *   tag -> '<' '/'? NAME attr* '/'? '>' | '<!--' ... '-->' | '<!' ... '>' | '<?' ... '>'
 */
static size_t tag(const char *s, size_t n, int *what)
{
    *what = TAG_TEXT;
    if (n >= 4 && memcmp(s, "<!--", 4) == 0) {
        size_t e = find(s + 4, n - 4, "-->", 0);
        return e == n - 4 ? n : 4 + e + 3; /* an open comment runs to the end */
    }
    size_t i = 1;
    if (n > 1 && (s[1] == '!' || s[1] == '?')) {
        if (n < 3 || !is_alpha((unsigned char)s[2]))
            return 0;
        size_t e = find(s, n, ">", 0);
        return e == n ? 0 : e + 1;
    }
    int closing = 0;
    if (i < n && s[i] == '/') {
        closing = 1;
        i++;
    }
    size_t name = i;
    while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == ':'))
        i++;
    size_t nlen = i - name;
    if (nlen == 0 || nlen > 10)
        return 0;
    if (i < n && !(is_hspace((unsigned char)s[i]) || s[i] == '\n' || s[i] == '/' || s[i] == '>'))
        return 0;
    size_t k;
    for (k = 0; k < sizeof tags / sizeof tags[0]; k++)
        if (strlen(tags[k].name) == nlen && dm_ascii_ncasecmp(tags[k].name, s + name, nlen) == 0)
            break;
    if (k == sizeof tags / sizeof tags[0])
        return 0;
    /* attributes, with quoted values that may hold '>' */
    char quote = 0;
    for (; i < n; i++) {
        if (quote) {
            if (s[i] == quote)
                quote = 0;
        } else if (s[i] == '"' || s[i] == '\'') {
            quote = s[i];
        } else if (s[i] == '>') {
            break;
        }
    }
    if (i >= n)
        return 0;
    i++;
    *what = closing ? tags[k].close : tags[k].open;
    if (*what == TAG_SKIP) {
        *what = TAG_TEXT;
        if (s[i - 2] == '/')
            return i; /* <script/> */
        char end[16];
        snprintf(end, sizeof end, "</%s", tags[k].name);
        size_t e = find(s + i, n - i, end, 1);
        if (e == n - i)
            return n; /* never closed: the rest is script */
        e += i;
        size_t gt = find(s + e, n - e, ">", 0);
        return gt == n - e ? n : e + gt + 1;
    }
    return i;
}

int dm_looks_html(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int what;
        char o[4];
        size_t olen;
        if (s[i] == '<' && tag(s + i, len - i, &what))
            return 1;
        if (s[i] == '&' && entity(s + i, len - i, o, &olen))
            return 1;
    }
    return 0;
}

/*
 * tidy() rewrites s[0..n) in place: spaces and tabs inside a line become
 * one space, lines are trimmed, two or more line breaks in a row become one
 * blank line, and the whole is trimmed.  Returns the new length; it never
 * writes past what it has read.
 */
static size_t tidy(char *s, size_t n)
{
    size_t w = 0, nl = 0;
    int space = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            nl++;
            space = 0;
        } else if (is_hspace(c)) {
            space = w > 0 && nl == 0;
        } else {
            if (w > 0 && nl > 0) {
                s[w++] = '\n';
                if (nl > 1)
                    s[w++] = '\n';
            } else if (space) {
                s[w++] = ' ';
            }
            nl = 0;
            space = 0;
            s[w++] = (char)c;
        }
    }
    return w;
}

dm_status dm_html_to_text(const char *html, size_t len, dm_buf *out, unsigned *facts)
{
    dm_status st = DM_OK;
    unsigned found = 0;
    char *tmp = NULL;
    if (find(html, len, DM_SPINMAIL_MARKER, 0) < len)
        found |= DM_FACT_SPINMAIL;
    if (!dm_looks_html(html, len)) {
        st = dm_buf_add(out, html, len);
        goto out;
    }
    /* Decoding never makes the text longer: every entity is at least as
     * long as its UTF-8, every tag longer than its line break. */
    tmp = dm_malloc(len + 1);
    if (!tmp) {
        st = DM_ENOMEM;
        goto out;
    }
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        size_t used;
        if (html[i] == '<') {
            int what;
            if ((used = tag(html + i, len - i, &what)) > 0) {
                found |= DM_FACT_HTML;
                if (what == TAG_BREAK)
                    tmp[w++] = '\n';
                i += used;
                continue;
            }
        } else if (html[i] == '&') {
            char o[4];
            size_t olen;
            if ((used = entity(html + i, len - i, o, &olen)) > 0) {
                memcpy(tmp + w, o, olen);
                w += olen;
                i += used;
                continue;
            }
        }
        tmp[w++] = html[i++];
    }
    w = tidy(tmp, w);
    st = dm_buf_add(out, tmp, w);
out:
    dm_free(tmp);
    if (st == DM_OK && facts)
        *facts |= found;
    return st;
}

/* ---- dates ---- */

static const char *const months[12] = {"january",   "february", "march",    "april",
                                       "may",       "june",     "july",     "august",
                                       "september", "october",  "november", "december"};

typedef struct cursor {
    const char *s;
    size_t i, n;
} cursor;

/* number() reads min..max digits into *v; returns the count, 0 if fewer. */
static int number(cursor *c, int min, int max, int *v)
{
    int k = 0, x = 0;
    while (k < max && c->i < c->n && is_digit((unsigned char)c->s[c->i])) {
        x = x * 10 + (c->s[c->i++] - '0');
        k++;
    }
    if (k < min || (c->i < c->n && is_digit((unsigned char)c->s[c->i])))
        return 0;
    *v = x;
    return k;
}

/* two() reads exactly two digits, whatever follows ("0500"). */
static int two(cursor *c, int *v)
{
    if (c->n - c->i < 2 || !is_digit((unsigned char)c->s[c->i]) ||
        !is_digit((unsigned char)c->s[c->i + 1]))
        return 0;
    *v = (c->s[c->i] - '0') * 10 + (c->s[c->i + 1] - '0');
    c->i += 2;
    return 1;
}

static int lit(cursor *c, char ch)
{
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return 1;
    }
    return 0;
}

/* spaces() skips ASCII spaces and the no-break spaces of CLDR formats. */
static int spaces(cursor *c)
{
    size_t start = c->i;
    for (;;) {
        if (c->i < c->n && c->s[c->i] == ' ')
            c->i++;
        else if (c->n - c->i >= 2 && memcmp(c->s + c->i, "\xC2\xA0", 2) == 0)
            c->i += 2;
        else if (c->n - c->i >= 3 && memcmp(c->s + c->i, "\xE2\x80\xAF", 3) == 0)
            c->i += 3;
        else
            break;
    }
    return c->i > start;
}

/* month() reads "Feb", "Sept" or "February" (any case) into 1..12. */
static int month(cursor *c, int *m)
{
    size_t start = c->i;
    while (c->i < c->n && is_alpha((unsigned char)c->s[c->i]))
        c->i++;
    size_t len = c->i - start;
    for (int k = 0; k < 12; k++) {
        size_t full = strlen(months[k]);
        if ((len == 3 || len == full || (k == 8 && len == 4)) && len <= full &&
            dm_ascii_ncasecmp(c->s + start, months[k], len) == 0) {
            *m = k + 1;
            return 1;
        }
    }
    c->i = start;
    return 0;
}

/* year() reads YY (20YY) or YYYY. */
static int year(cursor *c, int *y)
{
    int k = number(c, 2, 4, y);
    if (k == 2)
        *y += 2000;
    return k == 2 || (k == 4 && *y > 0);
}

static int real_date(int y, int m, int d)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap);
}

/* clock_time() reads H:MM[:SS] [AM|PM] into 24-hour time: 12 AM is 00. */
static int clock_time(cursor *c, int *h, int *mi, int *sec)
{
    *sec = 0;
    if (!number(c, 1, 2, h) || !lit(c, ':') || number(c, 2, 2, mi) != 2)
        return 0;
    if (lit(c, ':') && number(c, 2, 2, sec) != 2)
        return 0;
    size_t save = c->i;
    spaces(c);
    if (c->n - c->i >= 2 && (c->s[c->i + 1] | 0x20) == 'm' &&
        ((c->s[c->i] | 0x20) == 'a' || (c->s[c->i] | 0x20) == 'p')) {
        int pm = (c->s[c->i] | 0x20) == 'p';
        c->i += 2;
        if (*h < 1 || *h > 12)
            return 0;
        *h = *h % 12 + (pm ? 12 : 0);
    } else {
        c->i = save;
    }
    return *h <= 23 && *mi <= 59 && *sec <= 59;
}

/*
 * iso() checks ISO 8601 text:
 *   YYYY-MM | YYYY-MM-DD [('T' | ' ') HH:MM[:SS[.F+]] [' '? ('Z' | 'UTC' | 'GMT' | ('+'|'-')
 * HH[:]MM)]] Text with a 'T' is ISO 8601 already and is kept as it is; the messages.csv form
 * "YYYY-MM-DD HH:MM:SS UTC" gets a 'T' and a "Z".
 */
static int iso(cursor *c, char *o, size_t osz)
{
    int y, m, d = 0, h, mi, sec = 0;
    if (number(c, 4, 4, &y) != 4 || !lit(c, '-') || number(c, 2, 2, &m) != 2)
        return 0;
    if (c->i == c->n)
        return m >= 1 && m <= 12 && snprintf(o, osz, "%04d-%02d", y, m) < (int)osz;
    if (!lit(c, '-') || number(c, 2, 2, &d) != 2 || !real_date(y, m, d))
        return 0;
    if (c->i == c->n)
        return snprintf(o, osz, "%04d-%02d-%02d", y, m, d) < (int)osz;
    int keep = lit(c, 'T');
    if (!keep && !lit(c, ' '))
        return 0;
    if (number(c, 2, 2, &h) != 2 || !lit(c, ':') || number(c, 2, 2, &mi) != 2)
        return 0;
    int has_sec = lit(c, ':');
    if (has_sec && number(c, 2, 2, &sec) != 2)
        return 0;
    size_t frac = c->i, nfrac = 0;
    if (has_sec && (lit(c, '.') || lit(c, ','))) {
        frac = c->i;
        while (c->i < c->n && is_digit((unsigned char)c->s[c->i]))
            c->i++;
        nfrac = c->i - frac;
        if (nfrac == 0 || nfrac > 9)
            return 0;
    }
    if (h > 23 || mi > 59 || sec > 59)
        return 0;
    char zone[32] = "";
    spaces(c);
    if (lit(c, 'Z') || lit(c, 'z')) {
        strcpy(zone, "Z");
    } else if (c->n - c->i == 3 && (dm_ascii_ncasecmp(c->s + c->i, "UTC", 3) == 0 ||
                                    dm_ascii_ncasecmp(c->s + c->i, "GMT", 3) == 0)) {
        c->i += 3;
        strcpy(zone, "Z");
    } else if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) {
        char sign = c->s[c->i++];
        int zh, zm = 0;
        if (!two(c, &zh))
            return 0;
        if (c->i < c->n && (lit(c, ':'), !two(c, &zm)))
            return 0;
        if (zh > 23 || zm > 59)
            return 0;
        snprintf(zone, sizeof zone, "%c%02d:%02d", sign, zh, zm);
    }
    if (c->i != c->n)
        return 0;
    if (keep)
        return snprintf(o, osz, "%.*s", (int)c->n, c->s) < (int)osz;
    int k = snprintf(o, osz, "%04d-%02d-%02dT%02d:%02d", y, m, d, h, mi);
    if (k < 0 || (size_t)k >= osz)
        return 0;
    if (has_sec) {
        int k2 = snprintf(o + k, osz - (size_t)k, ":%02d%s%.*s", sec, nfrac ? "." : "", (int)nfrac,
                          c->s + frac);
        if (k2 < 0 || (size_t)k2 >= osz - (size_t)k)
            return 0;
        k += k2;
    }
    return snprintf(o + k, osz - (size_t)k, "%s", zone) < (int)(osz - (size_t)k);
}

/* put_ymd() writes YYYY-MM-DD[THH:MM:SS] (time when h >= 0) without
 * printf, which showed in profiles: this runs for every record. */
static int put_ymd(char *o, size_t osz, int y, int m, int d, int h, int mi, int sec)
{
    char t[20];
    int v[6] = {y, m, d, h, mi, sec}, n = h >= 0 ? 6 : 3;
    if (y < 0 || y > 9999 || osz < (size_t)(n == 6 ? 20 : 11))
        return 0;
    size_t k = 0;
    t[k++] = (char)('0' + y / 1000), t[k++] = (char)('0' + y / 100 % 10);
    t[k++] = (char)('0' + y / 10 % 10), t[k++] = (char)('0' + y % 10);
    for (int i = 1; i < n; i++) {
        t[k++] = i < 3 ? '-' : i == 3 ? 'T' : ':';
        t[k++] = (char)('0' + v[i] / 10 % 10), t[k++] = (char)('0' + v[i] % 10);
    }
    memcpy(o, t, k);
    o[k] = '\0';
    return 1;
}

/* M/D/YY[YY][,] [H:MM[:SS] [AM|PM]] */
static int slashed(cursor *c, char *o, size_t osz)
{
    int m, d, y, h, mi, sec;
    if (!number(c, 1, 2, &m) || !lit(c, '/') || !number(c, 1, 2, &d) || !lit(c, '/') ||
        !year(c, &y) || !real_date(y, m, d))
        return 0;
    if (c->i == c->n)
        return put_ymd(o, osz, y, m, d, -1, 0, 0);
    lit(c, ',');
    if (!spaces(c) || !clock_time(c, &h, &mi, &sec) || c->i != c->n)
        return 0;
    return put_ymd(o, osz, y, m, d, h, mi, sec);
}

/* DD Mon YYYY | D-Mon-YY[YY] */
static int day_first(cursor *c, char *o, size_t osz)
{
    int d, m, y;
    if (!number(c, 1, 2, &d))
        return 0;
    char sep = c->i < c->n ? c->s[c->i] : 0;
    if (sep == '-')
        c->i++;
    else if (!spaces(c))
        return 0;
    if (!month(c, &m))
        return 0;
    if (sep == '-' ? !lit(c, '-') : !spaces(c))
        return 0;
    if (!year(c, &y) || c->i != c->n || !real_date(y, m, d))
        return 0;
    return snprintf(o, osz, "%04d-%02d-%02d", y, m, d) < (int)osz;
}

/* Mon YYYY | Mon D, YYYY */
static int month_first(cursor *c, char *o, size_t osz)
{
    int m, d, y;
    if (!month(c, &m) || !spaces(c))
        return 0;
    size_t save = c->i;
    if (number(c, 4, 4, &y) == 4 && c->i == c->n)
        return y > 0 && snprintf(o, osz, "%04d-%02d", y, m) < (int)osz;
    c->i = save;
    if (!number(c, 1, 2, &d) || !lit(c, ',') || !spaces(c) || number(c, 4, 4, &y) != 4 ||
        c->i != c->n || y == 0 || !real_date(y, m, d))
        return 0;
    return snprintf(o, osz, "%04d-%02d-%02d", y, m, d) < (int)osz;
}

dm_status dm_date_iso(const char *s, char *out, size_t outsz)
{
    if (!out || outsz == 0)
        return DM_EINVAL;
    out[0] = '\0';
    if (!s)
        return DM_ESYNTAX;
    size_t n = strlen(s), b = 0;
    while (b < n && (is_hspace((unsigned char)s[b]) || s[b] == '\n'))
        b++;
    while (n > b && (is_hspace((unsigned char)s[n - 1]) || s[n - 1] == '\n'))
        n--;
    cursor c = {s + b, 0, n - b};
    int ok = 0;
    if (c.n == 0) {
        ok = 0;
    } else if (is_alpha((unsigned char)c.s[0])) {
        ok = month_first(&c, out, outsz);
    } else {
        size_t k = 0;
        while (k < c.n && is_digit((unsigned char)c.s[k]))
            k++;
        char next = k < c.n ? c.s[k] : 0;
        if (k == 4 && next == '-')
            ok = iso(&c, out, outsz);
        else if (next == '/')
            ok = slashed(&c, out, outsz);
        else if (k >= 1 && k <= 2)
            ok = day_first(&c, out, outsz);
    }
    if (!ok) {
        out[0] = '\0';
        return DM_ESYNTAX;
    }
    return DM_OK;
}
