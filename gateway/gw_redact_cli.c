/* `gateway redact --config FILE [--jsonl]`: stdin to stdout with the
 * configured rules and default actions; --jsonl also lists the findings
 * (type, rule, byte offsets; never values). */
#include "gateway/gw_redact_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- gateway redact -------------------------------------------------------- */

/* Redact one text with the default actions; findings as a JSON array. */
static int cli_one(const gw_redactor *r, red_worker *w, const char *text, size_t len, cm_buf *out,
                   json_t **findings, const char **block_type)
{
    cm_arena *a = cm_arena_new(0);
    red_session *s = NULL;
    const red_finding *f;
    size_t nf;
    int rc = red_session_new(r->eng, r->key, r->keylen, a, &s);
    if (rc == 0)
        rc = red_scan(w, text, len, &f, &nf);
    if (rc == 0 && findings != NULL) {
        *findings = json_array();
        for (size_t i = 0; i < nf; i++)
            json_array_append_new(*findings,
                                  json_pack("{s:s,s:s,s:I,s:I}", "type", r->types[f[i].type].name,
                                            "rule", f[i].rule, "start", (json_int_t)f[i].start,
                                            "end", (json_int_t)f[i].end));
    }
    if (rc == 0)
        rc = red_apply(s, r->defaults, text, len, f, nf, out, block_type);
    cm_arena_free(a);
    return rc;
}

static json_t *cli_config(const char *path, char **base_dir)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    *base_dir = slash ? strndup(path, (size_t)(slash - path)) : cm_xstrdup(".");
    return root;
}

int gw_redact_cli(int argc, char **argv)
{
    const char *config = NULL;
    bool is_jsonl = false, is_usage = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--jsonl") == 0)
            is_jsonl = true;
        else
            is_usage = true;
    }
    if (config == NULL || is_usage) {
        fprintf(stderr, "usage: gateway redact --config FILE [--jsonl] < input > output\n");
        return 1;
    }
    char *base_dir = NULL, *in = NULL;
    json_t *root = cli_config(config, &base_dir);
    gw_redactor *r = NULL;
    red_worker *w = NULL;
    cm_errlist errs = {0};
    int status = 1;
    size_t inlen = 0;
    cm_buf out;
    cm_buf_init(&out, 0);
    if (root == NULL)
        goto done;
    if (gw_redactor_load(json_object_get(root, "redaction"), base_dir, &r, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        goto done;
    }
    cm_err err;
    if (red_worker_new(r->eng, &w) != 0 ||
        cm_file_read("/dev/stdin", GW_RED_STDIN_MAX, &in, &inlen, &err) != 0) {
        fprintf(stderr, "redact: cannot read stdin\n");
        status = 2;
        goto done;
    }
    status = 0;
    if (!is_jsonl) {
        const char *blocked = NULL;
        int rc = cli_one(r, w, in, inlen, &out, NULL, &blocked);
        if (rc == CM_EBLOCKED) {
            fprintf(stderr, "redact: blocked by a %s rule\n", blocked);
            status = 3;
        } else if (rc != 0) {
            fprintf(stderr, "redact: %s\n", cm_strerror(rc));
            status = 2;
        } else {
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
        }
        goto done;
    }
    size_t lineno = 0;
    for (char *line = in, *next; line < in + inlen; line = next) {
        char *nl = memchr(line, '\n', (size_t)(in + inlen - line));
        next = nl ? nl + 1 : in + inlen;
        lineno++;
        size_t ll = (size_t)((nl ? nl : in + inlen) - line);
        if (ll == 0 || (ll == 1 && line[0] == '\r'))
            continue;
        json_t *obj = json_loadb(line, ll, 0, NULL), *text = json_object_get(obj, "text");
        if (!json_is_string(text)) {
            fprintf(stderr, "redact: line %zu: expected {\"id\", \"text\"}\n", lineno);
            status = 2;
            json_decref(obj);
            continue;
        }
        json_t *findings = NULL, *res = json_object();
        const char *blocked = NULL;
        cm_buf_reset(&out);
        int rc = cli_one(r, w, json_string_value(text), json_string_length(text), &out, &findings,
                         &blocked);
        json_t *id = json_object_get(obj, "id");
        json_object_set(res, "id", id ? id : json_null());
        if (rc == 0)
            json_object_set_new(res, "text", json_stringn(out.data ? out.data : "", out.len));
        else if (rc == CM_EBLOCKED)
            json_object_set_new(res, "blocked", json_string(blocked));
        else
            json_object_set_new(res, "error", json_string(cm_strerror(rc)));
        json_object_set_new(res, "findings", findings ? findings : json_array());
        char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (s != NULL)
            printf("%s\n", s);
        free(s);
        if (rc != 0 && rc != CM_EBLOCKED)
            status = 2;
        json_decref(res);
        json_decref(obj);
    }
done:
    fflush(stdout);
    cm_buf_fini(&out);
    if (in != NULL) {
        cm_wipe(in, inlen);
        free(in);
    }
    red_worker_free(w);
    gw_redactor_free(r);
    cm_errlist_fini(&errs);
    json_decref(root);
    free(base_dir);
    return status;
}
