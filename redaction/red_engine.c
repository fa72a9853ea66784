/* Engine life cycle: read every rules/NAME.rules (red_rules.c), compile each
 * rule's PCRE2 confirmation (JIT, offset limit) and one Hyperscan block
 * database without start-of-match over all rules (red_scan.c finds starts),
 * and hand out per-thread workers cloned from one prototype scratch. */
#include "redaction/red_internal.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void words_free(red_words *ws)
{
    for (size_t i = 0; i < ws->n; i++)
        free(ws->w[i]);
    free(ws->w);
    free(ws->wlen);
}

void red_engine_free(red_engine *eng)
{
    if (eng == NULL)
        return;
    for (size_t i = 0; i < eng->nrules; i++) {
        red_rule *r = &eng->rules[i];
        free(r->id);
        free(r->pattern);
        free(r->hs_pattern);
        free(r->hs_derived);
        words_free(&r->context);
        words_free(&r->deny);
        for (size_t j = 0; j < r->nex; j++)
            free(r->ex[j].text);
        free(r->ex);
        pcre2_code_free(r->re);
        free(r->trigger_name);
    }
    free(eng->rules);
    for (size_t i = 0; i < eng->ntriggers; i++) {
        red_trigger *t = &eng->triggers[i];
        free(t->name);
        free(t->hs_pattern);
        hs_free_scratch(t->proto);
        hs_free_database(t->db);
        hs_free_database(t->probe);
    }
    for (size_t i = 0; i < eng->ntypes; i++)
        free(eng->type_names[i]);
    for (size_t i = 0; i < eng->nfiles; i++)
        free(eng->files[i]);
    free(eng->files);
    hs_free_scratch(eng->proto);
    hs_free_database(eng->db);
    free(eng);
}

const red_type *red_engine_types(const red_engine *eng, size_t *n)
{
    *n = eng->ntypes;
    return eng->types;
}

static unsigned hs_flags(const red_rule *r)
{
    unsigned f = 0;
    if (r->flags & RED_F_CASELESS)
        f |= HS_FLAG_CASELESS;
    if (r->flags & RED_F_DOTALL)
        f |= HS_FLAG_DOTALL;
    if (r->flags & RED_F_MULTILINE)
        f |= HS_FLAG_MULTILINE;
    return f;
}

static void rerr(cm_errlist *errs, const red_rule *r, const char *what, const char *msg)
{
    cm_errlist_add(errs, "%s:%u: rule \"%s\": %s%s", r->file, r->line, r->id, what, msg);
}

/* Without UTF mode a character class matches one byte, so "[ñn]" would
 * never match "ñ": such classes are refused (write (?:ñ|n) or \xNN ranges). */
static bool has_utf8_in_class(const char *p)
{
    bool is_in = false;
    for (; *p != '\0'; p++) {
        if (*p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (!is_in && *p == '[') {
            is_in = true;
            if (p[1] == '^')
                p++;
            if (p[1] == ']')
                p++;
        } else if (is_in && *p == ']') {
            is_in = false;
        } else if (is_in && (unsigned char)*p >= 0x80) {
            return true;
        }
    }
    return false;
}

/* PCRE2 side: exact pattern, JIT, groups in range. */
static int compile_pcre(red_engine *eng, red_rule *r, cm_errlist *errs)
{
    uint32_t opts = PCRE2_USE_OFFSET_LIMIT;
    if (r->flags & RED_F_CASELESS)
        opts |= PCRE2_CASELESS;
    if (r->flags & RED_F_DOTALL)
        opts |= PCRE2_DOTALL;
    if (r->flags & RED_F_MULTILINE)
        opts |= PCRE2_MULTILINE;
    int ec;
    PCRE2_SIZE eo;
    if (has_utf8_in_class(r->pattern) || (r->hs_pattern && has_utf8_in_class(r->hs_pattern))) {
        rerr(errs, r, "non-ASCII character inside [...] matches a single byte; use (?:a|b)", "");
        return CM_EINVAL;
    }
    r->re = pcre2_compile((PCRE2_SPTR)r->pattern, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    if (r->re == NULL) {
        char msg[160], where[48];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof(msg));
        snprintf(where, sizeof(where), "PCRE2 error at offset %zu: ", (size_t)eo);
        rerr(errs, r, where, msg);
        return CM_EINVAL;
    }
    int jrc = pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
    if (jrc != 0) {
        char msg[160];
        pcre2_get_error_message(jrc, (PCRE2_UCHAR *)msg, sizeof(msg));
        rerr(errs, r, "PCRE2 JIT: ", msg);
        return CM_EINVAL;
    }
    r->is_run_start = red_starts_runs(r);
    uint32_t ncap = 0;
    pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &ncap);
    if (ncap > eng->max_groups)
        eng->max_groups = ncap;
    if (r->ngroups == 0)
        r->groups[r->ngroups++] = 0;
    for (int i = 0; i < r->ngroups; i++)
        if ((uint32_t)r->groups[i] > ncap) {
            rerr(errs, r, "group number above the pattern's capture count", "");
            return CM_EINVAL;
        }
    return 0;
}

/* Top-level items of an expression, for derive_tail: atoms, groups, quantifiers. */
enum { IT_ATOM, IT_WORDB, IT_LOOKAHEAD, IT_GROUP, IT_QUANT };
typedef struct item {
    size_t start, end;
    int kind;
} item;

/* Length of the escape at x (x[0] == '\\'). */
static size_t escape_len(const char *x)
{
    if (x[1] == '\0')
        return 1;
    if ((x[1] == 'x' || x[1] == 'p' || x[1] == 'P') && x[2] == '{') {
        const char *c = strchr(x + 2, '}');
        return c ? (size_t)(c - x) + 1 : strlen(x);
    }
    if (x[1] == 'x') {
        size_t k = 2;
        while (k < 4 &&
               ((x[k] >= '0' && x[k] <= '9') || ((x[k] | 32) >= 'a' && (x[k] | 32) <= 'f')))
            k++;
        return k;
    }
    return 2;
}

/* Split x into top-level items; false when it is too complex to tell. */
static bool split_items(const char *x, item *it, size_t cap, size_t *n)
{
    size_t depth = 0, open = 0, k = 0;
    for (size_t i = 0; x[i] != '\0';) {
        size_t at = i;
        int kind = IT_ATOM;
        if (x[i] == '\\') {
            kind = x[i + 1] == 'b' ? IT_WORDB : IT_ATOM;
            i += escape_len(x + i);
        } else if (x[i] == '[') {
            i++;
            if (x[i] == '^')
                i++;
            if (x[i] == ']')
                i++;
            while (x[i] != '\0' && x[i] != ']') {
                if (x[i] == '[' && x[i + 1] == ':') {
                    const char *c = strstr(x + i + 2, ":]");
                    if (c == NULL)
                        return false;
                    i = (size_t)(c - x) + 2;
                } else {
                    i += x[i] == '\\' ? escape_len(x + i) : 1;
                }
            }
            if (x[i] != ']')
                return false;
            i++;
        } else if (x[i] == '(') {
            if (depth++ == 0)
                open = i;
            i++;
            continue;
        } else if (x[i] == ')') {
            if (depth == 0)
                return false;
            i++;
            if (--depth > 0)
                continue;
            at = open;
            kind = (x[open + 1] == '?' && (x[open + 2] == '=' || x[open + 2] == '!')) ? IT_LOOKAHEAD
                                                                                      : IT_GROUP;
        } else if (x[i] == '{' || x[i] == '+' || x[i] == '*' || x[i] == '?') {
            kind = IT_QUANT;
            if (x[i] == '{') {
                const char *c = strchr(x + i, '}');
                if (c == NULL)
                    return false;
                i = (size_t)(c - x) + 1;
            } else {
                i++;
            }
            if (x[i] == '?' || x[i] == '+')
                i++; /* lazy or possessive */
        } else {
            i++;
        }
        if (depth > 0)
            continue;
        if (k == cap)
            return false;
        it[k++] = (item){at, i, kind};
    }
    *n = k;
    return depth == 0;
}

/* An expression that ends in a repeat (`[A-Za-z0-9_-]{20,300}`, `\\w{8,}`,
 * `x+`), maybe followed by `\\b` or a lookahead, reports every end of a long
 * run. Cut after the repeat's minimum (`{20}`): every match of the original
 * has a match of the result with the same start and an end inside it, so the
 * trigger contract holds with one report per start. NULL: no such tail. */
static char *derive_tail(const char *x)
{
    item it[256];
    size_t n = 0;
    /* quoting, verbs and extended mode parse differently: leave them alone */
    if (strstr(x, "\\Q") != NULL || strstr(x, "(*") != NULL)
        return NULL;
    for (const char *g = strstr(x, "(?"); g != NULL; g = strstr(g + 2, "(?"))
        for (const char *f = g + 2; (*f >= 'a' && *f <= 'z') || *f == '-' || *f == '^'; f++)
            if (*f == 'x')
                return NULL;
    if (!split_items(x, it, 256, &n))
        return NULL;
    while (n > 0 && (it[n - 1].kind == IT_WORDB || it[n - 1].kind == IT_LOOKAHEAD))
        n--;
    if (n < 2 || it[n - 1].kind != IT_QUANT || it[n - 2].kind == IT_QUANT ||
        it[n - 2].kind == IT_LOOKAHEAD || it[n - 2].kind == IT_WORDB)
        return NULL;
    const char *q = x + it[n - 1].start;
    size_t qlen = it[n - 1].end - it[n - 1].start;
    unsigned long lo = 0;
    if (q[qlen - 1] == '?' && qlen > 1 && q[0] != '?')
        return NULL; /* lazy: leave it */
    if (q[0] == '+') {
        lo = 1;
    } else if (q[0] == '{') {
        char *e = NULL;
        lo = strtoul(q + 1, &e, 10);
        if (e == q + 1 || *e != ',') /* {m} repeats nothing extra */
            return NULL;
        if (e[1] != '}') {
            char *e2 = NULL;
            unsigned long hi = strtoul(e + 1, &e2, 10);
            if (e2 == e + 1 || *e2 != '}' || hi < lo + 2)
                return NULL;
        }
    } else {
        return NULL; /* * and ? may repeat nothing */
    }
    if (lo == 0 || lo > 1000)
        return NULL;
    size_t keep = it[n - 1].start, need = keep + 16;
    char *out = cm_xmalloc(need);
    memcpy(out, x, keep);
    if (lo == 1)
        out[keep] = '\0';
    else
        snprintf(out + keep, need - keep, "{%lu}", lo);
    if (strcmp(out, x) == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Hyperscan side, one expression alone so the message names the rule. A
 * pattern Hyperscan cannot express falls back to HS_FLAG_PREFILTER (a
 * superset, confirmed by PCRE2); an explicit "hs" trigger must compile as is.
 * Then a cheaper trigger is derived from a repeated tail when possible. */
static int check_hs(red_rule *r, cm_errlist *errs)
{
    const char *expr = r->hs_pattern ? r->hs_pattern : r->pattern;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    unsigned flags = hs_flags(r);
    if (hs_expression_info(expr, flags, &info, &ce) != HS_SUCCESS) {
        if (r->hs_pattern != NULL) {
            rerr(errs, r, "Hyperscan (hs): ", ce->message);
            hs_free_compile_error(ce);
            return CM_EINVAL;
        }
        hs_free_compile_error(ce);
        ce = NULL;
        r->is_prefilter = true;
        if (hs_expression_info(expr, flags | HS_FLAG_PREFILTER, &info, &ce) != HS_SUCCESS) {
            rerr(errs, r, "Hyperscan (prefilter): ", ce->message);
            hs_free_compile_error(ce);
            return CM_EINVAL;
        }
    }
    r->is_hs_prefilter = r->is_prefilter;
    int rc = 0;
    bool is_len_given = r->max_len > 0;
    if (info->min_width == 0) {
        rerr(errs, r, "pattern can match the empty string", "");
        rc = CM_EINVAL;
    } else if (r->max_len == 0) {
        if (info->max_width == UINT_MAX || info->max_width > RED_MAX_WINDOW) {
            rerr(errs, r, "unbounded or longer than 16384 bytes: bound the repeats or set max_len",
                 "");
            rc = CM_EINVAL;
        } else {
            r->max_len = info->max_width;
        }
    }
    free(info);
    char *d = rc == 0 ? derive_tail(expr) : NULL;
    if (d == NULL)
        return rc;
    info = NULL;
    bool is_pf = false;
    if (hs_expression_info(d, flags, &info, &ce) != HS_SUCCESS) {
        hs_free_compile_error(ce);
        ce = NULL;
        is_pf = true;
        if (hs_expression_info(d, flags | HS_FLAG_PREFILTER, &info, &ce) != HS_SUCCESS) {
            hs_free_compile_error(ce);
            info = NULL;
        }
    }
    if (info != NULL && info->min_width > 0 && info->max_width != UINT_MAX &&
        info->max_width <= RED_MAX_WINDOW) {
        r->hs_derived = d;
        r->is_hs_prefilter = is_pf;
        if (!is_len_given)
            r->max_len = info->max_width; /* start..trigger end: a tighter window */
        d = NULL;
    }
    free(info);
    free(d);
    return rc;
}

/* The expression Hyperscan scans for a rule. */
static const char *hs_expr(const red_rule *r)
{
    return r->hs_derived ? r->hs_derived : r->hs_pattern ? r->hs_pattern : r->pattern;
}

/* Rules of a trigger (which < ntriggers) or of the main database (which < 0). */
static int compile_db(red_engine *eng, int which, hs_database_t **db, hs_scratch_t **proto,
                      cm_errlist *errs)
{
    size_t cap = eng->nrules;
    const char **exprs = cm_xcalloc(cap, sizeof(*exprs));
    unsigned *flags = cm_xcalloc(cap, sizeof(*flags));
    unsigned *ids = cm_xcalloc(cap, sizeof(*ids));
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < eng->nrules; i++) {
        red_rule *r = &eng->rules[i];
        if (r->trigger != which || r->is_shared || (int)i == eng->dots_rule ||
            (int)i == eng->date_rule || red_marks_has(eng, i))
            continue;
        exprs[n] = hs_expr(r);
        flags[n] = hs_flags(r) | (r->is_hs_prefilter ? HS_FLAG_PREFILTER : 0);
        ids[n++] = (unsigned)i;
    }
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, db, &ce) !=
        HS_SUCCESS) {
        unsigned id =
            ce->expression >= 0 && (size_t)ce->expression < n ? ids[ce->expression] : UINT32_MAX;
        if (id < eng->nrules)
            rerr(errs, &eng->rules[id], "Hyperscan: ", ce->message);
        else
            cm_errlist_add(errs, "Hyperscan: %s", ce->message);
        hs_free_compile_error(ce);
        rc = CM_EINVAL;
    } else if (hs_alloc_scratch(*db, proto) != HS_SUCCESS) {
        cm_errlist_add(errs, "Hyperscan: cannot allocate scratch");
        rc = CM_EINTERNAL;
    }
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

/* Each rule names its trigger; every trigger serves at least one rule. */
static int resolve_triggers(red_engine *eng, cm_errlist *errs)
{
    int rc = 0;
    size_t used[RED_MAX_TRIGGERS] = {0};
    for (size_t i = 0; i < eng->nrules; i++) {
        red_rule *r = &eng->rules[i];
        r->trigger = -1;
        if (r->trigger_name == NULL)
            continue;
        for (size_t t = 0; t < eng->ntriggers; t++)
            if (strcmp(eng->triggers[t].name, r->trigger_name) == 0)
                r->trigger = (int)t;
        if (r->trigger < 0) {
            rerr(errs, r, "unknown trigger: ", r->trigger_name);
            rc = CM_EINVAL;
        } else {
            used[r->trigger]++;
        }
    }
    for (size_t t = 0; t < eng->ntriggers; t++)
        if (used[t] == 0) {
            cm_errlist_add(errs, "%s:%u: trigger \"%s\" is used by no rule", eng->triggers[t].file,
                           eng->triggers[t].line, eng->triggers[t].name);
            rc = CM_EINVAL;
        }
    return rc;
}

/* Rules of one database with the same expression and flags share one
 * Hyperscan id: the scan pays for it once and its hits go to all of them. */
static void share_expressions(red_engine *eng)
{
    for (size_t i = 0; i < eng->nrules; i++) {
        red_rule *r = &eng->rules[i];
        r->same_next = -1;
        r->is_shared = false;
        for (size_t j = 0; j < i; j++) {
            red_rule *q = &eng->rules[j];
            if (q->is_shared || q->trigger != r->trigger || q->flags != r->flags ||
                q->is_hs_prefilter != r->is_hs_prefilter || strcmp(hs_expr(q), hs_expr(r)) != 0)
                continue;
            while (q->same_next >= 0)
                q = &eng->rules[q->same_next];
            q->same_next = (int)i;
            r->is_shared = true;
            break;
        }
    }
}

int red_engine_compile(red_engine *eng, cm_errlist *errs)
{
    int rc = resolve_triggers(eng, errs);
    for (size_t i = 0; i < eng->nrules; i++) {
        red_rule *r = &eng->rules[i];
        if (compile_pcre(eng, r, errs) != 0 || check_hs(r, errs) != 0)
            rc = CM_EINVAL;
    }
    if (rc != 0)
        return rc;
    if (eng->nrules == 0) {
        cm_errlist_add(errs, "no rules found");
        return CM_EINVAL;
    }
    share_expressions(eng);
    eng->dots_rule = -1;
    for (unsigned k = 0; k < RED_MARKS; k++)
        eng->mark_rule[k] = -1;
    red_date_pick(eng);
    for (size_t t = 0; t < eng->ntriggers && rc == 0; t++)
        if ((rc = compile_db(eng, (int)t, &eng->triggers[t].db, &eng->triggers[t].proto, errs)) == 0)
            rc = red_trigger_compile(&eng->triggers[t], errs);
    if (rc == 0) {
        red_dots_pick(eng); /* needs the triggers' is_digits */
        red_marks_pick(eng);
        rc = compile_db(eng, -1, &eng->db, &eng->proto, errs);
    }
    return rc;
}

int red_engine_load(const char *dir, red_engine **out, cm_errlist *errs)
{
    red_engine *eng = cm_xcalloc(1, sizeof(*eng));
    int rc = 0;
    red_entropy_init();
    DIR *d = opendir(dir);
    if (d == NULL) {
        cm_errlist_add(errs, "%s: cannot open rules directory", dir);
        rc = CM_EIO;
        goto out;
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        if (n < 7 || de->d_name[0] == '.' || strcmp(de->d_name + n - 6, ".rules") != 0)
            continue;
        eng->files = cm_xrealloc(eng->files, (eng->nfiles + 1) * sizeof(*eng->files));
        size_t need = strlen(dir) + n + 2;
        char *path = cm_xmalloc(need);
        snprintf(path, need, "%s/%s", dir, de->d_name);
        eng->files[eng->nfiles++] = path;
    }
    closedir(d);
    qsort(eng->files, eng->nfiles, sizeof(*eng->files), cmp_str);
    for (size_t i = 0; i < eng->nfiles; i++) {
        int frc = red_rules_parse_file(eng, eng->files[i], errs);
        if (frc != 0 && rc == 0)
            rc = frc;
    }
    if (rc == 0)
        rc = red_engine_compile(eng, errs);
out:
    if (rc != 0) {
        red_engine_free(eng);
        return rc;
    }
    *out = eng;
    return 0;
}

int red_worker_new(const red_engine *eng, red_worker **out)
{
    red_worker *w = cm_xcalloc(1, sizeof(*w));
    w->eng = eng;
    if (hs_clone_scratch(eng->proto, &w->scratch) != HS_SUCCESS) {
        free(w);
        return CM_EINTERNAL;
    }
    for (size_t t = 0; t < eng->ntriggers; t++)
        if (hs_clone_scratch(eng->triggers[t].proto, &w->sub_scratch[t]) != HS_SUCCESS) {
            red_worker_free(w);
            return CM_EINTERNAL;
        }
    w->md = pcre2_match_data_create(eng->max_groups + 1, NULL);
    w->mctx = pcre2_match_context_create(NULL);
    /* long key blocks repeat groups thousands of times: a bigger JIT stack
     * than the 32 KB default, so they are confirmed instead of refused */
    w->jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, NULL);
    if (w->mctx != NULL && w->jit_stack != NULL)
        pcre2_jit_stack_assign(w->mctx, NULL, w->jit_stack);
    w->bucket = cm_xcalloc(eng->nrules + 1, sizeof(*w->bucket));
    w->rpos = cm_xcalloc(eng->nrules, sizeof(*w->rpos));
    w->rskip = cm_xcalloc(eng->nrules, sizeof(*w->rskip));
    w->last_hit = cm_xcalloc(eng->nrules, sizeof(*w->last_hit));
    if (w->md == NULL || w->mctx == NULL || w->jit_stack == NULL) {
        red_worker_free(w);
        return CM_EINTERNAL;
    }
    *out = w;
    return 0;
}

void red_worker_free(red_worker *w)
{
    if (w == NULL)
        return;
    hs_free_scratch(w->scratch);
    for (size_t t = 0; t < RED_MAX_TRIGGERS; t++) {
        hs_free_scratch(w->sub_scratch[t]);
        free(w->regions[t]);
    }
    pcre2_match_data_free(w->md);
    pcre2_match_context_free(w->mctx);
    pcre2_jit_stack_free(w->jit_stack);
    free(w->cat);
    free(w->blocks);
    free(w->hits);
    free(w->sorted);
    free(w->bucket);
    free(w->rpos);
    free(w->rskip);
    free(w->last_hit);
    free(w->cands);
    free(w->cands_tmp);
    free(w->found);
    free(w);
}
