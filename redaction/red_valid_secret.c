/* Validators for secrets and addresses: e-mail domains, the GitHub token
 * CRC32, JWT headers, AWS secret key shape, PEM bodies, and the heuristics that
 * keep references (${DB_PASSWORD}, os.getenv(...), <your-key>) and prose
 * ("Password: forgotten again") apart from real assigned values. */
#include "redaction/red_internal.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* c * log2(c) for small counts, so entropy needs no log per symbol; and the
 * first bytes of the placeholder substrings below. Filled once at engine load. */
static float clog2c[1024];
static bool placeholder_first[256];
static const char placeholder_firsts[] = "${}gepsv!yrih_-x*.<(fkt";

void red_entropy_init(void)
{
    for (int c = 1; c < 1024; c++)
        clog2c[c] = (float)(c * log2((double)c));
    for (const char *p = placeholder_firsts; *p != '\0'; p++)
        placeholder_first[(unsigned char)*p] = true;
}

double red_entropy(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned cnt[256] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    double sum = 0;
    if (n < 1024 && clog2c[2] > 0) {
        for (size_t i = 0; i < n; i++) {
            unsigned c = cnt[(unsigned char)s[i]];
            if (c != 0) {
                sum += clog2c[c];
                cnt[(unsigned char)s[i]] = 0;
            }
        }
    } else {
        for (int i = 0; i < 256; i++)
            if (cnt[i] != 0)
                sum += cnt[i] * log2((double)cnt[i]);
    }
    return log2((double)n) - sum / (double)n;
}

/* needle is lowercase ASCII */
static bool has_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k > n)
        return false;
    unsigned char first = (unsigned char)needle[0];
    for (size_t i = 0; i + k <= n; i++) {
        if ((unsigned char)tolower((unsigned char)s[i]) != first)
            continue;
        size_t j = 1;
        while (j < k && tolower((unsigned char)s[i + j]) == (unsigned char)needle[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

static bool eq_ci(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

typedef struct word {
    const char *s;
    size_t n;
} word;
#define W(x)                                                                                       \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

static bool in_words(const char *s, size_t n, const word *ws, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (ws[i].n == n && strncasecmp(s, ws[i].s, n) == 0)
            return true;
    return false;
}

/* Values that stand for a secret without being one. */
bool red_is_placeholder(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] == '$' || s[0] == '%' || s[0] == '<' || s[0] == '{' || s[0] == '[' || s[0] == '(')
        return true;
    /* substrings, tested only where their first byte occurs */
    static const word subs[] = {W("${"),
                                W("{{"),
                                W("}}"),
                                W("getenv"),
                                W("environ"),
                                W("process.env"),
                                W("env("),
                                W("env["),
                                W("secretkeyref"),
                                W("vault:"),
                                W("!vault"),
                                W("your_"),
                                W("your-"),
                                W("yourpass"),
                                W("yoursecret"),
                                W("yourkey"),
                                W("yourtoken"),
                                W("placeholder"),
                                W("redacted"),
                                W("replace"),
                                W("insert"),
                                W("here>"),
                                W("_here"),
                                W("-here"),
                                W("xxxx"),
                                W("****"),
                                W("...."),
                                W("<"),
                                W("()"),
                                W("fixme"),
                                W("secretsmanager"),
                                W("keyvault"),
                                W("todo")};
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)s[i]);
        if (!placeholder_first[c])
            continue;
        for (size_t k = 0; k < sizeof(subs) / sizeof(subs[0]); k++) {
            if ((unsigned char)subs[k].s[0] != c || subs[k].n > n - i)
                continue;
            size_t j = 1;
            while (j < subs[k].n && tolower((unsigned char)s[i + j]) == subs[k].s[j])
                j++;
            if (j == subs[k].n)
                return true;
        }
    }
    static const word words[] = {
        W("null"),    W("none"),    W("nil"),      W("true"),     W("false"),    W("undefined"),
        W("empty"),   W("hidden"),  W("secret"),   W("password"), W("passwd"),   W("pwd"),
        W("token"),   W("string"),  W("str"),      W("int"),      W("bool"),     W("boolean"),
        W("number"),  W("any"),     W("object"),   W("required"), W("optional"), W("n/a"),
        W("na"),      W("tbd"),     W("env"),      W("value"),    W("bytes"),    W("text"),
        W("char"),    W("varchar"), W("mask"),     W("masked"),   W("private"),  W("apikey"),
        W("api_key"), W("key"),     W("changeit"), W("unset"),    W("default"),  W("blank")};
    if (in_words(s, n, words, sizeof(words) / sizeof(words[0])))
        return true;
    bool is_same = true;
    for (size_t i = 1; i < n; i++)
        is_same &= s[i] == s[0];
    if (is_same)
        return true;
    /* a dotted identifier (config.db.password, self.token) is code, not a value */
    bool is_ident = isalpha((unsigned char)s[0]) || s[0] == '_';
    size_t dots = 0;
    for (size_t i = 0; i < n && is_ident; i++) {
        if (s[i] == '.') {
            dots++;
            is_ident = i + 1 < n && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_');
        } else {
            is_ident = isalnum((unsigned char)s[i]) || s[i] == '_';
        }
    }
    return is_ident && dots > 0;
}

/* Everyday words that follow "password:" in prose rather than a value. */
static bool is_common_word(const char *s, size_t n)
{
    static const word words[] = {
        W("reset"),      W("forgotten"), W("forgot"),     W("expired"),  W("required"),
        W("incorrect"),  W("invalid"),   W("changed"),    W("change"),   W("please"),
        W("is"),         W("was"),       W("the"),        W("and"),      W("for"),
        W("not"),        W("protected"), W("wrong"),      W("missing"),  W("updated"),
        W("update"),     W("same"),      W("sent"),       W("below"),    W("above"),
        W("attached"),   W("unknown"),   W("locked"),     W("manager"),  W("policy"),
        W("vergessen"),  W("falsch"),    W("abgelaufen"), W("geändert"), W("oublié"),
        W("incorrect"),  W("expiré"),    W("olvidé"),     W("olvidada"), W("caducada"),
        W("incorrecta"), W("reset."),    W("ok"),         W("yes"),      W("no"),
        W("see"),        W("via"),       W("from"),       W("with"),     W("field"),
        W("hash"),       W("hashed"),    W("length"),     W("strength"), W("strong"),
        W("weak")};
    return in_words(s, n, words, sizeof(words) / sizeof(words[0]));
}

static void trim_tail(red_vctx *v)
{
    while (v->end > v->start && strchr(".,;:?)]}", v->text[v->end - 1]) != NULL)
        v->end--;
}

/* The key of "key: value" names something about a secret, not the secret:
 * private_key_id, token_type, password_min_length, secret_rotation_days. */
static bool is_meta_key(const red_vctx *v)
{
    const char *t = v->text;
    size_t e = v->start;
    while (e > v->mstart && strchr(" \t\"'`:=>]", t[e - 1]) != NULL)
        e--;
    size_t b = e;
    while (b > v->mstart && (isalnum((unsigned char)t[b - 1]) || t[b - 1] == '_'))
        b--;
    if (e - b < 2)
        return false;
    /* the last word of the key: after '_' / '-' / '.', or a camelCase tail */
    size_t w = e;
    while (w > b && isalnum((unsigned char)t[w - 1]) && !isupper((unsigned char)t[w - 1]))
        w--;
    if (w > b && isupper((unsigned char)t[w - 1]) && islower((unsigned char)t[w]))
        w--;
    static const word meta[] = {
        W("id"),       W("type"),       W("length"),    W("len"),      W("ttl"),      W("expiry"),
        W("expires"),  W("expiration"), W("url"),       W("uri"),      W("endpoint"), W("file"),
        W("path"),     W("name"),       W("header"),    W("prefix"),   W("enabled"),  W("days"),
        W("seconds"),  W("count"),      W("version"),   W("policy"),   W("required"), W("min"),
        W("max"),      W("format"),     W("algorithm"), W("alg"),      W("usage"),    W("timeout"),
        W("field"),    W("label"),      W("hint"),      W("strength"), W("rotation"), W("location"),
        W("arn"),      W("ref"),        W("env"),       W("var"),      W("domain"),   W("host"),
        W("hostname"), W("method"),     W("mode"),      W("provider"), W("scheme"),   W("server"),
        W("user"),     W("username"),   W("email"),     W("sender"),   W("audience"), W("issuer"),
        W("scope"),    W("realm"),      W("account"),   W("lifetime"), W("store"),    W("dir"),
        W("size"),     W("mask")};
    return in_words(t + w, e - w, meta, sizeof(meta) / sizeof(meta[0]));
}

static red_verdict value_check(red_vctx *v, bool is_assignment);

/* The keyword starts a segment of the key (DB_PASSWORD, dbPassword,
 * spring.datasource.password), not the middle of a word (compass, bypass), and
 * the key is not a reference (${DB_PASSWORD:default}, {{ .Values.token }}). */
static bool is_key_start(const red_vctx *v)
{
    const char *t = v->text;
    size_t k = v->mstart;
    if (k > 0 && islower((unsigned char)t[k - 1]) && islower((unsigned char)t[k]))
        return false; /* PGPASSWORD and dbPassword are keys, compass is a word */
    while (k > 0 && (isalnum((unsigned char)t[k - 1]) || strchr("_.-", t[k - 1]) != NULL) &&
           v->mstart - k < 64)
        k--;
    return !(k > 0 &&
             (t[k - 1] == '{' || t[k - 1] == '$' || (t[k - 1] == ' ' && k > 1 && t[k - 2] == '{')));
}

/* An assigned secret (env, YAML, JSON, code): not a reference, not prose,
 * and the key names the secret itself (not its id, length or URL). */
red_verdict red_v_secret(red_vctx *v)
{
    return value_check(v, true);
}

/* A credential in a fixed syntax (URL userinfo, curl -u, netrc, XML). */
red_verdict red_v_credential(red_vctx *v)
{
    return value_check(v, false);
}

static red_verdict value_check(red_vctx *v, bool is_assignment)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    bool is_quoted = v->start > 0 && (s[-1] == '"' || s[-1] == '\'' || s[-1] == '`');
    if (!is_quoted) {
        trim_tail(v);
        n = v->end - v->start;
    }
    if (n < 3 || red_is_placeholder(s, n) || (is_assignment && is_meta_key(v)))
        return RED_V_NO;
    if (is_assignment && !is_key_start(v))
        return RED_V_NO;
    if (s[0] == '/' || (s[0] == '.' && s[1] == '/') || (s[0] == '~' && s[1] == '/'))
        return RED_V_NO; /* a path to a secret file */
    bool is_num = true;
    for (size_t i = 0; i < n; i++)
        is_num &= isdigit((unsigned char)s[i]) != 0;
    if (is_num && n < 6)
        return RED_V_NO; /* a port, a count, a duration */
    bool is_alpha = true;
    for (size_t i = 0; i < n; i++)
        is_alpha &= isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80;
    if (is_alpha && !is_quoted) {
        if (is_common_word(s, n))
            return RED_V_NO;
        /* "Password: please call me" is a sentence, a value ends its line */
        size_t e = v->end;
        while (e < v->len && v->text[e] == ' ')
            e++;
        if (e > v->end && e < v->len && isalpha((unsigned char)v->text[e]))
            return RED_V_NO;
    }
    return RED_V_YES;
}

/* A password told in prose: must look like one (length, mixed classes). */
red_verdict red_v_password(red_vctx *v)
{
    trim_tail(v);
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    if (n < 6 || red_is_placeholder(s, n) || is_common_word(s, n))
        return RED_V_NO;
    int lo = 0, up = 0, dg = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (islower(c))
            lo = 1;
        else if (isupper(c))
            up = 1;
        else if (isdigit(c))
            dg = 1;
        else
            sy = 1;
    }
    return lo + up + dg + sy >= 2 ? RED_V_YES : RED_V_NO;
}

/* File extensions that follow '@' in asset names (icon@2x.png) and package pins. */
static const word not_tlds[] = {
    W("png"),     W("jpg"),      W("jpeg"), W("gif"),  W("svg"), W("webp"), W("js"),  W("mjs"),
    W("ts"),      W("css"),      W("scss"), W("html"), W("htm"), W("json"), W("xml"), W("yml"),
    W("yaml"),    W("txt"),      W("pdf"),  W("zip"),  W("gz"),  W("tar"),  W("py"),  W("rb"),
    W("rs"),      W("java"),     W("php"),  W("cpp"),  W("hpp"), W("log"),  W("ini"), W("cfg"),
    W("conf"),    W("lock"),     W("toml"), W("env"),  W("bak"), W("tmp"),  W("bat"), W("exe"),
    W("dll"),     W("so"),       W("mp3"),  W("mp4"),  W("wav"), W("mov"),  W("ico"), W("ttf"),
    W("woff"),    W("vue"),      W("jsx"),  W("tsx"),  W("sql"), W("db"),   W("pem"), W("crt"),
    W("invalid"), W("localhost")};

red_verdict red_v_email(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    const char *at = memchr(s, '@', n);
    if (at == NULL || at == s)
        return RED_V_NO;
    size_t ll = (size_t)(at - s);
    if (s[0] == '.' || s[ll - 1] == '.' || memmem(s, ll, "..", 2) != NULL)
        return RED_V_NO;
    const char *dom = at + 1;
    size_t dl = n - ll - 1;
    const char *dot = NULL;
    for (size_t i = 0; i < dl; i++)
        if (dom[i] == '.')
            dot = dom + i;
    if (dot == NULL || memmem(dom, dl, "..", 2) != NULL || dom[0] == '-' || dom[0] == '.')
        return RED_V_NO;
    const char *tld = dot + 1;
    size_t tl = (size_t)(dom + dl - tld);
    if (in_words(tld, tl, not_tlds, sizeof(not_tlds) / sizeof(not_tlds[0])))
        return RED_V_NO;
    /* URL userinfo (https://key@sentry.io/1) is not a mailbox */
    if (v->start >= 3 && memcmp(v->text + v->start - 3, "://", 3) == 0)
        return RED_V_NO;
    /* an SSH remote (git@github.com:org/repo) is not a mailbox */
    if (v->end < v->len && v->text[v->end] == ':' && eq_ci(s, ll, "git"))
        return RED_V_NO;
    return RED_V_YES;
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Classic tokens: 30 random base62 characters and a base62 CRC32 of them. */
bool red_github_crc_ok(const char *tok, size_t n)
{
    if (n != 40 || tok[3] != '_')
        return false;
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    uint64_t val = 0;
    for (size_t i = 34; i < 40; i++) {
        const char *q = strchr(b62, tok[i]);
        if (q == NULL || tok[i] == '\0')
            return false;
        val = val * 62 + (uint64_t)(q - b62);
    }
    return val == crc32_of((const unsigned char *)tok + 4, 30);
}

red_verdict red_v_github(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    if (n == 40 && s[3] == '_') {
        if (red_github_crc_ok(s, n))
            return RED_V_YES;
        /* a wrong checksum is a fake or a typo: redact it only where a
         * token is talked about, and never a placeholder */
        return red_is_placeholder(s + 4, 36) || red_entropy(s + 4, 36) < 3.5 ? RED_V_NO
                                                                             : RED_V_WEAK;
    }
    return n >= 40 && red_entropy(s, n) >= 3.5 && !red_is_placeholder(s + 11, n - 11) ? RED_V_YES
                                                                                      : RED_V_NO;
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* Decode up to cap bytes of base64url; returns the decoded length. */
static size_t b64url_decode(const char *s, size_t n, char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o < cap; i++) {
        int x = b64url_val(s[i]);
        if (x < 0)
            break;
        acc = (acc << 6) | (uint32_t)x;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return o;
}

red_verdict red_v_jwt(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    const char *dot = memchr(s, '.', n);
    if (dot == NULL)
        return RED_V_NO;
    char hdr[256];
    size_t hl = b64url_decode(s, (size_t)(dot - s), hdr, sizeof(hdr));
    if (hl < 8 || hdr[0] != '{' || hdr[1] != '"')
        return RED_V_NO;
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)hdr[i] < 0x20 || (unsigned char)hdr[i] > 0x7e)
            return RED_V_NO; /* a JOSE header is printable JSON */
    if (has_ci(hdr, hl, "\"alg\"") || has_ci(hdr, hl, "\"typ\""))
        return RED_V_YES;
    return memmem(hdr, hl, "\":", 2) != NULL ? RED_V_WEAK : RED_V_NO;
}

/* 40 base64 characters, mixed case, not a hex digest (git SHA-1). */
red_verdict red_v_aws_secret(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    int up = 0, lo = 0, other = 0, hex = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        up |= isupper(c) != 0;
        lo |= islower(c) != 0;
        other |= isdigit(c) || c == '/' || c == '+';
        hex &= isxdigit(c) != 0;
    }
    if (hex || !up || !lo || !other || red_is_placeholder(s, n))
        return RED_V_NO;
    return RED_V_YES;
}

/* A key block needs a body: 16 base64 characters between BEGIN and END (a
 * block cut short with "..." is still a key), 48 when END is missing. */
red_verdict red_v_pem(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start, b64 = 0;
    const char *body = memchr(s, '\n', n);
    const char *esc = memmem(s, n, "\\n", 2);
    if (body == NULL || (esc != NULL && esc < body))
        body = esc;
    if (body == NULL)
        body = s + 30 < s + n ? s + 30 : s + n;
    for (const char *p = body; p < s + n && *p != '-'; p++)
        b64 += isalnum((unsigned char)*p) || *p == '+' || *p == '/';
    bool has_end = memmem(s, n, "-----END", 8) != NULL;
    return b64 >= (has_end ? 16u : 48u) ? RED_V_YES : RED_V_NO;
}
