/* Helpers for the policy/ unit runner (see tpol.h). */
#include "tpol.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

char tp_dir[256];
EVP_PKEY *tp_rsa, *tp_rsa2, *tp_ec256, *tp_ec384, *tp_ec521, *tp_ed25519, *tp_ed448;
const char tp_hs32[] = "0123456789abcdef0123456789abcdef";
const char tp_hs48[] = "0123456789abcdef0123456789abcdef0123456789abcdef";
const char tp_hs64[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const char *tp_path(const char *name)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ & 7];
    snprintf(b, 512, "%s/%s", tp_dir, name);
    return b;
}

void tp_write(const char *name, const char *text)
{
    FILE *f = fopen(tp_path(name), "w");
    if (f == NULL) {
        perror(name);
        abort();
    }
    fputs(text, f);
    fclose(f);
}

char *tp_pub_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p = NULL;
    long n;
    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &p);
    char *out = cm_xmalloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

static void save_key(EVP_PKEY *k, const char *name)
{
    char pubname[64], keyname[64];
    snprintf(pubname, sizeof(pubname), "%s.pub", name);
    snprintf(keyname, sizeof(keyname), "%s.key", name);
    char *pem = tp_pub_pem(k);
    tp_write(pubname, pem);
    free(pem);
    FILE *f = fopen(tp_path(keyname), "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

void tp_setup(void)
{
    snprintf(tp_dir, sizeof(tp_dir), "/tmp/unit_pol.XXXXXX");
    if (mkdtemp(tp_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    tp_rsa = EVP_RSA_gen(2048);
    tp_rsa2 = EVP_RSA_gen(2048);
    tp_ec256 = EVP_EC_gen("P-256");
    tp_ec384 = EVP_EC_gen("P-384");
    tp_ec521 = EVP_EC_gen("P-521");
    tp_ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    tp_ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    if (!tp_rsa || !tp_rsa2 || !tp_ec256 || !tp_ec384 || !tp_ec521 || !tp_ed25519 || !tp_ed448)
        abort();
    save_key(tp_rsa, "rsa");
    save_key(tp_rsa2, "rsa2");
    save_key(tp_ec256, "ec256");
    save_key(tp_ec384, "ec384");
    save_key(tp_ec521, "ec521");
    save_key(tp_ed25519, "ed25519");
    save_key(tp_ed448, "ed448");
    tp_write("hs32.secret", tp_hs32);
    tp_write("hs48.secret", tp_hs48);
    tp_write("hs64.secret", tp_hs64);
}

void tp_teardown(void)
{
    EVP_PKEY *all[] = {tp_rsa, tp_rsa2, tp_ec256, tp_ec384, tp_ec521, tp_ed25519, tp_ed448};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        EVP_PKEY_free(all[i]);
    tp_auth_done();
    if (getenv("KEEP_TMP") == NULL)
        tp_sh("rm -rf '%s'", tp_dir);
}

char *tp_fill(const char *t)
{
    cm_buf b;
    long long now = (long long)time(NULL);
    cm_buf_init(&b, 0);
    while (*t != '\0') {
        int rc = 0;
        if (t[0] == '@' && (t[1] == '+' || t[1] == '-')) {
            char *end;
            long long off = strtoll(t + 1, &end, 10);
            rc = cm_buf_appendf(&b, "%lld", now + off);
            t = end;
        } else if (strncmp(t, "@BIG", 4) == 0) {
            for (int i = 0; i < 9000 && rc == 0; i++)
                rc = cm_buf_append(&b, "x", 1);
            t += 4;
        } else {
            rc = cm_buf_append(&b, t++, 1);
        }
        if (rc != 0)
            abort();
    }
    if (b.data == NULL && cm_buf_append(&b, "", 0) != 0)
        abort();
    return b.data;
}

char *tp_b64(const void *p, size_t n)
{
    cm_buf b;
    cm_buf_init(&b, 0);
    if (pol_b64url_append(&b, p, n) != 0 || cm_buf_append(&b, "", 0) != 0)
        abort();
    return b.data;
}

char *tp_token(const char *hdr, const char *payload, const char *alg, EVP_PKEY *priv,
               const void *secret, size_t slen)
{
    char *h = tp_fill(hdr), *pl = tp_fill(payload);
    char *hb = tp_b64(h, strlen(h)), *pb = tp_b64(pl, strlen(pl));
    char *input = cm_xmalloc(strlen(hb) + strlen(pb) + 2);
    unsigned char *sig = NULL;
    size_t siglen = 0;
    char *sb, *tok;

    snprintf(input, strlen(hb) + strlen(pb) + 2, "%s.%s", hb, pb);
    if (alg != NULL && pol_sig_sign(pol_alg_find(alg), priv, secret, slen, input, strlen(input),
                                    &sig, &siglen) != 0) {
        fprintf(stderr, "tp_token: signing with %s failed\n", alg);
        abort();
    }
    sb = tp_b64(sig, siglen);
    tok = cm_xmalloc(strlen(input) + strlen(sb) + 2);
    snprintf(tok, strlen(input) + strlen(sb) + 2, "%s.%s", input, sb);
    free(h);
    free(pl);
    free(hb);
    free(pb);
    free(input);
    free(sig);
    free(sb);
    return tok;
}

int tp_load_errs(const char *json_text, cm_errlist *errs)
{
    char *text = tp_fill(json_text);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    pol_set *p = NULL;
    int rc;

    if (root == NULL) {
        fprintf(stderr, "test config is not JSON: %s: %s\n", jerr.text, text);
        abort();
    }
    rc = pol_set_load(json_object_get(root, "auth"), json_object_get(root, "roles"), tp_dir, &p,
                      errs);
    pol_set_free(p);
    json_decref(root);
    free(text);
    return rc;
}

pol_set *tp_load(const char *json_text)
{
    char *text = tp_fill(json_text);
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    cm_errlist errs = {0};
    pol_set *p = NULL;

    if (root == NULL) {
        fprintf(stderr, "test config is not JSON: %s: %s\n", jerr.text, text);
        abort();
    }
    if (pol_set_load(json_object_get(root, "auth"), json_object_get(root, "roles"), tp_dir, &p,
                     &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "  config: %s\n", errs.msgs[i]);
        p = NULL;
    }
    cm_errlist_fini(&errs);
    json_decref(root);
    free(text);
    return p;
}

bool tp_errs_has(const cm_errlist *e, const char *needle)
{
    for (size_t i = 0; i < e->n; i++)
        if (strstr(e->msgs[i], needle) != NULL)
            return true;
    fprintf(stderr, "  expected an error containing \"%s\"; got %zu:\n", needle, e->n);
    for (size_t i = 0; i < e->n; i++)
        fprintf(stderr, "    %s\n", e->msgs[i]);
    return false;
}

static cm_arena *auth_arena;

void tp_auth_done(void)
{
    cm_arena_free(auth_arena);
    auth_arena = NULL;
}

int tp_auth(const pol_set *p, const char *tok, pol_identity **id, const char **why)
{
    char *hdr = cm_xmalloc(strlen(tok) + 8);
    pol_identity *dummy;
    const char *dwhy;
    int rc;

    tp_auth_done();
    auth_arena = cm_arena_new(1 << 20);
    snprintf(hdr, strlen(tok) + 8, "Bearer %s", tok);
    rc = pol_authenticate(p, hdr, auth_arena, id != NULL ? id : &dummy, why != NULL ? why : &dwhy);
    free(hdr);
    return rc;
}

pol_identity *tp_ident(cm_arena *a, ...)
{
    const char *roles[32];
    size_t n = 0;
    va_list ap;
    va_start(ap, a);
    for (const char *r; n < 32 && (r = va_arg(ap, const char *)) != NULL;)
        roles[n++] = r;
    va_end(ap);
    return pol_identity_new(a, "tester", roles, n, NULL, "jwt", NULL, NULL);
}

int tp_capture(int (*fn)(int, char **), char **out, ...)
{
    char *argv[32];
    int argc = 0, rc, saved_out, saved_err, fd, devnull;
    char *text = NULL;
    size_t len = 0;
    va_list ap;

    va_start(ap, out);
    for (const char *s; argc < 31 && (s = va_arg(ap, const char *)) != NULL;)
        argv[argc++] = cm_xstrdup(s);
    va_end(ap);
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    fd = open(tp_path("stdout.txt"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    devnull = open("/dev/null", O_WRONLY);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(fd, 1);
    dup2(devnull, 2);
    rc = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fd);
    close(devnull);
    if (cm_file_read(tp_path("stdout.txt"), 1 << 20, &text, &len, NULL) != 0)
        text = cm_xstrdup("");
    *out = text;
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

int tp_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    char buf[512];
    if (f == NULL)
        return -1;
    while (fgets(buf, sizeof(buf), f) != NULL)
        ;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- loopback HTTP server ------------------------------------------------------ */
struct tp_http {
    struct MHD_Daemon *d;
    pthread_mutex_t mu;
    unsigned status;
    char *body;
    unsigned nreq;
};

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    tp_http *h = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    (void)url, (void)method, (void)version, (void)upload, (void)upload_size, (void)req_cls;
    pthread_mutex_lock(&h->mu);
    h->nreq++;
    r = MHD_create_response_from_buffer(strlen(h->body), h->body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    ret = MHD_queue_response(c, h->status, r);
    pthread_mutex_unlock(&h->mu);
    MHD_destroy_response(r);
    return ret;
}

tp_http *tp_http_start(void)
{
    tp_http *h = cm_xcalloc(1, sizeof(*h));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    pthread_mutex_init(&h->mu, NULL);
    h->status = 200;
    h->body = cm_xstrdup("{}");
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_req, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (h->d == NULL) {
        fprintf(stderr, "tp_http_start: MHD_start_daemon failed\n");
        abort();
    }
    return h;
}

unsigned tp_http_port(tp_http *h)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    return i != NULL ? i->port : 0;
}

void tp_http_set(tp_http *h, unsigned status, const char *body)
{
    pthread_mutex_lock(&h->mu);
    free(h->body);
    h->body = cm_xstrdup(body);
    h->status = status;
    pthread_mutex_unlock(&h->mu);
}

unsigned tp_http_requests(tp_http *h)
{
    pthread_mutex_lock(&h->mu);
    unsigned n = h->nreq;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void tp_http_stop(tp_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    free(h->body);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* ---- JWK export ------------------------------------------------------------------- */
static char *bn_b64(EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(k, param, &bn);
    size_t n = (size_t)BN_num_bytes(bn);
    unsigned char *buf = cm_xmalloc(n);
    BN_bn2bin(bn, buf);
    char *s = tp_b64(buf, n);
    free(buf);
    BN_free(bn);
    return s;
}

char *tp_jwk(EVP_PKEY *k, const char *kid, const char *alg)
{
    char head[256], *out = cm_xmalloc(4096);
    snprintf(head, sizeof(head), "\"kid\":\"%s\"%s%s%s", kid, alg ? ",\"alg\":\"" : "",
             alg ? alg : "", alg ? "\"" : "");
    if (EVP_PKEY_is_a(k, "RSA")) {
        char *n = bn_b64(k, OSSL_PKEY_PARAM_RSA_N), *e = bn_b64(k, OSSL_PKEY_PARAM_RSA_E);
        snprintf(out, 4096, "{%s,\"kty\":\"RSA\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"}", head,
                 n, e);
        free(n);
        free(e);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        unsigned char pub[200];
        size_t len = 0;
        char group[32];
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &len);
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL);
        size_t fl = (len - 1) / 2;
        const char *crv = strcmp(group, "prime256v1") == 0  ? "P-256"
                          : strcmp(group, "secp384r1") == 0 ? "P-384"
                                                            : "P-521";
        char *x = tp_b64(pub + 1, fl), *y = tp_b64(pub + 1 + fl, fl);
        snprintf(out, 4096, "{%s,\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", head,
                 crv, x, y);
        free(x);
        free(y);
    } else {
        unsigned char raw[64];
        size_t len = sizeof(raw);
        EVP_PKEY_get_raw_public_key(k, raw, &len);
        char *x = tp_b64(raw, len);
        snprintf(out, 4096, "{%s,\"kty\":\"OKP\",\"crv\":\"%s\",\"x\":\"%s\"}", head,
                 len == 32 ? "Ed25519" : "Ed448", x);
        free(x);
    }
    return out;
}
