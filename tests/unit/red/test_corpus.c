/* Labeled corpus (tests/corpus/corpus.jsonl, built by build_corpus.py):
 * recall per entity type, false positives on hard negatives per kind, and
 * words outside any entity that redaction would lose. Fails under the
 * targets of issue 4. RED_CORPUS_VERBOSE=1 prints every miss and false hit;
 * RED_CORPUS=path scans another labeled file (same format). */
#include "red_tests.h"

#include <jansson.h>
#include <stdlib.h>

#define MAX_KINDS 64

typedef struct tally {
    char name[32];
    unsigned total, hit;
} tally;

static tally *tally_get(tally *t, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    if (*n == MAX_KINDS)
        return &t[MAX_KINDS - 1];
    snprintf(t[*n].name, sizeof(t[*n].name), "%s", name);
    t[*n].total = t[*n].hit = 0;
    return &t[(*n)++];
}

static bool is_checksum_type(const char *t)
{
    return strcmp(t, "CREDIT_CARD") == 0 || strcmp(t, "IBAN") == 0 ||
           strcmp(t, "GITHUB_TOKEN") == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

void test_corpus(void)
{
    json_error_t jerr;
    const char *path = getenv("RED_CORPUS") ? getenv("RED_CORPUS") : "tests/corpus/corpus.jsonl";
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    if (fp == NULL)
        return;
    bool is_verbose = getenv("RED_CORPUS_VERBOSE") != NULL;
    tally types[MAX_KINDS], negs[MAX_KINDS];
    size_t ntypes = 0, nnegs = 0;
    unsigned items = 0, words = 0, words_lost = 0, findings = 0, stray = 0;
    char line[65536];
    while (fgets(line, sizeof(line), fp) != NULL) {
        json_t *it = json_loads(line, 0, &jerr);
        CHECK(it != NULL);
        if (it == NULL)
            continue;
        items++;
        const char *id = json_string_value(json_object_get(it, "id"));
        json_t *jt = json_object_get(it, "text");
        const char *text = json_string_value(jt);
        size_t len = json_string_length(jt);
        const red_finding *f = NULL;
        size_t nf = 0;
        CHECK(red_scan(t_wrk, text, len, &f, &nf) == 0);
        json_t *ents = json_object_get(it, "entities"), *ng = json_object_get(it, "negatives"), *e;
        size_t k;
        json_array_foreach (ents, k, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            size_t s = (size_t)json_integer_value(json_object_get(e, "start"));
            size_t en = (size_t)json_integer_value(json_object_get(e, "end"));
            tally *t = tally_get(types, &ntypes, type);
            t->total++;
            bool is_hit = false;
            for (size_t i = 0; i < nf && !is_hit; i++)
                is_hit = f[i].start <= s && f[i].end >= en &&
                         strcmp(t_eng->types[f[i].type].name, type) == 0;
            t->hit += is_hit;
            if (!is_hit && is_verbose)
                fprintf(stderr, "MISS %s %s [%.*s] found: %s\n", id, type, (int)(en - s), text + s,
                        t_findings(text));
        }
        json_array_foreach (ng, k, e) {
            const char *kind = json_string_value(json_object_get(e, "kind"));
            size_t s = (size_t)json_integer_value(json_object_get(e, "start"));
            size_t en = (size_t)json_integer_value(json_object_get(e, "end"));
            tally *t = tally_get(negs, &nnegs, kind);
            t->total++;
            bool is_hit = false;
            for (size_t i = 0; i < nf && !is_hit; i++)
                is_hit = f[i].start < en && f[i].end > s;
            t->hit += is_hit;
            if (is_hit && is_verbose)
                fprintf(stderr, "FP   %s %s [%.*s]\n", id, kind, (int)(en - s), text + s);
        }
        /* findings outside every labeled entity, and the words they take */
        for (size_t i = 0; i < nf; i++) {
            bool is_labeled = false;
            json_array_foreach (ents, k, e) {
                size_t s = (size_t)json_integer_value(json_object_get(e, "start"));
                size_t en = (size_t)json_integer_value(json_object_get(e, "end"));
                is_labeled |= f[i].start < en && f[i].end > s;
            }
            findings++;
            if (!is_labeled) {
                stray++;
                if (is_verbose)
                    fprintf(stderr, "XTRA %s %s [%.*s]\n", id, t_eng->types[f[i].type].name,
                            (int)(f[i].end - f[i].start), text + f[i].start);
            }
        }
        for (size_t i = 0; i < len;) {
            while (i < len && is_space(text[i]))
                i++;
            size_t ws = i;
            while (i < len && !is_space(text[i]))
                i++;
            if (i == ws)
                break;
            bool is_entity = false, is_lost = false;
            json_array_foreach (ents, k, e) {
                size_t s = (size_t)json_integer_value(json_object_get(e, "start"));
                size_t en = (size_t)json_integer_value(json_object_get(e, "end"));
                is_entity |= ws < en && i > s;
            }
            if (is_entity)
                continue;
            for (size_t j = 0; j < nf && !is_lost; j++)
                is_lost = f[j].start < i && f[j].end > ws;
            words++;
            words_lost += is_lost;
        }
        /* invariant: no labeled value survives masking */
        red_action masks[RED_MAX_TYPES];
        for (size_t t = 0; t < RED_MAX_TYPES; t++)
            masks[t] = RED_ACT_MASK;
        cm_arena *a = cm_arena_new(0);
        red_session *sess = NULL;
        cm_buf out;
        cm_buf_init(&out, 0);
        CHECK(red_session_new(t_eng, NULL, 0, a, &sess) == 0);
        CHECK(red_apply(sess, masks, text, len, f, nf, &out, NULL) == 0);
        json_array_foreach (ents, k, e) {
            size_t s = (size_t)json_integer_value(json_object_get(e, "start"));
            size_t en = (size_t)json_integer_value(json_object_get(e, "end"));
            check_count++;
            if (en - s >= 6 && out.data && memmem(out.data, out.len, text + s, en - s) != NULL) {
                check_failures++;
                fprintf(stderr, "%s:%d: %s: a labeled value survives masking\n", __FILE__, __LINE__,
                        id);
            }
        }
        cm_buf_fini(&out);
        cm_arena_free(a);
        json_decref(it);
    }
    fclose(fp);
    unsigned tot = 0, hit = 0, ctot = 0, chit = 0, ntot = 0, nhit = 0;
    fprintf(stderr, "corpus: %u items\n  %-18s %6s %6s %7s\n", items, "type", "n", "found",
            "recall");
    for (size_t i = 0; i < ntypes; i++) {
        fprintf(stderr, "  %-18s %6u %6u %7.4f\n", types[i].name, types[i].total, types[i].hit,
                (double)types[i].hit / types[i].total);
        tot += types[i].total;
        hit += types[i].hit;
        if (is_checksum_type(types[i].name)) {
            ctot += types[i].total;
            chit += types[i].hit;
        }
    }
    fprintf(stderr, "  %-18s %6s %6s %7s\n", "hard negative", "n", "hit", "fp rate");
    for (size_t i = 0; i < nnegs; i++) {
        fprintf(stderr, "  %-18s %6u %6u %7.4f\n", negs[i].name, negs[i].total, negs[i].hit,
                (double)negs[i].hit / negs[i].total);
        ntot += negs[i].total;
        nhit += negs[i].hit;
    }
    double recall = tot ? (double)hit / tot : 0, crecall = ctot ? (double)chit / ctot : 0;
    double fprate = ntot ? (double)nhit / ntot : 1, lost = words ? (double)words_lost / words : 1;
    fprintf(stderr,
            "  recall %.4f (%u/%u), checksum types %.4f (%u/%u), hard-negative FP %.4f "
            "(%u/%u), words lost %.4f%% (%u/%u), findings outside labels %u/%u\n",
            recall, hit, tot, crecall, chit, ctot, fprate, nhit, ntot, 100 * lost, words_lost,
            words, stray, findings);
    CHECK(items >= 300 || getenv("RED_CORPUS") != NULL);
    CHECK(recall >= 0.98);
    CHECK(crecall >= 0.995);
    CHECK(fprate <= 0.01);
    CHECK(lost <= 0.002);
}
