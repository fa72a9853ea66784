/* bench_redact: throughput of the default rule set (rules/) on one core over
 * a ~10 MB mixed corpus built in memory from tests/corpus/corpus.jsonl, beside
 * a PCRE2-only (JIT) scan of the same rules with the same validation, the
 * ratio, and the cost of one 4 KB prompt. Run from the repository root:
 *   make build/bench_redact && build/bench_redact [rules_dir] [corpus.jsonl] */
#include "redaction/red_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_BYTES (10u << 20)

/* CPU time of this thread: "per core" even when other processes share the machine. */
static uint64_t cpu_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static char *build_corpus(const char *path, size_t *len, size_t *nitems)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    cm_buf items;
    cm_buf_init(&items, 0);
    char line[65536];
    *nitems = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        json_t *it = json_loads(line, 0, NULL);
        json_t *t = it ? json_object_get(it, "text") : NULL;
        if (t != NULL && cm_buf_append(&items, json_string_value(t), json_string_length(t)) == 0 &&
            cm_buf_append(&items, "\n\n", 2) == 0)
            (*nitems)++;
        json_decref(it);
    }
    fclose(fp);
    if (items.len == 0)
        return NULL;
    cm_buf out;
    cm_buf_init(&out, 0);
    while (out.len < TARGET_BYTES)
        if (cm_buf_append(&out, items.data, items.len) != 0)
            break;
    cm_buf_fini(&items);
    *len = out.len;
    return out.data;
}

/* The PCRE2-only baseline: every rule's exact pattern over the whole text
 * with JIT, each match validated exactly as red_scan does (without merging). */
static size_t pcre_only(const red_engine *eng, pcre2_match_data *md, const char *text, size_t len)
{
    size_t found = 0;
    for (size_t r = 0; r < eng->nrules; r++) {
        const red_rule *rule = &eng->rules[r];
        size_t pos = 0;
        while (pos < len) {
            int rc = pcre2_jit_match(rule->re, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
            if (rc < 0)
                break;
            const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t s = SIZE_MAX, e = 0;
            for (int g = 0; g < rule->ngroups && s == SIZE_MAX; g++)
                if (ov[2 * rule->groups[g]] != PCRE2_UNSET) {
                    s = ov[2 * rule->groups[g]];
                    e = ov[2 * rule->groups[g] + 1];
                }
            if (s != SIZE_MAX && e > s) {
                red_vctx v = {.text = text,
                              .len = len,
                              .start = s,
                              .end = e,
                              .mstart = ov[0],
                              .mend = ov[1],
                              .rule = rule};
                red_verdict vd = rule->validator ? rule->validator->fn(&v) : RED_V_YES;
                if (vd == RED_V_WEAK || (vd == RED_V_YES && rule->is_context_required))
                    vd = red_words_near(&rule->context, text, len, v.start, v.end) ? RED_V_YES
                                                                                   : RED_V_NO;
                found += vd == RED_V_YES;
            }
            pos = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
        }
    }
    return found;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "rules";
    const char *cpath = argc > 2 ? argv[2] : "tests/corpus/corpus.jsonl";
    cm_errlist errs = {0};
    red_engine *eng = NULL;
    uint64_t t0 = cpu_now_us();
    if (red_engine_load(dir, &eng, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        return 1;
    }
    uint64_t t_load = cpu_now_us() - t0;
    size_t len = 0, nitems = 0;
    char *text = build_corpus(cpath, &len, &nitems);
    if (text == NULL) {
        fprintf(stderr, "%s: cannot build the corpus\n", cpath);
        return 1;
    }
    red_worker *w = NULL;
    if (red_worker_new(eng, &w) != 0)
        return 1;
    double mb = (double)len / (1024.0 * 1024.0);
    printf("rules: %zu (%zu types), Hyperscan database compiled in %.0f ms\n", eng->nrules,
           eng->ntypes, (double)t_load / 1000.0);
    printf("corpus: %.2f MB (%zu labeled items repeated)\n", mb, nitems);

    /* Hyperscan + local confirmation, whole buffer, best of 5 */
    uint64_t best = UINT64_MAX;
    size_t nfound = 0;
    for (int it = 0; it < 5; it++) {
        const red_finding *f;
        uint64_t a = cpu_now_us();
        if (red_scan(w, text, len, &f, &nfound) != 0)
            return 1;
        uint64_t d = cpu_now_us() - a;
        if (d < best)
            best = d;
    }
    double hs_mbs = mb / ((double)best / 1e6);
    printf("hyperscan+confirm: %8.1f MB/s per core  (%zu findings, %.1f ms per pass)\n", hs_mbs,
           nfound, (double)best / 1000.0);

    /* Hyperscan alone, for reference */
    uint64_t bhs = UINT64_MAX;
    for (int it = 0; it < 5; it++) {
        w->nhits = 0;
        uint64_t a = cpu_now_us();
        if (hs_scan(eng->db, text, (unsigned)len, 0, w->scratch, NULL, NULL) != HS_SUCCESS)
            return 1;
        uint64_t d = cpu_now_us() - a;
        if (d < bhs)
            bhs = d;
    }
    printf("hyperscan pass only: %6.1f MB/s per core\n", mb / ((double)bhs / 1e6));

    /* PCRE2 only, same patterns and validators, best of 2 */
    pcre2_match_data *md = pcre2_match_data_create(eng->max_groups + 1, NULL);
    uint64_t bp = UINT64_MAX;
    size_t pfound = 0;
    for (int it = 0; it < 2; it++) {
        uint64_t a = cpu_now_us();
        pfound = pcre_only(eng, md, text, len);
        uint64_t d = cpu_now_us() - a;
        if (d < bp)
            bp = d;
    }
    double pc_mbs = mb / ((double)bp / 1e6);
    printf("pcre2-jit only:    %8.1f MB/s per core  (%zu validated matches before merging)\n",
           pc_mbs, pfound);
    printf("ratio: %.1fx\n", hs_mbs / pc_mbs);

    /* one 4 KB prompt, as the gateway scans it (worker reused) */
    const size_t plen = 4096;
    size_t off = 0, reps = 20000;
    uint64_t a = cpu_now_us();
    for (size_t i = 0; i < reps; i++) {
        const red_finding *f;
        size_t n;
        if (red_scan(w, text + off, plen, &f, &n) != 0)
            return 1;
        off = (off + 7919) % (len - plen);
    }
    double us = (double)(cpu_now_us() - a) / (double)reps;
    printf("4 KB prompt: %.1f us per scan (%.0f MB/s)\n", us, 4096.0 / us);
    pcre2_match_data_free(md);
    red_worker_free(w);
    red_engine_free(eng);
    cm_errlist_fini(&errs);
    free(text);
    return 0;
}
