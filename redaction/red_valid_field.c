/* Dates of birth and the field context of a value: the key or the column
 * header it is filed under (CSV/TSV/Markdown tables, SQL INSERT column lists,
 * key: value pairs), so a date under "dob" or a number under "telefono" counts
 * where no context word is near. */
#include "redaction/red_valid.h"

static bool dm_ok(unsigned d, unsigned m)
{
    static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m >= 1 && m <= 12 && d >= 1 && d <= mdays[m];
}

/* Numeric forms are checked as a calendar date (d/m/y, m/d/y or y-m-d);
 * forms with a month name only need a plausible day and year. */
red_verdict red_v_date(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    unsigned num[3] = {0}, len[3] = {0};
    size_t k = 0;
    bool has_alpha = false;
    for (size_t i = 0; i < n; i++) {
        if (red_is_digit(s[i])) {
            if (k < 3) {
                num[k] = num[k] * 10 + (unsigned)(s[i] - '0');
                len[k]++;
            }
        } else {
            if (isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
                has_alpha = true;
            if (k < 3 && len[k] > 0)
                k++;
        }
    }
    if (k < 3 && len[k] > 0)
        k++;
    if (has_alpha) {
        for (size_t i = 0; i < k; i++)
            if (len[i] > 2 && (num[i] < 1900 || num[i] > 2030))
                return RED_V_NO;
            else if (len[i] <= 2 && num[i] > 31)
                return RED_V_NO;
        return k >= 1 ? RED_V_YES : RED_V_NO;
    }
    if (k != 3)
        return RED_V_NO;
    if (len[0] == 4)
        return num[0] >= 1900 && num[0] <= 2030 && dm_ok(num[2], num[1]) ? RED_V_YES : RED_V_NO;
    unsigned y = num[2];
    if (len[2] == 2)
        y += 1900;
    else if (len[2] != 4 || y < 1900 || y > 2030)
        return RED_V_NO;
    return dm_ok(num[0], num[1]) || dm_ok(num[1], num[0]) ? RED_V_YES : RED_V_NO;
}

/* ---- field context ------------------------------------------------------- */

#define FIELD_NAME_MAX  64
#define FIELD_LOOK_BACK 8192 /* bytes searched for a header or an INSERT */
#define FIELD_MAX_LINES 100

static bool name_ends(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && memcmp(s + n - k, w, k) == 0;
}

static bool name_has(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    return n >= k && memmem(s, n, w, k) != NULL;
}

bool red_name_is_birth(const char *s, size_t n)
{
    static const char *const ends[] = {"dob",        "birth",     "birthdate",    "birthday",
                                       "bday",       "geburtsdatum", "gebdatum",  "gebdat",
                                       "geburtstag", "geboren",   "naissance",    "nacimiento",
                                       "fnac",       "fechanac",  "nascita",      "nascimento",
                                       "geboortedatum"};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
        if (name_ends(s, n, ends[i]))
            return true;
    return false;
}

bool red_name_is_phone(const char *s, size_t n)
{
    static const char *const has[] = {"phone",    "telef", "tel\xc3\xa9", "t\xc3\xa9l", "mobil",
                                      "m\xc3\xb3vil", "movil", "portable",  "handy",  "cell",
                                      "whatsapp", "fax",   "gsm",         "tfno",   "tlf"};
    if (n >= 3 && memcmp(s, "tel", 3) == 0)
        return true;
    for (size_t i = 0; i < sizeof(has) / sizeof(has[0]); i++)
        if (name_has(s, n, has[i]))
            return true;
    return false;
}

/* [s, e) trimmed and normalized into out; returns its length. */
static size_t norm_name(const char *t, size_t s, size_t e, char *out)
{
    size_t k = 0;
    for (size_t i = s; i < e && k < FIELD_NAME_MAX; i++) {
        unsigned char c = (unsigned char)t[i];
        if (strchr("_-. \t\"'`[]*", c) != NULL && c != '\0')
            continue;
        out[k++] = (char)tolower(c);
    }
    return k;
}

static bool name_ok(const char *t, size_t s, size_t e, red_name_fn is_name)
{
    char buf[FIELD_NAME_MAX];
    if (e <= s || e - s > 2 * FIELD_NAME_MAX)
        return false;
    size_t n = norm_name(t, s, e, buf);
    return n > 0 && is_name(buf, n);
}

/* key: value, "key": "value", key = value, key => value on the value's line. */
static bool key_is(const red_vctx *v, red_name_fn is_name)
{
    const char *t = v->text;
    size_t i = v->start;
    while (i > 0 && (t[i - 1] == '"' || t[i - 1] == '\'' || t[i - 1] == ' ' || t[i - 1] == '\t'))
        i--;
    if (i > 0 && t[i - 1] == '>' && i > 1 && t[i - 2] == '=')
        i--;
    if (i == 0 || (t[i - 1] != ':' && t[i - 1] != '='))
        return false;
    i--;
    while (i > 0 && (t[i - 1] == '"' || t[i - 1] == '\'' || t[i - 1] == ' '))
        i--;
    size_t e = i;
    while (i > 0 && (isalnum((unsigned char)t[i - 1]) || t[i - 1] == '_' || t[i - 1] == '-' ||
                     t[i - 1] == '.' || (unsigned char)t[i - 1] >= 0x80) &&
           e - i < 2 * FIELD_NAME_MAX)
        i--;
    return name_ok(t, i, e, is_name);
}

static size_t line_start(const char *t, size_t i)
{
    const char *nl = i > 0 ? memrchr(t, '\n', i) : NULL;
    return nl != NULL ? (size_t)(nl - t) + 1 : 0;
}

static size_t line_end(const char *t, size_t len, size_t i)
{
    const char *nl = i < len ? memchr(t + i, '\n', len - i) : NULL;
    return nl != NULL ? (size_t)(nl - t) : len;
}

/* Delimiters in [s, e) outside double quotes; *idx: those before `at`. */
static size_t count_delims(const char *t, size_t s, size_t e, char d, size_t at, size_t *idx)
{
    size_t n = 0;
    bool in_q = false;
    if (idx != NULL)
        *idx = 0;
    for (size_t i = s; i < e; i++) {
        if (t[i] == '"')
            in_q = !in_q;
        else if (t[i] == d && !in_q) {
            n++;
            if (idx != NULL && i < at)
                (*idx)++;
        }
    }
    return n;
}

/* The idx-th field of line [s, e) split at d. */
static bool field_of(const char *t, size_t s, size_t e, char d, size_t idx, size_t *fs, size_t *fe)
{
    size_t k = 0, b = s;
    bool in_q = false;
    for (size_t i = s; i <= e; i++) {
        if (i < e && t[i] == '"')
            in_q = !in_q;
        if (i == e || (t[i] == d && !in_q)) {
            if (k == idx) {
                *fs = b;
                *fe = i;
                return true;
            }
            k++;
            b = i + 1;
        }
    }
    return false;
}

static bool is_rule_line(const char *t, size_t s, size_t e)
{
    for (size_t i = s; i < e; i++)
        if (strchr("|-:+= \t", t[i]) == NULL)
            return false;
    return true;
}

/* The header of the value's column: the top line of the block of lines that
 * have as many delimiters as the value's line. */
static bool column_is(const red_vctx *v, red_name_fn is_name)
{
    const char *t = v->text;
    static const char delims[] = "\t;|,";
    /* the value is a whole field: only blanks and quotes around it (a
     * newline is none of them: a and b stay on the value's line) */
    size_t a = v->start, b = v->end;
    while (a > 0 && strchr(" \"'\r", t[a - 1]) != NULL)
        a--;
    while (b < v->len && strchr(" \"'\r", t[b]) != NULL)
        b++;
    bool is_first = a == 0 || t[a - 1] == '\n', is_last = b == v->len || t[b] == '\n';
    if (is_first && is_last)
        return false; /* alone on its line */
    /* a delimiter on each side that is not the line's edge, before any line scan */
    bool is_delim = false;
    for (const char *d = delims; *d != '\0' && !is_delim; d++)
        is_delim = (is_first || t[a - 1] == *d) && (is_last || t[b] == *d);
    if (!is_delim)
        return false;
    size_t ls = is_first ? a : line_start(t, a), le = is_last ? b : line_end(t, v->len, b);
    for (const char *d = delims; *d != '\0'; d++) {
        if ((a > ls && t[a - 1] != *d) || (b < le && t[b] != *d) || (a == ls && b == le))
            continue;
        size_t idx, n = count_delims(t, ls, le, *d, v->start, &idx);
        if (n == 0 || (*d == '|' && n < 2))
            continue;
        size_t top = ls, cur = ls, lines = 0;
        while (cur > 0 && lines < FIELD_MAX_LINES && v->start - cur < FIELD_LOOK_BACK) {
            size_t ps = line_start(t, cur - 1), pe = cur - 1;
            if (count_delims(t, ps, pe, *d, 0, NULL) != n)
                break;
            if (!is_rule_line(t, ps, pe))
                top = ps;
            cur = ps;
            lines++;
        }
        if (top == ls)
            continue;
        size_t fs, fe;
        if (field_of(t, top, line_end(t, v->len, top), *d, idx, &fs, &fe) &&
            name_ok(t, fs, fe, is_name))
            return true;
    }
    return false;
}

static bool word_at(const char *t, size_t len, size_t i, const char *w)
{
    size_t k = strlen(w);
    if (i + k > len || strncasecmp(t + i, w, k) != 0)
        return false;
    return (i == 0 || !isalnum((unsigned char)t[i - 1])) &&
           (i + k == len || !isalnum((unsigned char)t[i + k]));
}

/* INSERT INTO t (a, b, c) VALUES (.., .., ..), (..): the value's column name. */
static bool insert_is(const red_vctx *v, red_name_fn is_name)
{
    const char *t = v->text;
    /* a quoted or bare item of a tuple: ( or , before it */
    size_t a = v->start;
    while (a > 0 && strchr(" \t\"'", t[a - 1]) != NULL && v->start - a < 8)
        a--;
    if (a == 0 || (t[a - 1] != ',' && t[a - 1] != '('))
        return false;
    size_t lo = v->start > FIELD_LOOK_BACK ? v->start - FIELD_LOOK_BACK : 0, vals = SIZE_MAX;
    for (size_t i = v->start; i > lo + 6; i--)
        if (t[i - 1] == ';')
            return false; /* the statement ends before the value */
        else if ((t[i - 6] == 'v' || t[i - 6] == 'V') && word_at(t, v->len, i - 6, "values")) {
            vals = i - 6;
            break;
        }
    if (vals == SIZE_MAX)
        return false;
    /* the column list: (...) right before VALUES */
    size_t ce = vals;
    while (ce > 0 && isspace((unsigned char)t[ce - 1]))
        ce--;
    if (ce == 0 || t[ce - 1] != ')')
        return false;
    size_t cs = ce - 1;
    while (cs > 0 && t[cs - 1] != '(' && t[cs - 1] != ';' && ce - cs < 4096)
        cs--;
    if (cs == 0 || t[cs - 1] != '(')
        return false;
    /* the tuple the value is in, and its field index */
    size_t idx = 0, depth = 0;
    bool in_q = false;
    for (size_t i = vals + 6; i < v->start; i++) {
        char c = t[i];
        if (c == '\'' && !(in_q && i + 1 < v->len && t[i + 1] == '\'' && ++i))
            in_q = !in_q;
        else if (in_q)
            continue;
        else if (c == '(') {
            if (depth++ == 0)
                idx = 0;
        } else if (c == ')') {
            if (depth == 0)
                return false;
            depth--;
        } else if (c == ',' && depth == 1) {
            idx++;
        } else if (c == ';' && depth == 0) {
            return false;
        }
    }
    if (depth != 1)
        return false;
    size_t fs, fe;
    return field_of(t, cs, ce - 1, ',', idx, &fs, &fe) && name_ok(t, fs, fe, is_name);
}

bool red_field_is(const red_vctx *v, red_name_fn is_name)
{
    return key_is(v, is_name) || column_is(v, is_name) || insert_is(v, is_name);
}

/* A date filed under a birth key or column (date_of_birth, Geburtsdatum, dob, ...). */
red_verdict red_v_dob_field(red_vctx *v)
{
    if (red_v_date(v) == RED_V_NO)
        return RED_V_NO;
    return red_field_is(v, red_name_is_birth) ? RED_V_YES : RED_V_NO;
}
