/* Restoring pseudonyms in model output: every <TYPE_N> the session created
 * becomes its original value again. For streams, each numbered stream keeps
 * back a tail that may be the start of a placeholder ("<EMA") until the next
 * piece shows whether it is one, or until the stream's last piece. */
#include "redaction/red_internal.h"

#include <string.h>

static inline bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* At p (a '<'), parse <TYPE_N>; returns its length and the pseudonym, or 0. */
static size_t placeholder_at(const red_session *s, const char *p, size_t n, const red_pseudo **out)
{
    size_t i = 1;
    while (i < n && i < RED_HOLD_MAX && is_name_char(p[i]))
        i++;
    if (i >= n || p[i] != '>' || i < 4 || !(p[1] >= 'A' && p[1] <= 'Z'))
        return 0;
    size_t us = i - 1;
    while (us > 1 && p[us] >= '0' && p[us] <= '9')
        us--;
    if (p[us] != '_' || us == i - 1 || i - 1 - us > 9)
        return 0;
    uint32_t idx = 0;
    for (size_t k = us + 1; k < i; k++)
        idx = idx * 10 + (uint32_t)(p[k] - '0');
    const red_engine *eng = s->eng;
    for (size_t t = 0; t < eng->ntypes; t++) {
        const char *name = eng->type_names[t];
        if (strlen(name) == us - 1 && memcmp(name, p + 1, us - 1) == 0) {
            if (idx == 0 || idx > s->ntype[t])
                return 0;
            *out = s->by_type[t][idx - 1];
            return i + 1;
        }
    }
    return 0;
}

static int restore_all(const red_session *s, const char *text, size_t len, cm_buf *out)
{
    size_t pos = 0, i = 0;
    while (i < len) {
        const char *lt = memchr(text + i, '<', len - i);
        if (lt == NULL)
            break;
        i = (size_t)(lt - text);
        const red_pseudo *p = NULL;
        size_t n = placeholder_at(s, lt, len - i, &p);
        if (n == 0) {
            i++;
            continue;
        }
        int rc = cm_buf_append(out, text + pos, i - pos);
        if (rc == 0)
            rc = cm_buf_append(out, p->val, p->len);
        if (rc != 0)
            return rc;
        i += n;
        pos = i;
    }
    return cm_buf_append(out, text + pos, len - pos);
}

/* Start of a tail that could still grow into a placeholder, or len. */
static size_t holdback_from(const char *t, size_t len)
{
    size_t lim = len > RED_HOLD_MAX - 1 ? len - (RED_HOLD_MAX - 1) : 0;
    for (size_t i = len; i-- > lim;) {
        if (t[i] == '>')
            return len;
        if (t[i] == '<') {
            if (i + 1 < len && !(t[i + 1] >= 'A' && t[i + 1] <= 'Z'))
                return len;
            for (size_t k = i + 1; k < len; k++)
                if (!is_name_char(t[k]))
                    return len;
            return i;
        }
    }
    return len;
}

static red_hold *hold_get(red_session *s, int id)
{
    for (size_t i = 0; i < s->nholds; i++)
        if (s->holds[i].id == id)
            return &s->holds[i];
    if (s->nholds == s->capholds) {
        size_t cap = s->capholds ? s->capholds * 2 : 4;
        red_hold *h = cm_arena_alloc(s->a, cap * sizeof(*h));
        if (h == NULL)
            return NULL;
        if (s->nholds != 0)
            memcpy(h, s->holds, s->nholds * sizeof(*h));
        s->holds = h;
        s->capholds = cap;
    }
    red_hold *h = &s->holds[s->nholds++];
    h->id = id;
    h->len = 0;
    return h;
}

int red_restore(red_session *s, int stream, const char *text, size_t len, bool is_last, cm_buf *out)
{
    if (stream < 0)
        return restore_all(s, text, len, out);
    red_hold *h = hold_get(s, stream);
    if (h == NULL)
        return CM_ETOOBIG;
    const char *t = text;
    size_t n = len;
    cm_buf join;
    cm_buf_init(&join, 0);
    int rc = 0;
    if (h->len > 0) {
        rc = cm_buf_append(&join, h->buf, h->len);
        if (rc == 0)
            rc = cm_buf_append(&join, text, len);
        if (rc != 0)
            goto out;
        t = join.data;
        n = join.len;
        cm_wipe(h->buf, h->len);
        h->len = 0;
    }
    size_t cut = is_last ? n : holdback_from(t, n);
    rc = restore_all(s, t, cut, out);
    if (rc == 0 && cut < n) {
        memcpy(h->buf, t + cut, n - cut);
        h->len = n - cut;
    }
out:
    cm_buf_fini(&join);
    return rc;
}
