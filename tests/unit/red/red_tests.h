/* Shared declarations of the redaction unit runner (tests/unit/red/). */
#ifndef RED_TESTS_H
#define RED_TESTS_H
#include "check.h"
#include "redaction/red_internal.h"

/* The default rules, loaded once by test_main.c (rules/ relative to the repo root). */
extern red_engine *t_eng;
extern red_worker *t_wrk;

/* Findings of text as "TYPE:start-end" joined by spaces, in a static buffer. */
const char *t_findings(const char *text);
/* Type index by name, or -1. */
int t_type(const char *name);

void test_rules(void);
void test_valid(void);
void test_merge(void);
void test_actions(void);
void test_restore(void);
void test_glue(void);
void test_corpus(void);
void test_digits_trigger(void);
void test_dots_trigger(void);
void test_runs(void);
void test_marks(void);
void test_dates(void);
void test_starts_runs(void);
void test_portable(void);
#endif
