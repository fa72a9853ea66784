/* Gateway API keys: made by `gateway keys new`, stored as SHA-256 inline and
 * in a JSON-lines key file, accepted only exactly, looked up by a full
 * constant-time scan; key file mistakes carry file:line. */
#include "tpol.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

typedef struct made_key {
    char key[128];
    char line[512];
} made_key;

static bool make_key(made_key *k, const char *name, const char *role)
{
    char *out = NULL;
    int rc = tp_capture(pol_cli_keys, &out, "keys", "new", "--name", name, "--role", role, NULL);
    char *nl = out != NULL ? strchr(out, '\n') : NULL;
    bool is_ok = rc == 0 && nl != NULL;
    if (is_ok) {
        snprintf(k->key, sizeof(k->key), "%.*s", (int)(nl - out), out);
        snprintf(k->line, sizeof(k->line), "%s", nl + 1);
        k->line[strcspn(k->line, "\n")] = '\0';
    }
    free(out);
    return is_ok;
}

static void ref_of(const char *key, char *out)
{
    unsigned char h[32];
    SHA256((const unsigned char *)key, strlen(key), h);
    pol_hex(h, 8, out);
}

void test_apikeys(void)
{
    made_key k[3];
    char cfg[2048], file[1200], ref[17];
    const char *why = NULL;
    pol_identity *id = NULL;

    CHECK(make_key(&k[0], "svc-a", "svc"));
    CHECK(make_key(&k[1], "svc-b", "batch"));
    CHECK(make_key(&k[2], "inline", "svc"));
    snprintf(file, sizeof(file), "# gateway keys\n%s\n\n   %s\n", k[0].line, k[1].line);
    tp_write("keys.jsonl", file);
    snprintf(cfg, sizeof(cfg),
             "{\"auth\":{\"api_keys\":[%s],\"api_keys_file\":\"keys.jsonl\"},"
             "\"roles\":{\"svc\":{\"models\":[\"*\"]},\"batch\":{\"models\":[\"gpt-4o-mini\"]}}}",
             k[2].line);
    pol_set *p = tp_load(cfg);
    CHECK(p != NULL && p->napikeys == 3);
    if (p == NULL)
        return;

    const char *names[3] = {"svc-a", "svc-b", "inline"}, *roles[3] = {"svc", "batch", "svc"};
    for (int i = 0; i < 3; i++) {
        CHECK(tp_auth(p, k[i].key, &id, &why) == 0 && why == NULL);
        if (id == NULL)
            continue;
        CHECK_STR_EQ(id->method, "api_key");
        CHECK_STR_EQ(id->subject, names[i]);
        CHECK_STR_EQ(id->key_id, names[i]);
        CHECK(id->nroles == 1 && strcmp(id->roles[0], roles[i]) == 0);
        ref_of(k[i].key, ref);
        CHECK_STR_EQ(id->token_ref, ref);
        CHECK(strstr(k[i].key, id->token_ref) == NULL);
        id = NULL;
    }

    /* near misses */
    char bad[160];
    snprintf(bad, sizeof(bad), "%s", k[0].key);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'a' ? 'b' : 'a';
    CHECK(tp_auth(p, bad, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "unknown_api_key");
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(k[0].key) - 1, k[0].key);
    CHECK(tp_auth(p, bad, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "unknown_api_key");
    snprintf(bad, sizeof(bad), "%sx", k[0].key);
    CHECK(tp_auth(p, bad, NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "unknown_api_key");
    CHECK(tp_auth(p, "gw_abc-def", NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "malformed");
    /* no jwt section: anything else is refused without parsing */
    CHECK(tp_auth(p, "eyJhbGciOiJub25lIn0.e30.", NULL, &why) == CM_EAUTH);
    CHECK_STR_EQ(why, "jwt_disabled");

    /* the lookup compares every entry whatever matches */
    for (int i = 0; i < 3; i++) {
        unsigned char h[32];
        size_t n = 0;
        SHA256((const unsigned char *)k[i].key, strlen(k[i].key), h);
        long at = pol_apikey_find(p, h, &n);
        CHECK(at >= 0 && at < 3 && n == 3);
        CHECK(at >= 0 && strcmp(p->apikeys[at].id, names[i]) == 0);
        h[31] ^= 1;
        CHECK(pol_apikey_find(p, h, &n) == -1 && n == 3);
    }
    /* printed, not asserted: time for a hit on the first entry, the last, and a miss */
    {
        unsigned char first[32], last[32], none[32] = {0};
        SHA256((const unsigned char *)k[0].key, strlen(k[0].key), first);
        SHA256((const unsigned char *)k[2].key, strlen(k[2].key), last);
        const unsigned char *which[3] = {first, last, none};
        double ns[3] = {1e9, 1e9, 1e9};
        volatile long sink = 0;
        for (int pass = 0; pass < 15; pass++) { /* interleaved passes, best of five each */
            int w = pass % 3;
            uint64_t t0 = cm_now_us();
            for (int i = 0; i < 100000; i++)
                sink += pol_apikey_find(p, which[w], NULL);
            double t = (double)(cm_now_us() - t0) * 1000.0 / 100000;
            ns[w] = t < ns[w] ? t : ns[w];
        }
        (void)sink;
        fprintf(stderr,
                "perf: api key lookup (3 keys): first %.1f ns, last %.1f ns, miss %.1f ns\n", ns[0],
                ns[1], ns[2]);
    }
    pol_set_free(p);

    /* key file mistakes name file and line */
    cm_errlist errs = {0};
    tp_write("bad.jsonl", "{\"id\":\"x\",\"sha256\":\"00\"}\n{not json}\n"
                          "{\"id\":\"y\",\"sha256\":"
                          "\"zz00000000000000000000000000000000000000000000000000000000000000\","
                          "\"roles\":[\"svc\"]}\n");
    CHECK(tp_load_errs("{\"auth\":{\"api_keys_file\":\"bad.jsonl\"},\"roles\":{\"svc\":{}}}",
                       &errs) == CM_EINVAL);
    CHECK(tp_errs_has(&errs, "bad.jsonl:1.roles: required key is missing"));
    CHECK(tp_errs_has(&errs, "bad.jsonl:2: "));
    CHECK(tp_errs_has(&errs, "bad.jsonl:3.sha256: expected 64 hex digits"));
    cm_errlist_fini(&errs);
    /* the same key twice (inline and file) */
    snprintf(cfg, sizeof(cfg),
             "{\"auth\":{\"api_keys\":[%s],\"api_keys_file\":\"keys.jsonl\"},"
             "\"roles\":{\"svc\":{},\"batch\":{}}}",
             k[0].line);
    CHECK(tp_load_errs(cfg, &errs) == CM_EINVAL);
    CHECK(tp_errs_has(&errs, "same key as \"svc-a\""));
    CHECK(tp_errs_has(&errs, "\"svc-a\" is used twice"));
    cm_errlist_fini(&errs);
}
