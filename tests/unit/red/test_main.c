/* Runner for the redaction unit tests: loads the default rules once and runs
 * every group; exit status 1 when any CHECK failed. */
#include "red_tests.h"

#include <stdlib.h>

CHECK_MAIN_DEFS

red_engine *t_eng;
red_worker *t_wrk;

const char *t_findings(const char *text)
{
    static char buf[4096];
    const red_finding *f;
    size_t n;
    buf[0] = '\0';
    if (red_scan(t_wrk, text, strlen(text), &f, &n) != 0)
        return "ERROR";
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(buf) - 64; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s:%zu-%zu", i ? " " : "",
                              t_eng->types[f[i].type].name, f[i].start, f[i].end);
    return buf;
}

int t_type(const char *name)
{
    for (size_t i = 0; i < t_eng->ntypes; i++)
        if (strcmp(t_eng->types[i].name, name) == 0)
            return (int)i;
    return -1;
}

int main(int argc, char **argv)
{
    cm_errlist errs = {0};
    int rc = red_engine_load("rules", &t_eng, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    cm_errlist_fini(&errs);
    CHECK(rc == 0);
    if (rc != 0)
        return check_report("unit_red");
    CHECK(red_worker_new(t_eng, &t_wrk) == 0);
    const char *only = argc > 1 ? argv[1] : NULL;
    struct {
        const char *name;
        void (*fn)(void);
    } groups[] = {
        {"rules", test_rules},     {"valid", test_valid},           {"merge", test_merge},
        {"actions", test_actions}, {"restore", test_restore},       {"glue", test_glue},
        {"corpus", test_corpus},   {"digits", test_digits_trigger}, {"dots", test_dots_trigger},
        {"runs", test_runs}, {"marks", test_marks}, {"dates", test_dates},
        {"starts", test_starts_runs}, {"portable", test_portable},
    };
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (only == NULL || strcmp(only, groups[i].name) == 0)
            groups[i].fn();
    red_worker_free(t_wrk);
    red_engine_free(t_eng);
    return check_report("unit_red");
}
