/* mock_directive.c: failure-injection directives, "key=value;key=value".
 * Sources, weakest first: per-run config (mock_record.c), the X-Mock request header, and
 * "[[mock:...]]" inside the last user message (mock_openai.c). A later source overrides only
 * the keys it names. Values of content= may use %XX escapes so they can hold ';' or ']'.
 */
#include "mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mock_dir_init(mock_directives *d)
{
    d->status = MOCK_UNSET;
    d->retry_after = MOCK_UNSET;
    d->delay_ms = MOCK_UNSET;
    d->gap_ms = MOCK_UNSET;
    d->events = MOCK_UNSET;
    d->stall = MOCK_UNSET;
    d->drop = MOCK_UNSET;
    d->malformed = MOCK_UNSET;
    d->content = NULL;
}

void mock_dir_fini(mock_directives *d)
{
    free(d->content);
    d->content = NULL;
}

void mock_dir_merge(mock_directives *dst, const mock_directives *src)
{
    if (src->status != MOCK_UNSET)
        dst->status = src->status;
    if (src->retry_after != MOCK_UNSET)
        dst->retry_after = src->retry_after;
    if (src->delay_ms != MOCK_UNSET)
        dst->delay_ms = src->delay_ms;
    if (src->gap_ms != MOCK_UNSET)
        dst->gap_ms = src->gap_ms;
    if (src->events != MOCK_UNSET)
        dst->events = src->events;
    if (src->stall != MOCK_UNSET)
        dst->stall = src->stall;
    if (src->drop != MOCK_UNSET)
        dst->drop = src->drop;
    if (src->malformed != MOCK_UNSET)
        dst->malformed = src->malformed;
    if (src->content != NULL) {
        free(dst->content);
        dst->content = mock_xstrndup(src->content, strlen(src->content));
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *pct_decode(const char *s, size_t n)
{
    char *tmp = mock_xmalloc(n + 1);
    size_t o = 0;
    char *out;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            tmp[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            tmp[o++] = s[i];
        }
    }
    out = mock_utf8_sanitize(tmp, o, NULL);
    free(tmp);
    return out;
}

static bool parse_long(const char *s, size_t n, long lo, long hi, long *out)
{
    char tmp[32];
    char *end;
    long v;

    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    v = strtol(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncmp(s, w, n) == 0;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* Applies one key=value; returns false if the key or value is not understood. */
static bool apply_one(mock_directives *d, const char *k, size_t kn, const char *v, size_t vn)
{
    long x;

    if (word_is(k, kn, "content")) {
        free(d->content);
        d->content = pct_decode(v, vn);
        return true;
    }
    if (word_is(k, kn, "status")) {
        if (!parse_long(v, vn, 200, 599, &x))
            return false;
        d->status = (int)x;
    } else if (word_is(k, kn, "retry_after")) {
        if (!parse_long(v, vn, 0, 86400, &x))
            return false;
        d->retry_after = (int)x;
    } else if (word_is(k, kn, "delay_ms")) {
        if (!parse_long(v, vn, 0, 3600000, &x))
            return false;
        d->delay_ms = x;
    } else if (word_is(k, kn, "gap_ms")) {
        if (!parse_long(v, vn, 0, 3600000, &x))
            return false;
        d->gap_ms = x;
    } else if (word_is(k, kn, "events")) {
        if (!parse_long(v, vn, 0, 100000, &x))
            return false;
        d->events = (int)x;
    } else if (word_is(k, kn, "malformed")) {
        if (!parse_long(v, vn, 0, 1, &x))
            return false;
        d->malformed = (int)x;
    } else if (word_is(k, kn, "stall")) {
        if (word_is(v, vn, "headers"))
            d->stall = MOCK_STALL_HEADERS;
        else if (word_is(v, vn, "body"))
            d->stall = MOCK_STALL_BODY;
        else if (word_is(v, vn, "none") || word_is(v, vn, "0"))
            d->stall = MOCK_STALL_NONE;
        else
            return false;
    } else if (word_is(k, kn, "drop")) {
        if (word_is(v, vn, "before"))
            d->drop = MOCK_DROP_BEFORE;
        else if (word_is(v, vn, "mid"))
            d->drop = MOCK_DROP_MID;
        else if (word_is(v, vn, "none") || word_is(v, vn, "0"))
            d->drop = MOCK_DROP_NONE;
        else
            return false;
    } else {
        return false;
    }
    return true;
}

int mock_dir_parse(const char *s, size_t n, mock_directives *d, char *err, size_t errlen)
{
    int bad = 0;
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ';')
            j++;
        const char *item = s + i;
        size_t len = j - i;
        trim(&item, &len);
        if (len > 0) {
            const char *eq = memchr(item, '=', len);
            const char *k = item, *v = "";
            size_t kn = len, vn = 0;
            if (eq != NULL) {
                kn = (size_t)(eq - item);
                v = eq + 1;
                vn = len - kn - 1;
            }
            trim(&k, &kn);
            trim(&v, &vn);
            if (eq == NULL || !apply_one(d, k, kn, v, vn)) {
                if (bad == 0 && err != NULL)
                    snprintf(err, errlen, "bad directive \"%.*s\"", (int)(len > 80 ? 80 : len),
                             item);
                bad++;
            }
        }
        i = j + 1;
    }
    return bad;
}

void mock_dir_from_text(const char *text, size_t n, mock_directives *d)
{
    static const char open[] = "[[mock:";
    const size_t olen = sizeof open - 1;

    for (size_t i = 0; i + olen <= n; i++) {
        if (memcmp(text + i, open, olen) != 0)
            continue;
        size_t start = i + olen;
        for (size_t j = start; j + 1 < n; j++) {
            if (text[j] == ']' && text[j + 1] == ']') {
                mock_dir_parse(text + start, j - start, d, NULL, 0);
                return;
            }
        }
        return;
    }
}
