/* bench_redact: throughput of the default rule set (rules/) on one core,
 * beside a PCRE2-only (JIT) scan of the same rules with the same validation,
 * measured in the same run, the ratio, and the cost of one 4 KB prompt.
 *
 * Two corpora of ~10 MB each, built in memory:
 *  - mixed (the figure against the target): prompts of 1-8 KB drawn in a fixed
 *    pseudo-random order from chat prose in EN/DE/FR/ES (sentence banks below),
 *    source code (Python 3.11 standard library and glibc headers from this
 *    Debian system), generated application and access logs (with client IPs),
 *    generated configs (YAML, .env, JSON with ${VAR} references) and the
 *    labeled PII items of tests/corpus/corpus.jsonl; the byte shares are in
 *    `mix` below and the resulting finding density is printed;
 *  - dense: the labeled PII items alone, repeated (one finding per ~110 bytes).
 * Throughput is MB/s per core from this thread's CPU time (best of N), and
 * wall time beside it. Run from the repository root:
 *   make build/bench_redact && build/bench_redact [rules_dir] [corpus.jsonl]
 * With BENCH_DUMP=FILE set, it writes the findings of both corpora (whole,
 * then in 4 KB slices) to FILE instead of timing: diff two engines with it. */
#include "redaction/red_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TARGET_BYTES (10u << 20)

typedef struct tm2 {
    uint64_t cpu, wall;
} tm2;

static tm2 now2(void)
{
    struct timespec c, m;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return (tm2){(uint64_t)c.tv_sec * 1000000000u + (uint64_t)c.tv_nsec,
                 (uint64_t)m.tv_sec * 1000000000u + (uint64_t)m.tv_nsec};
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void put(cm_buf *b, const char *s, size_t n)
{
    if (cm_buf_append(b, s, n) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
}
static void puts0(cm_buf *b, const char *s)
{
    put(b, s, strlen(s));
}
#define PRINTF(b, ...)                                                                             \
    do {                                                                                           \
        char tmp_[512];                                                                            \
        int n_ = snprintf(tmp_, sizeof(tmp_), __VA_ARGS__);                                        \
        put(b, tmp_, n_ > 0 ? (size_t)n_ : 0);                                                     \
    } while (0)

/* ---- chat prose (written for this bench, PII-free) ---- */
static const char *const prose[] = {
    /* EN */
    "Can you summarize the following meeting notes in five bullet points? ",
    "We discussed the roadmap for the next quarter and agreed to postpone the migration. ",
    "The team thinks the onboarding flow is too long and users drop off at the second step. ",
    "Please rewrite this paragraph so that it sounds friendlier but still professional. ",
    "I am not sure whether we should use a queue or a cron job for the nightly export. ",
    "Explain the difference between optimistic and pessimistic locking with an example. ",
    "The customer complained that the dashboard loads slowly on Monday mornings. ",
    "Translate the text below into plain English for a non-technical audience. ",
    "What are the trade-offs of server-side rendering compared to a single page app? ",
    "Our retrospective showed that reviews take too long, mostly because pull requests are big. ",
    "Draft a short announcement for the new vacation policy, two paragraphs at most. ",
    "Give me three title ideas for a blog post about testing legacy code. ",
    /* DE */
    "Kannst du mir bitte helfen, diese E-Mail an den Kunden höflicher zu formulieren? ",
    "Wir haben im letzten Sprint vor allem an der Suche und an den Filtern gearbeitet. ",
    "Die Abteilung möchte wissen, wie lange die Umstellung auf das neue System dauert. ",
    "Fasse den folgenden Text in drei Sätzen zusammen und nenne die wichtigsten Risiken. ",
    "Ich verstehe nicht, warum der Build auf dem Server fehlschlägt, lokal aber funktioniert. ",
    "Bitte schreibe eine kurze Zusammenfassung für die Geschäftsführung ohne Fachbegriffe. ",
    "Das Protokoll der Besprechung ist unten angehängt, die Aufgaben sind noch offen. ",
    "Welche Vor- und Nachteile hat eine relationale Datenbank gegenüber einem Dokumentenspeicher? ",
    /* FR */
    "Peux-tu reformuler ce message pour qu'il soit plus clair et plus court ? ",
    "Nous avons présenté le nouveau tableau de bord lors de la réunion de lundi. ",
    "Le client souhaite recevoir un devis détaillé avant la fin du mois prochain. ",
    "Explique-moi simplement comment fonctionne un index dans une base de données. ",
    "L'équipe support signale que les utilisateurs ne trouvent pas le bouton d'export. ",
    "Rédige une réponse polie pour refuser la demande tout en proposant une alternative. ",
    "Voici le compte rendu de l'atelier, merci de corriger les fautes d'orthographe. ",
    /* ES */
    "¿Puedes resumir este correo en un párrafo y sugerir una respuesta amable? ",
    "El equipo de ventas necesita una presentación sobre los resultados del trimestre. ",
    "No entiendo por qué la consulta tarda tanto cuando la tabla tiene pocos registros. ",
    "Escribe una descripción del producto para la tienda en línea, con un tono cercano. ",
    "La reunión de seguimiento se movió al jueves por la tarde por problemas de agenda. ",
    "Explícame la diferencia entre un proceso y un hilo con un ejemplo sencillo. ",
    "Necesitamos mejorar la documentación interna antes de incorporar a los nuevos empleados. ",
};
#define NPROSE (sizeof(prose) / sizeof(prose[0]))

static void gen_prose(cm_buf *b, size_t want)
{
    size_t end = b->len + want;
    while (b->len < end) {
        size_t lang = rnd(4), base = lang == 0 ? 0 : lang == 1 ? 12 : lang == 2 ? 20 : 27;
        size_t cnt = lang == 0 ? 12 : lang == 1 ? 8 : 7;
        for (int s = 0, ns = 3 + (int)rnd(5); s < ns; s++)
            puts0(b, prose[base + rnd((uint32_t)cnt)]);
        puts0(b, rnd(3) == 0 ? "\n\n" : "\n");
    }
}

/* ---- logs: application lines and access lines (client IPs are PII) ---- */
static void gen_logs(cm_buf *b, size_t want)
{
    static const char *const lvl[] = {"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"};
    static const char *const svc[] = {"OrderService", "CartController", "db.pool",
                                      "auth.session", "scheduler",      "http.client",
                                      "cache.redis"};
    static const char *const msg[] = {"request completed",
                                      "cache miss, loading from database",
                                      "retrying after timeout",
                                      "connection returned to pool",
                                      "job finished",
                                      "slow query detected",
                                      "token refreshed for session",
                                      "upstream responded with 503, backing off"};
    static const char *const path[] = {"/api/v1/items",
                                       "/api/v1/cart",
                                       "/login",
                                       "/static/app.js",
                                       "/api/v2/search?q=shoes&page=2",
                                       "/healthz",
                                       "/metrics"};
    size_t end = b->len + want;
    unsigned sec = 0;
    while (b->len < end) {
        sec += rnd(4);
        if (rnd(10) < 3)
            PRINTF(b,
                   "%u.%u.%u.%u - - [17/May/2024:%02u:%02u:%02u +0000] \"GET %s HTTP/1.1\" %u %u "
                   "\"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
                   10 + rnd(200), rnd(256), rnd(256), 1 + rnd(254), (sec / 3600) % 24,
                   (sec / 60) % 60, sec % 60, path[rnd(7)], rnd(5) ? 200u : 404u, 200 + rnd(90000));
        else
            PRINTF(b,
                   "2024-05-17T%02u:%02u:%02u.%03uZ %-5s [worker-%u] %s - %s (%u ms, req=%08x%04x, "
                   "attempt=%u)\n",
                   (sec / 3600) % 24, (sec / 60) % 60, sec % 60, rnd(1000), lvl[rnd(6)], rnd(16),
                   svc[rnd(7)], msg[rnd(8)], rnd(900), rnd(0x7fffffff), rnd(0xffff), 1 + rnd(3));
    }
}

/* ---- configs: YAML, .env and JSON, secrets only as references ---- */
static void gen_configs(cm_buf *b, size_t want)
{
    size_t end = b->len + want;
    while (b->len < end) {
        switch (rnd(3)) {
        case 0:
            PRINTF(
                b,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-%u\n  labels:\n"
                "    app: web\nspec:\n  replicas: %u\n  template:\n    spec:\n      containers:\n"
                "        - name: web\n          image: registry.internal/web:1.%u.%u\n"
                "          ports:\n            - containerPort: %u\n",
                rnd(50), 1 + rnd(5), rnd(30), rnd(10), 8000 + rnd(100));
            PRINTF(b,
                   "          env:\n            - name: LOG_LEVEL\n              value: info\n"
                   "            - name: DB_PASSWORD\n              valueFrom:\n"
                   "                secretKeyRef:\n                  name: db\n"
                   "                  key: password\n          resources:\n            limits:\n"
                   "              memory: %uMi\n              cpu: %um\n",
                   128u << rnd(4), 100 * (1 + rnd(8)));
            break;
        case 1:
            PRINTF(
                b,
                "NODE_ENV=production\nPORT=%u\nDATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/"
                "app\nREDIS_URL=redis://cache:6379/0\nLOG_FORMAT=json\nFEATURE_SEARCH=%s\n"
                "MAX_UPLOAD_MB=%u\nSESSION_TTL=%u\n\n",
                3000 + rnd(100), rnd(2) ? "true" : "false", 5 + rnd(50), 600 * (1 + rnd(48)));
            break;
        default:
            PRINTF(b,
                   "{\n  \"name\": \"frontend-%u\",\n  \"version\": \"%u.%u.%u\",\n  \"private\": "
                   "true,\n  \"scripts\": {\"build\": \"vite build\", \"test\": \"vitest run\"},\n"
                   "  \"dependencies\": {\"react\": \"^18.%u.0\", \"axios\": \"^1.%u.2\"}\n}\n",
                   rnd(20), rnd(4), rnd(20), rnd(10), rnd(4), rnd(7));
        }
    }
}

/* ---- code: slices of files shipped by Debian 12 ---- */
static const char *const code_files[] = {
    "/usr/lib/python3.11/argparse.py",
    "/usr/lib/python3.11/typing.py",
    "/usr/lib/python3.11/dataclasses.py",
    "/usr/lib/python3.11/subprocess.py",
    "/usr/lib/python3.11/logging/__init__.py",
    "/usr/lib/python3.11/json/decoder.py",
    "/usr/lib/python3.11/asyncio/base_events.py",
    "/usr/lib/python3.11/http/client.py",
    "/usr/lib/python3.11/email/message.py",
    "/usr/lib/python3.11/unittest/case.py",
    "/usr/lib/python3.11/csv.py",
    "/usr/lib/python3.11/shutil.py",
    "/usr/lib/python3.11/pathlib.py",
    "/usr/lib/python3.11/configparser.py",
    "/usr/lib/python3.11/textwrap.py",
    "/usr/include/stdio.h",
    "/usr/include/stdlib.h",
    "/usr/include/string.h",
    "/usr/include/unistd.h",
    "/usr/include/pthread.h",
    "/usr/include/signal.h",
    "/usr/include/time.h",
    "/usr/include/math.h",
    "/usr/include/fcntl.h",
    "/usr/include/netdb.h",
    "/usr/include/regex.h",
    "/usr/include/search.h",
    "/usr/include/wchar.h",
    "/usr/include/locale.h",
    "/usr/include/malloc.h",
};

static cm_buf code_src;

static bool load_code(void)
{
    cm_buf_init(&code_src, 0);
    char blk[65536];
    for (size_t i = 0; i < sizeof(code_files) / sizeof(code_files[0]); i++) {
        FILE *fp = fopen(code_files[i], "r");
        if (fp == NULL)
            continue;
        size_t n;
        while ((n = fread(blk, 1, sizeof(blk), fp)) > 0)
            put(&code_src, blk, n);
        fclose(fp);
    }
    return code_src.len > 65536;
}

static void gen_code(cm_buf *b, size_t want)
{
    size_t at = rnd((uint32_t)(code_src.len - want));
    while (at > 0 && code_src.data[at - 1] != '\n')
        at--; /* start on a line */
    puts0(b, "Why does this code behave like this?\n\n```\n");
    put(b, code_src.data + at, want);
    puts0(b, "\n```\n");
}

typedef struct items {
    char **t;
    size_t *n;
    size_t cnt, bytes;
} items;

static bool load_items(const char *path, items *it)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return false;
    char line[65536];
    memset(it, 0, sizeof(*it));
    while (fgets(line, sizeof(line), fp) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *t = j ? json_object_get(j, "text") : NULL;
        if (t != NULL) {
            it->t = cm_xrealloc(it->t, (it->cnt + 1) * sizeof(*it->t));
            it->n = cm_xrealloc(it->n, (it->cnt + 1) * sizeof(*it->n));
            it->n[it->cnt] = json_string_length(t);
            it->t[it->cnt] = cm_xmalloc(it->n[it->cnt] + 1);
            memcpy(it->t[it->cnt], json_string_value(t), it->n[it->cnt]);
            it->bytes += it->n[it->cnt];
            it->cnt++;
        }
        json_decref(j);
    }
    fclose(fp);
    return it->cnt > 0;
}

/* dense: every labeled item in order, repeated to 10 MB */
static char *build_dense(const items *it, size_t *len)
{
    cm_buf out;
    cm_buf_init(&out, 0);
    while (out.len < TARGET_BYTES)
        for (size_t i = 0; i < it->cnt; i++) {
            put(&out, it->t[i], it->n[i]);
            put(&out, "\n\n", 2);
        }
    *len = out.len;
    return out.data;
}

/* share of the mixed corpus in percent of bytes, per source */
enum { SRC_PROSE, SRC_CODE, SRC_LOGS, SRC_CONFIG, SRC_PII, NSRC };
static const char *const src_name[NSRC] = {"chat prose EN/DE/FR/ES", "code (Python, C headers)",
                                           "logs (app + access)", "configs (YAML/.env/JSON)",
                                           "labeled PII items"};
static const unsigned mix[NSRC] = {30, 30, 15, 15, 10};

static char *build_mixed(const items *it, size_t *len, size_t got[NSRC])
{
    cm_buf out;
    cm_buf_init(&out, 0);
    memset(got, 0, NSRC * sizeof(*got));
    size_t item = 0;
    while (out.len < TARGET_BYTES) {
        /* the source furthest below its share goes next: deterministic mix */
        int s = 0;
        double worst = 1e18;
        for (int k = 0; k < NSRC; k++) {
            double r = (double)got[k] / mix[k];
            if (r < worst) {
                worst = r;
                s = k;
            }
        }
        size_t before = out.len, want = 1024 + rnd(7 * 1024);
        switch (s) {
        case SRC_PROSE:
            gen_prose(&out, want);
            break;
        case SRC_CODE:
            gen_code(&out, want);
            break;
        case SRC_LOGS:
            gen_logs(&out, want);
            break;
        case SRC_CONFIG:
            gen_configs(&out, want);
            break;
        default:
            while (out.len - before < want) { /* a prompt of several items */
                put(&out, it->t[item], it->n[item]);
                put(&out, "\n\n", 2);
                item = (item + 1) % it->cnt;
            }
        }
        put(&out, "\n\n", 2);
        got[s] += out.len - before;
    }
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

typedef struct fig {
    double cpu_mbs, wall_mbs;
} fig;

static fig figure(double mb, tm2 best)
{
    return (fig){mb / ((double)best.cpu / 1e9), mb / ((double)best.wall / 1e9)};
}

static void keep_best(tm2 *best, tm2 a, tm2 b)
{
    uint64_t c = b.cpu - a.cpu, w = b.wall - a.wall;
    if (c < best->cpu) {
        best->cpu = c;
        best->wall = w;
    }
}

static int run_corpus(const char *name, const red_engine *eng, red_worker *w, const char *text,
                      size_t len)
{
    double mb = (double)len / (1024.0 * 1024.0);
    size_t digits = 0;
    for (size_t i = 0; i < len; i++)
        digits += text[i] >= '0' && text[i] <= '9';
    tm2 best = {UINT64_MAX, UINT64_MAX};
    size_t nfound = 0;
    for (int it = 0; it < 7; it++) {
        const red_finding *f;
        tm2 a = now2();
        if (red_scan(w, text, len, &f, &nfound) != 0)
            return 1;
        keep_best(&best, a, now2());
    }
    printf("== %s corpus: %.2f MB, %zu findings (one per %.0f bytes), %.1f %% digits\n", name, mb,
           nfound, (double)len / (double)(nfound ? nfound : 1),
           100.0 * (double)digits / (double)len);
    fig e = figure(mb, best);
    printf("  engine (hyperscan + confirm): %7.1f MB/s per core (CPU), %7.1f MB/s wall, %.1f ms\n",
           e.cpu_mbs, e.wall_mbs, (double)best.cpu / 1e6);

    tm2 bhs = {UINT64_MAX, UINT64_MAX};
    for (int it = 0; it < 7; it++) {
        tm2 a = now2();
        if (hs_scan(eng->db, text, (unsigned)len, 0, w->scratch, NULL, NULL) != HS_SUCCESS)
            return 1;
        keep_best(&bhs, a, now2());
    }
    fig h = figure(mb, bhs);
    printf("  main hyperscan database alone: %6.1f MB/s per core (CPU), %7.1f MB/s wall\n",
           h.cpu_mbs, h.wall_mbs);

    pcre2_match_data *md = pcre2_match_data_create(eng->max_groups + 1, NULL);
    tm2 bp = {UINT64_MAX, UINT64_MAX};
    size_t pfound = 0;
    for (int it = 0; it < 2; it++) {
        tm2 a = now2();
        pfound = pcre_only(eng, md, text, len);
        keep_best(&bp, a, now2());
    }
    pcre2_match_data_free(md);
    fig p = figure(mb, bp);
    printf("  pcre2-jit only (same patterns, validators): %6.1f MB/s per core (CPU), %6.1f MB/s "
           "wall (%zu validated matches before merging)\n",
           p.cpu_mbs, p.wall_mbs, pfound);
    printf("  ratio: %.1fx (CPU), %.1fx (wall)\n", e.cpu_mbs / p.cpu_mbs, e.wall_mbs / p.wall_mbs);

    /* one 4 KB prompt, as the gateway scans it (worker reused) */
    const size_t plen = 4096, reps = 20000;
    size_t off = 0;
    tm2 a = now2();
    for (size_t i = 0; i < reps; i++) {
        const red_finding *f;
        size_t n;
        if (red_scan(w, text + off, plen, &f, &n) != 0)
            return 1;
        off = (off + 7919) % (len - plen);
    }
    tm2 b = now2();
    double us = (double)(b.cpu - a.cpu) / 1e3 / (double)reps;
    double usw = (double)(b.wall - a.wall) / 1e3 / (double)reps;
    printf("  4 KB prompt: %.1f us per scan CPU (%.0f MB/s), %.1f us wall\n", us, 4096.0 / us, usw);
    return 0;
}

/* Findings of the whole text, then of every 4 KB slice, one per line. */
static int dump_scan(FILE *f, const char *name, red_worker *w, const char *text, size_t len,
                     size_t off)
{
    const red_finding *fd;
    size_t n;
    if (red_scan(w, text, len, &fd, &n) != 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %zu %s %zu %zu\n", name, off, fd[i].rule, fd[i].start, fd[i].end);
    return 0;
}

static int dump_corpus(FILE *f, const char *name, red_worker *w, const char *text, size_t len)
{
    if (dump_scan(f, name, w, text, len, SIZE_MAX))
        return 1;
    for (size_t off = 0; off < len; off += 4096)
        if (dump_scan(f, name, w, text + off, len - off < 4096 ? len - off : 4096, off))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "rules";
    const char *cpath = argc > 2 ? argv[2] : "tests/corpus/corpus.jsonl";
    cm_errlist errs = {0};
    red_engine *eng = NULL;
    tm2 t0 = now2();
    if (red_engine_load(dir, &eng, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        return 1;
    }
    tm2 t1 = now2();
    items it;
    if (!load_items(cpath, &it)) {
        fprintf(stderr, "%s: cannot read the labeled items\n", cpath);
        return 1;
    }
    if (!load_code()) {
        fprintf(stderr, "cannot read the code sources (python3.11 stdlib, libc6-dev headers)\n");
        return 1;
    }
    red_worker *w = NULL;
    if (red_worker_new(eng, &w) != 0)
        return 1;
    printf("rules: %zu (%zu types), databases compiled in %.0f ms; one core, best of 7 passes\n",
           eng->nrules, eng->ntypes, (double)(t1.cpu - t0.cpu) / 1e6);
    size_t mlen = 0, dlen = 0, got[NSRC];
    char *mixed = build_mixed(&it, &mlen, got);
    char *dense = build_dense(&it, &dlen);
    printf("mixed corpus: prompts of 1-8 KB;");
    for (int s = 0; s < NSRC; s++)
        printf("%s %s %.0f %%", s ? "," : "", src_name[s], 100.0 * (double)got[s] / (double)mlen);
    printf("\ndense corpus: the %zu labeled items of %s repeated\n", it.cnt, cpath);
    int rc;
    const char *dump = getenv("BENCH_DUMP");
    if (dump) {
        FILE *f = fopen(dump, "w");
        rc = !f || dump_corpus(f, "mixed", w, mixed, mlen) || dump_corpus(f, "dense", w, dense, dlen);
        if (f)
            fclose(f);
    } else {
        rc = run_corpus("mixed", eng, w, mixed, mlen) || run_corpus("dense", eng, w, dense, dlen);
    }
    red_worker_free(w);
    red_engine_free(eng);
    cm_errlist_fini(&errs);
    for (size_t i = 0; i < it.cnt; i++)
        free(it.t[i]);
    free(it.t);
    free(it.n);
    cm_buf_fini(&code_src);
    free(mixed);
    free(dense);
    return rc;
}
