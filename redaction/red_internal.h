/* redaction/red_internal.h: what the red_*.c files share and the unit tests
 * may look at. Not for other modules: they use red.h only. */
#ifndef RED_INTERNAL_H
#define RED_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs.h>
#include <pcre2.h>

#include "redaction/red.h"

#define RED_MAX_RULES     1024
#define RED_MAX_TYPES     128
#define RED_MAX_GROUPS    4
#define RED_MAX_WINDOW    16384 /* a rule's longest match, bytes */
#define RED_MAX_TYPE_NAME 32
#define RED_MAX_CTX_WORDS 96
#define RED_MAX_TRIGGERS  16
/* The shared trigger of number-shaped rules (rules/pii.rules), recognized in C */
#define RED_DIGITS_TRIGGER "\\d(?:[ .\\/()-]{0,3}\\d){5}|\\b[A-Z]{2}\\d\\d[ -]?[A-Z0-9]{4}"
#define RED_MAX_REGION    256         /* longest region a trigger hands to its sub-database */
/* The ipv4 rule's trigger (rules/pii.rules): every match is a run of digits
 * and dots, so the digits trigger's run pass finds its ends in C */
#define RED_DOTS_TRIGGER "\\.\\d+\\.\\d+\\.\\d"
/* The ipv6 and mac rules' trigger and the mac-dash rule's (rules/pii.rules),
 * caseless, and the password-pgpass rule's (rules/secrets.rules): found in
 * C from byte masks (red_marks.c) */
#define RED_COLON_TRIGGER  "::|:[0-9a-f]+:[0-9a-f]+:[0-9a-f]+:"
#define RED_DASH_TRIGGER   "-[0-9a-f]{2}-[0-9a-f]{2}-[0-9a-f]{2}-"
#define RED_PGPASS_TRIGGER ":(?:\\d{2,5}|\\*):[^:\\s]{1,100}:[^:\\s]{1,100}:"
/* The email and password-in-url rules' triggers (rules/pii.rules, secrets.rules) */
#define RED_EMAIL_TRIGGER "[A-Za-z0-9._%+'\\x80-\\xff-]@[A-Za-z0-9\\x80-\\xff]"
#define RED_URL_TRIGGER   "://[^\\s:/@'\"<>]{0,64}:[^\\s/@'\"<>]{1,128}@"
enum { RED_MARK_COLON, RED_MARK_DASH, RED_MARK_PGPASS, RED_MARK_EMAIL, RED_MARK_URL, RED_MARKS };
/* The dob-field rule's trigger (rules/pii.rules), behind the digits trigger:
 * found in C on each region (red_marks.c) */
#define RED_DATE_TRIGGER \
    "(?:19|20)\\d\\d[./-]\\d\\d?[./-]\\d|\\d\\d?[./-]\\d\\d?[./-](?:19|20)\\d\\d"

enum { RED_F_CASELESS = 1u, RED_F_DOTALL = 2u, RED_F_MULTILINE = 4u };

/* An ASCII digit (a char above 0x7f is none, signed or not). */
static inline bool red_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* A validator's verdict. WEAK: keep only when a context word is near. */
typedef enum red_verdict { RED_V_NO = 0, RED_V_YES, RED_V_WEAK } red_verdict;

struct red_rule;

/* What a validator sees: the whole text and the candidate span, which it may
 * shrink (IBAN trimmed to its country length, a phone without a trailing digit group). */
typedef struct red_vctx {
    const char *text;
    size_t len;
    size_t start, end;
    size_t mstart, mend; /* the whole regex match (key and value for assignments) */
    const struct red_rule *rule;
} red_vctx;

typedef red_verdict (*red_validate_fn)(red_vctx *v);

typedef struct red_validator {
    const char *name;
    red_validate_fn fn;
} red_validator;

/* Example from the rule file: text with [[...]] markers stripped. */
typedef struct red_example {
    char *text;
    size_t span_start, span_end; /* expected span when marked, else SIZE_MAX */
    unsigned line;
    bool is_positive;
} red_example;

typedef struct red_words {
    char **w; /* lowercased (ASCII) */
    size_t *wlen;
    size_t n;
    unsigned before, after; /* window in bytes around the span */
    uint8_t from[257]; /* words starting with byte c: w[from[c] .. from[c + 1]) */
} red_words;

typedef struct red_rule {
    char *id;
    const char *file; /* borrowed from the engine's file list */
    unsigned line;
    unsigned type;
    int priority;
    char *pattern;    /* PCRE2: exact semantics, finds the start and the value group */
    char *hs_pattern; /* Hyperscan trigger; NULL: pattern */
    unsigned flags;
    int groups[RED_MAX_GROUPS]; /* the first group that took part is the value */
    int ngroups;
    const red_validator *validator;
    double min_entropy;
    red_words context;
    red_words deny;
    char *context_raw, *deny_raw; /* while parsing: lists may continue on more lines */
    bool is_context_required;
    size_t max_len; /* bound on a match's length; from Hyperscan or the file */
    bool has_span_class;
    bool span_class[256]; /* every byte from a match's start to its trigger end is one of these */
    red_example *ex;
    size_t nex;
    char *trigger_name; /* while parsing */
    int trigger;        /* index into eng->triggers, or -1: in the main database */
    int same_next;      /* next rule with the very same Hyperscan expression, or -1 */
    bool is_shared;     /* its expression is compiled once, under an earlier rule's id */
    /* compiled */
    pcre2_code *re;
    bool is_prefilter;    /* the pattern itself needs HS_FLAG_PREFILTER */
    char *hs_derived;     /* cheaper trigger derived from the expression's tail, or NULL */
    bool is_hs_prefilter; /* the Hyperscan expression actually compiled needs the prefilter */
    bool is_run_start;    /* a match starts only at a run of span_class bytes (red_starts_runs) */
} red_rule;

/* A shared trigger: one cheap expression in the main database stands for
 * several rules. Its hits are widened to a region over the `extend` bytes and
 * only that region is scanned with the rules' own sub-database. */
typedef struct red_trigger {
    char *name;
    const char *file;
    unsigned line;
    char *hs_pattern;
    unsigned flags;
    bool extend[256];
    unsigned margin;    /* bytes added on both sides of the region */
    unsigned min_width; /* of the trigger's expression */
    bool is_digits;     /* it is RED_DIGITS_TRIGGER, found in C (red_region.c) */
    bool has_lut; /* AVX2 here and extend is ASCII without NUL: red_runs classifies 64 bytes at once */
    uint8_t lut_lo[16], lut_hi[16]; /* extend as nibble tables (red_runs_lut) */
    hs_database_t *db;    /* the rules of the trigger */
    hs_database_t *probe; /* the trigger's expression alone */
    hs_scratch_t *proto;  /* serves both */
} red_trigger;

typedef struct red_region {
    uint32_t start, end;
} red_region;

/* A copy of text[text, ...) at offset `at` of the worker's copies. */
typedef struct red_block {
    uint32_t at, text;
} red_block;

struct red_engine {
    red_rule *rules;
    size_t nrules;
    red_type types[RED_MAX_TYPES];
    char *type_names[RED_MAX_TYPES];
    bool is_action_given[RED_MAX_TYPES];
    size_t ntypes;
    char **files;
    size_t nfiles;
    hs_database_t *db;
    hs_scratch_t *proto;
    uint32_t max_groups;
    red_trigger triggers[RED_MAX_TRIGGERS];
    size_t ntriggers;
    int dots_rule;    /* rule with RED_DOTS_TRIGGER, found in C, not in the main database; or -1 */
    int dots_trigger; /* the digits trigger whose run pass finds it */
    int mark_rule[RED_MARKS]; /* rule with RED_COLON_TRIGGER, ... found in C (red_marks.c); or -1 */
    int date_rule; /* rule with RED_DATE_TRIGGER behind a shared trigger, found in C; or -1 */
};

/* Trigger ends of one rule, merged while they arrive: every end in
 * [first, end] that was reported belongs to one contiguous confirmation window. */
typedef struct red_hit {
    uint32_t rule;
    uint32_t first, end;
} red_hit;

typedef struct red_cand {
    size_t start, end;
    int priority;
    uint32_t rule;
} red_cand;

struct red_worker {
    const red_engine *eng;
    hs_scratch_t *scratch;
    hs_scratch_t *sub_scratch[RED_MAX_TRIGGERS];
    red_region *regions[RED_MAX_TRIGGERS];
    size_t nregions[RED_MAX_TRIGGERS], capregions[RED_MAX_TRIGGERS];
    const char *text; /* during a scan */
    size_t len;
    char *cat; /* runs or regions copied side by side for one Hyperscan call */
    size_t ncat, capcat;
    red_block *blocks;
    size_t nblocks, capblocks, curblock;
    unsigned curtrigger;
    uint32_t sub_base; /* offset of the region being scanned */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    red_hit *hits;
    size_t nhits, caphits;
    uint32_t *last_hit; /* per rule: 1 + index of its latest hit in this scan, 0: none */
    size_t *bucket;     /* per rule + 1: counting sort of the hits by rule */
    red_hit *sorted;    /* hits grouped by rule, each rule's in order of first end */
    size_t capsorted;
    size_t *rpos;  /* per rule: no match starts before this offset (confirmation state) */
    size_t *rskip; /* per rule: hits ending at or before this are covered by a candidate */
    red_cand *cands, *cands_tmp;
    size_t ncands, capcands, captmp;
    red_finding *found;
    size_t nfound, capfound;
    int hs_error; /* set by the callback when it must stop the scan */
    bool is_bytewise_runs; /* red_runs' byte-by-byte reference (unit tests) */
};

/* A pseudonym: the value (arena copy) behind <TYPE_idx>. */
typedef struct red_pseudo {
    struct red_pseudo *next; /* hash chain */
    const char *val;
    size_t len;
    uint32_t hash;
    uint32_t type;
    uint32_t idx; /* 1-based, per type */
} red_pseudo;

#define RED_PSEUDO_BUCKETS 256
#define RED_HOLD_MAX       48 /* longest placeholder: <, 31-byte type, _, 10 digits, > */

typedef struct red_hold {
    int id;
    size_t len;
    char buf[RED_HOLD_MAX];
} red_hold;

struct red_session {
    const red_engine *eng;
    cm_arena *a;
    const void *key;
    size_t keylen;
    red_pseudo *buckets[RED_PSEUDO_BUCKETS];
    red_pseudo **by_type[RED_MAX_TYPES]; /* idx-1 -> pseudonym */
    uint32_t ntype[RED_MAX_TYPES], captype[RED_MAX_TYPES];
    size_t count;
    red_hold *holds;
    size_t nholds, capholds;
};

/* red_rules.c: parse one rule file into rules appended to eng. */
int red_rules_parse_file(red_engine *eng, const char *path, cm_errlist *errs);
int red_type_intern(red_engine *eng, const char *name, size_t len);
const red_validator *red_validator_find(const char *name);
/* red_engine.c */
int red_engine_compile(red_engine *eng, cm_errlist *errs);
/* red_region.c: shared triggers (probe database, regions, their rules' hits) */
int red_trigger_compile(red_trigger *tr, cm_errlist *errs);
int red_region_scan(red_worker *w);
/* red_region.c: take the rule whose trigger is RED_DOTS_TRIGGER out of the
 * main database when a digits trigger's run pass can find its ends */
void red_dots_pick(red_engine *eng);
/* red_region.c: each end of RED_DOTS_TRIGGER in s[a, b), in order, to fn
 * (s[a - 1] and s[b] must be neither digit nor dot) */
void red_dots_ends(const char *s, size_t a, size_t b, void (*fn)(void *ctx, size_t end),
                   void *ctx);
/* Engines loaded while this is set use no AVX2 code: runs byte by byte, the
 * colon/dash/pgpass/e-mail/URL triggers in Hyperscan (the unit tests compare
 * both engines' findings; a CPU without AVX2 gets this anyway). */
extern bool red_simd_off;
bool red_has_avx2(void);
/* red_runs.c: each run s[a, b) of tr's extend bytes holding an ASCII digit,
 * at least min->len long with at least min->digits digits, in order, with
 * its digit and dot counts, to fn (a nonzero return stops and is returned).
 * is_bytewise: the byte-by-byte reference, also used without AVX2 or
 * has_lut. red_runs_lut fills the tables and tells has_lut. */
typedef int (*red_run_fn)(void *ctx, size_t a, size_t b, unsigned ndigits, unsigned ndots);
typedef struct red_run_min {
    size_t len;
    unsigned digits;
} red_run_min;
int red_runs(const red_trigger *tr, const char *text, size_t len, bool is_bytewise,
             const red_run_min *min, red_run_fn fn, void *ctx);
bool red_runs_lut(red_trigger *tr);
/* red_marks.c: take the rules with RED_COLON_TRIGGER, RED_DASH_TRIGGER and
 * RED_PGPASS_TRIGGER out of the main database (with AVX2 only; red_marks_has
 * tells); red_marks_scan adds their hits; red_marks_ends gives each end of
 * the expressions in `want` (bits 1 << RED_MARK_*), each in text order. */
void red_marks_pick(red_engine *eng);
bool red_marks_has(const red_engine *eng, size_t rule);
void red_marks_scan(red_worker *w);
typedef void (*red_mark_fn)(void *ctx, unsigned kind, size_t end);
void red_marks_ends(const char *text, size_t len, unsigned want, red_mark_fn fn, void *ctx);
/* red_marks.c: the rule with RED_DATE_TRIGGER out of its trigger's
 * database; red_date_ends: each end of RED_DATE_TRIGGER in text[a, b), in
 * order, as Hyperscan reports them scanning that block */
void red_date_pick(red_engine *eng);
typedef void (*red_date_fn)(void *ctx, size_t end);
void red_date_ends(const char *text, size_t a, size_t b, red_date_fn fn, void *ctx);
/* red_scan.c: a trigger end of rule id at `to`; _chain: for rule and every
 * rule sharing its expression (same_next), the rule may be -1 */
void red_hit_add(red_worker *w, unsigned id, size_t to);
void red_hit_add_chain(red_worker *w, int rule, size_t to);
/* red_scan.c: does r's pattern start matches only at runs of its span_class? */
bool red_starts_runs(const red_rule *r);
/* red_scan.c: candidates of one rule only (before merging), for examples. */
int red_scan_rule(red_worker *w, uint32_t rule, const char *text, size_t len, const red_cand **out,
                  size_t *n);
bool red_words_near(const red_words *ws, const char *text, size_t len, size_t start, size_t end);
/* red_valid*.c */
bool red_luhn_ok(const char *digits, size_t n);
bool red_iban_ok(const char *s, size_t n, size_t *used);
double red_entropy(const char *s, size_t n);
void red_entropy_init(void); /* once, before threads: red_engine_load calls it */
bool red_github_crc_ok(const char *tok, size_t n);
bool red_is_placeholder(const char *s, size_t n);
/* red_apply.c: keyed hash label used by the hash action (8 hex + NUL). */
int red_hash_label(const void *key, size_t keylen, const char *v, size_t n, char out[9]);

/* red_valid.c: the validator registry (validators themselves: red_valid.h). */
extern const red_validator red_validators[];

#endif
