/* Rule file parser: turns rules/NAME.rules (format in rules/README.md) into
 * red_rule entries of an engine under construction. It checks the shape of
 * every rule and reports "file:line: rule \"id\": message"; red_engine.c then
 * compiles the patterns and runs nothing else. */
#include "redaction/red_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define RULE_FILE_MAX (4u << 20)

typedef struct parser {
    red_engine *eng;
    const char *path;
    cm_errlist *errs;
    red_rule *cur;     /* rule being filled, NULL before the first section */
    red_trigger *trig; /* trigger section being filled */
    bool is_skipping;  /* inside a section that was rejected */
    char **last_value; /* target of a continuation line */
    int nerr;
} parser;

static void perr(parser *p, unsigned line, const char *fmt, const char *a)
{
    p->nerr++;
    if (p->cur != NULL)
        cm_errlist_add(p->errs, "%s:%u: rule \"%s\": %s%s", p->path, line, p->cur->id, fmt, a);
    else
        cm_errlist_add(p->errs, "%s:%u: %s%s", p->path, line, fmt, a);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int red_type_intern(red_engine *eng, const char *name, size_t len)
{
    for (size_t i = 0; i < eng->ntypes; i++)
        if (strlen(eng->type_names[i]) == len && memcmp(eng->type_names[i], name, len) == 0)
            return (int)i;
    if (eng->ntypes == RED_MAX_TYPES)
        return CM_ETOOBIG;
    char *copy = cm_xmalloc(len + 1);
    memcpy(copy, name, len);
    copy[len] = '\0';
    eng->type_names[eng->ntypes] = copy;
    eng->types[eng->ntypes].name = copy;
    eng->types[eng->ntypes].action = RED_ACT_MASK;
    return (int)eng->ntypes++;
}

static int action_parse(const char *s)
{
    static const char *const names[RED_NACTIONS] = {"none", "pseudonymize", "hash", "mask",
                                                    "block"};
    for (int i = 0; i < RED_NACTIONS; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static bool is_ident(const char *s, bool upper)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (upper ? !(isupper(c) || isdigit(c) || c == '_')
                  : !(islower(c) || isdigit(c) || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* "a, b c, d" -> lowercased words; a word may contain spaces. */
static void words_parse(red_words *ws, const char *s)
{
    const char *p = s;
    while (*p != '\0') {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n > 0 && ws->n < RED_MAX_CTX_WORDS) {
            ws->w = cm_xrealloc(ws->w, (ws->n + 1) * sizeof(*ws->w));
            ws->wlen = cm_xrealloc(ws->wlen, (ws->n + 1) * sizeof(*ws->wlen));
            char *w = cm_xmalloc(n + 1);
            for (size_t i = 0; i < n; i++)
                w[i] = (char)tolower((unsigned char)p[i]);
            w[n] = '\0';
            ws->w[ws->n] = w;
            ws->wlen[ws->n++] = n;
        }
        if (q == NULL)
            break;
        p = q + 1;
    }
    /* grouped by first byte (stable: a counting sort) */
    char **w = cm_xcalloc(ws->n + 1, sizeof(*w));
    size_t *wl = cm_xcalloc(ws->n + 1, sizeof(*wl));
    unsigned at[257] = {0};
    for (size_t i = 0; i < ws->n; i++)
        at[(unsigned char)ws->w[i][0] + 1]++;
    for (unsigned c = 0; c < 256; c++)
        at[c + 1] += at[c];
    for (unsigned c = 0; c <= 256; c++)
        ws->from[c] = (uint8_t)at[c];
    for (size_t i = 0; i < ws->n; i++) {
        unsigned k = at[(unsigned char)ws->w[i][0]]++;
        w[k] = ws->w[i];
        wl[k] = ws->wlen[i];
    }
    free(ws->w);
    free(ws->wlen);
    ws->w = w;
    ws->wlen = wl;
}

static bool num_parse(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Example text: \n \t \\ escapes, then the first [[...]] marks the expected span. */
static void example_add(parser *p, unsigned line, const char *val, bool is_positive)
{
    red_rule *r = p->cur;
    size_t n = strlen(val);
    char *t = cm_xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (val[i] == '\\' && i + 1 < n) {
            char c = val[i + 1];
            if (c == 'n' || c == 't' || c == '\\') {
                t[o++] = c == 'n' ? '\n' : c == 't' ? '\t' : '\\';
                i++;
                continue;
            }
        }
        t[o++] = val[i];
    }
    t[o] = '\0';
    red_example ex = {.text = t,
                      .span_start = SIZE_MAX,
                      .span_end = SIZE_MAX,
                      .line = line,
                      .is_positive = is_positive};
    char *a = strstr(t, "[[");
    char *b = a ? strstr(a + 2, "]]") : NULL;
    if (a != NULL && b != NULL) {
        size_t s = (size_t)(a - t), len = (size_t)(b - a - 2);
        memmove(a, a + 2, strlen(a + 2) + 1);
        b -= 2;
        memmove(b, b + 2, strlen(b + 2) + 1);
        ex.span_start = s;
        ex.span_end = s + len;
    }
    r->ex = cm_xrealloc(r->ex, (r->nex + 1) * sizeof(*r->ex));
    r->ex[r->nex++] = ex;
}

static void rule_finish(parser *p)
{
    red_rule *r = p->cur;
    if (p->trig != NULL && p->trig->hs_pattern == NULL)
        perr(p, p->trig->line, "trigger without \"hs\": ", p->trig->name);
    if (r == NULL)
        return;
    if (r->context_raw != NULL)
        words_parse(&r->context, r->context_raw);
    if (r->deny_raw != NULL)
        words_parse(&r->deny, r->deny_raw);
    free(r->context_raw);
    free(r->deny_raw);
    r->context_raw = r->deny_raw = NULL;
    if (r->pattern == NULL)
        perr(p, r->line, "missing \"pattern\"", "");
    if (r->type == UINT32_MAX)
        perr(p, r->line, "missing \"type\"", "");
    bool has_pos = false, has_neg = false;
    for (size_t i = 0; i < r->nex; i++) {
        has_pos |= r->ex[i].is_positive;
        has_neg |= !r->ex[i].is_positive;
    }
    if (!has_pos || !has_neg)
        perr(p, r->line, "needs at least one \"pos\" and one \"neg\" example", "");
    if (r->is_context_required && r->context.n == 0)
        perr(p, r->line, "context_required without context words", "");
}

static void trigger_start(parser *p, unsigned line, const char *name)
{
    red_engine *eng = p->eng;
    if (!is_ident(name, false)) {
        perr(p, line, "bad trigger name (use a-z 0-9 _ -): ", name);
        return;
    }
    for (size_t i = 0; i < eng->ntriggers; i++)
        if (strcmp(eng->triggers[i].name, name) == 0) {
            perr(p, line, "trigger already defined: ", name);
            return;
        }
    if (eng->ntriggers == RED_MAX_TRIGGERS) {
        perr(p, line, "too many triggers", "");
        return;
    }
    red_trigger *t = &eng->triggers[eng->ntriggers++];
    memset(t, 0, sizeof(*t));
    t->name = cm_xstrdup(name);
    t->file = p->path;
    t->line = line;
    p->trig = t;
    p->is_skipping = false;
}

/* "[0-9A-Z .()-]": the bytes a trigger's region may extend over. */
static bool class_parse(const char *v, bool set[256])
{
    size_t n = strlen(v);
    if (n < 3 || v[0] != '[' || v[n - 1] != ']')
        return false;
    memset(set, 0, 256 * sizeof(*set));
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char a = (unsigned char)v[i];
        if (a == '\\' && i + 4 < n && v[i + 1] == 'x') {
            a = (unsigned char)strtoul((const char[]){v[i + 2], v[i + 3], '\0'}, NULL, 16);
            i += 3;
        } else if (a == '\\' && i + 2 < n) {
            a = (unsigned char)v[++i];
        }
        if (i + 2 < n - 1 && v[i + 1] == '-') {
            unsigned char b = (unsigned char)v[i + 2];
            size_t skip = 2;
            if (b == '\\' && i + 5 < n && v[i + 3] == 'x') {
                b = (unsigned char)strtoul((const char[]){v[i + 4], v[i + 5], '\0'}, NULL, 16);
                skip = 5;
            }
            if (b < a)
                return false;
            for (unsigned c = a; c <= b; c++)
                set[c] = true;
            i += skip;
        } else {
            set[a] = true;
        }
    }
    return true;
}

static void trigger_key(parser *p, unsigned line, const char *k, const char *v)
{
    red_trigger *t = p->trig;
    if (strcmp(k, "hs") == 0) {
        free(t->hs_pattern);
        t->hs_pattern = cm_xstrdup(v);
        p->last_value = &t->hs_pattern;
    } else if (strcmp(k, "extend") == 0) {
        if (!class_parse(v, t->extend))
            perr(p, line, "extend must be a byte class like [0-9 .-]: ", v);
    } else if (strcmp(k, "margin") == 0) {
        long m;
        if (!num_parse(v, 0, 16, &m))
            perr(p, line, "margin must be 0..16: ", v);
        else
            t->margin = (unsigned)m;
    } else if (strcmp(k, "flags") == 0) {
        if (strcmp(v, "caseless") == 0)
            t->flags = RED_F_CASELESS;
        else
            perr(p, line, "trigger flags: caseless only: ", v);
    } else {
        perr(p, line, "unknown trigger key: ", k);
    }
}

static void section_start(parser *p, unsigned line, char *s)
{
    rule_finish(p);
    p->cur = NULL;
    p->last_value = NULL;
    p->is_skipping = true;
    size_t n = strlen(s);
    if (n < 3 || s[n - 1] != ']') {
        perr(p, line, "malformed section header, expected [rule-id]", "");
        return;
    }
    s[n - 1] = '\0';
    char *id = trim(s + 1);
    p->trig = NULL;
    if (strncmp(id, "trigger:", 8) == 0) {
        trigger_start(p, line, id + 8);
        return;
    }
    if (!is_ident(id, false)) {
        perr(p, line, "bad rule id (use a-z 0-9 _ -): ", id);
        return;
    }
    red_engine *eng = p->eng;
    for (size_t i = 0; i < eng->nrules; i++)
        if (strcmp(eng->rules[i].id, id) == 0) {
            cm_errlist_add(p->errs, "%s:%u: rule \"%s\" already defined at %s:%u", p->path, line,
                           id, eng->rules[i].file, eng->rules[i].line);
            p->nerr++;
            return;
        }
    if (eng->nrules == RED_MAX_RULES) {
        perr(p, line, "too many rules", "");
        return;
    }
    eng->rules = cm_xrealloc(eng->rules, (eng->nrules + 1) * sizeof(*eng->rules));
    red_rule *r = &eng->rules[eng->nrules++];
    memset(r, 0, sizeof(*r));
    r->id = cm_xstrdup(id);
    r->file = p->path;
    r->line = line;
    r->type = UINT32_MAX;
    r->priority = 50;
    r->context.before = 48;
    r->context.after = 16;
    r->deny.before = 24;
    r->deny.after = 0;
    r->trigger = -1;
    p->cur = r;
    p->is_skipping = false;
}

static void set_str(parser *p, char **dst, const char *v)
{
    free(*dst);
    *dst = cm_xstrdup(v);
    p->last_value = dst;
}

static void key_value(parser *p, unsigned line, const char *k, const char *v)
{
    red_rule *r = p->cur;
    long num;
    p->last_value = NULL;
    if (strcmp(k, "type") == 0) {
        int t = is_ident(v, true) && strlen(v) < RED_MAX_TYPE_NAME
                    ? red_type_intern(p->eng, v, strlen(v))
                    : CM_EINVAL;
        if (t < 0)
            perr(p, line, "bad type (use A-Z 0-9 _, at most 31): ", v);
        else
            r->type = (unsigned)t;
    } else if (strcmp(k, "action") == 0) {
        int a = action_parse(v);
        if (a < 0) {
            perr(p, line, "bad action (none, pseudonymize, hash, mask, block): ", v);
        } else if (r->type == UINT32_MAX) {
            perr(p, line, "\"action\" must follow \"type\"", "");
        } else if (p->eng->is_action_given[r->type] &&
                   p->eng->types[r->type].action != (red_action)a) {
            perr(p, line, "conflicts with the action given earlier for type ",
                 p->eng->type_names[r->type]);
        } else {
            p->eng->is_action_given[r->type] = true;
            p->eng->types[r->type].action = (red_action)a;
        }
    } else if (strcmp(k, "priority") == 0) {
        if (!num_parse(v, 0, 1000, &num))
            perr(p, line, "priority must be 0..1000: ", v);
        else
            r->priority = (int)num;
    } else if (strcmp(k, "pattern") == 0) {
        set_str(p, &r->pattern, v);
    } else if (strcmp(k, "hs") == 0) {
        set_str(p, &r->hs_pattern, v);
    } else if (strcmp(k, "flags") == 0) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", v);
        for (char *save = NULL, *w = strtok_r(buf, " ,", &save); w != NULL;
             w = strtok_r(NULL, " ,", &save)) {
            if (strcmp(w, "caseless") == 0)
                r->flags |= RED_F_CASELESS;
            else if (strcmp(w, "dotall") == 0)
                r->flags |= RED_F_DOTALL;
            else if (strcmp(w, "multiline") == 0)
                r->flags |= RED_F_MULTILINE;
            else
                perr(p, line, "unknown flag (caseless, dotall, multiline): ", w);
        }
    } else if (strcmp(k, "group") == 0) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", v);
        r->ngroups = 0;
        for (char *save = NULL, *w = strtok_r(buf, " ,", &save); w != NULL;
             w = strtok_r(NULL, " ,", &save)) {
            if (r->ngroups == RED_MAX_GROUPS || !num_parse(w, 0, 32, &num)) {
                perr(p, line, "group: up to 4 numbers 0..32: ", v);
                break;
            }
            r->groups[r->ngroups++] = (int)num;
        }
    } else if (strcmp(k, "validator") == 0) {
        r->validator = red_validator_find(v);
        if (r->validator == NULL)
            perr(p, line, "unknown validator: ", v);
    } else if (strcmp(k, "min_entropy") == 0) {
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end != '\0' || d < 0 || d > 8)
            perr(p, line, "min_entropy must be 0..8 bits per byte: ", v);
        else
            r->min_entropy = d;
    } else if (strcmp(k, "context") == 0 || strcmp(k, "deny") == 0) {
        set_str(p, k[0] == 'c' ? &r->context_raw : &r->deny_raw, v);
    } else if (strcmp(k, "context_window") == 0 || strcmp(k, "context_after") == 0 ||
               strcmp(k, "deny_window") == 0 || strcmp(k, "deny_after") == 0) {
        red_words *ws = k[0] == 'c' ? &r->context : &r->deny;
        if (!num_parse(v, 0, 1024, &num))
            perr(p, line, "window must be 0..1024 bytes: ", v);
        else if (strstr(k, "after") != NULL)
            ws->after = (unsigned)num;
        else
            ws->before = (unsigned)num;
    } else if (strcmp(k, "context_required") == 0) {
        if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
            perr(p, line, "context_required is yes or no: ", v);
        r->is_context_required = strcmp(v, "yes") == 0;
    } else if (strcmp(k, "span_class") == 0) {
        if (!class_parse(v, r->span_class))
            perr(p, line, "span_class must be a byte class like [0-9 .-]: ", v);
        r->has_span_class = true;
    } else if (strcmp(k, "trigger") == 0) {
        set_str(p, &r->trigger_name, v);
    } else if (strcmp(k, "max_len") == 0) {
        if (!num_parse(v, 1, RED_MAX_WINDOW, &num))
            perr(p, line, "max_len must be 1..16384: ", v);
        else
            r->max_len = (size_t)num;
    } else if (strcmp(k, "pos") == 0 || strcmp(k, "neg") == 0) {
        example_add(p, line, v, k[0] == 'p');
    } else {
        perr(p, line, "unknown key: ", k);
    }
}

int red_rules_parse_file(red_engine *eng, const char *path, cm_errlist *errs)
{
    char *data = NULL;
    size_t len = 0;
    cm_err err;
    int rc = cm_file_read(path, RULE_FILE_MAX, &data, &len, &err);
    if (rc != 0) {
        cm_errlist_add(errs, "%s", err.msg);
        return rc;
    }
    parser p = {.eng = eng, .path = path, .errs = errs};
    unsigned line = 0;
    char *save = NULL;
    for (char *s = data; s != NULL; s = save) {
        char *nl = memchr(s, '\n', len - (size_t)(s - data));
        if (nl != NULL) {
            *nl = '\0';
            save = nl + 1;
        } else {
            save = NULL;
        }
        line++;
        if (s[0] == '#')
            continue;
        bool is_cont = s[0] == ' ' || s[0] == '\t';
        char *t = trim(s);
        if (*t == '\0' || *t == '#')
            continue;
        if (is_cont) {
            if (p.is_skipping)
                continue;
            if (p.last_value == NULL || *p.last_value == NULL) {
                perr(&p, line, "continuation line without a pattern before it", "");
                continue;
            }
            size_t a = strlen(*p.last_value), b = strlen(t);
            *p.last_value = cm_xrealloc(*p.last_value, a + b + 1);
            memcpy(*p.last_value + a, t, b + 1);
            continue;
        }
        if (*t == '[') {
            section_start(&p, line, t);
            continue;
        }
        char *eq = strchr(t, '=');
        if (eq == NULL) {
            perr(&p, line, "expected key = value", "");
            continue;
        }
        *eq = '\0';
        char *k = trim(t), *v = trim(eq + 1);
        if (p.trig != NULL) {
            trigger_key(&p, line, k, v);
            continue;
        }
        if (p.cur == NULL && p.is_skipping)
            continue;
        if (p.cur == NULL) {
            perr(&p, line, "key before the first [rule-id] section: ", k);
            continue;
        }
        key_value(&p, line, k, v);
    }
    rule_finish(&p);
    cm_wipe(data, len);
    free(data);
    return p.nerr ? CM_EINVAL : 0;
}
