/* Assigned secrets: entropy, and the heuristics that keep references
 * (${DB_PASSWORD}, os.getenv(...), <your-key>) and prose ("Password:
 * forgotten again") apart from real assigned values. Token formats (GitHub,
 * JWT, AWS, PEM) live in red_valid_token.c. */
#include "redaction/red_valid.h"

#include <math.h>

/* Substrings that make a value a placeholder (red_is_placeholder). */
static const red_word placeholder_subs[] = {
    RED_W("${"), RED_W("{{"), RED_W("}}"), RED_W("getenv"), RED_W("environ"), RED_W("process.env"),
    RED_W("env("), RED_W("env["), RED_W("secretkeyref"), RED_W("vault:"), RED_W("!vault"),
    RED_W("your_"), RED_W("your-"), RED_W("yourpass"), RED_W("yoursecret"), RED_W("yourkey"),
    RED_W("yourtoken"), RED_W("placeholder"), RED_W("redacted"), RED_W("replace"), RED_W("insert"),
    RED_W("here>"), RED_W("_here"), RED_W("-here"), RED_W("xxxx"), RED_W("changeme"),
    RED_W("change_me"), RED_W("change-me"), RED_W("changethis"), RED_W("put your"),
    RED_W("phrase here"), RED_W("****"), RED_W("...."), RED_W("<"), RED_W("()"), RED_W("fixme"),
    RED_W("secretsmanager"), RED_W("keyvault"), RED_W("todo")};
#define RED_NSUBS (sizeof(placeholder_subs) / sizeof(placeholder_subs[0]))

/* c * log2(c) for small counts, so entropy needs no log per symbol; and the
 * placeholder substrings grouped by first byte: those starting with byte c
 * are sub_idx[sub_from[c] .. sub_from[c + 1]). Filled once at engine load. */
static float clog2c[1024];
static uint8_t sub_idx[RED_NSUBS];
static uint8_t sub_from[257];

void red_entropy_init(void)
{
    for (int c = 1; c < 1024; c++)
        clog2c[c] = (float)(c * log2((double)c));
    uint8_t cnt[256] = {0};
    for (size_t k = 0; k < RED_NSUBS; k++)
        cnt[(unsigned char)placeholder_subs[k].s[0]]++;
    for (int c = 0; c < 256; c++)
        sub_from[c + 1] = (uint8_t)(sub_from[c] + cnt[c]);
    memset(cnt, 0, sizeof(cnt));
    for (size_t k = 0; k < RED_NSUBS; k++) {
        unsigned c = (unsigned char)placeholder_subs[k].s[0];
        sub_idx[sub_from[c] + cnt[c]++] = (uint8_t)k;
    }
}

double red_entropy(const char *s, size_t n)
{
    /* all zero between calls (each count is cleared once summed): no 1 KB
     * to clear per value */
    static _Thread_local unsigned cnt[256];
    if (n == 0)
        return 0;
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
            if (cnt[i] != 0) {
                sum += cnt[i] * log2((double)cnt[i]);
                cnt[i] = 0;
            }
    }
    return log2((double)n) - sum / (double)n;
}

/* A dotted value with a random segment (dp.st.prod.Vj8k2LmQ9xRt4Zp7Wn1Y) is a
 * token with a vendor prefix, not code (config.db.password). */
static bool has_token_segment(const char *s, size_t n)
{
    size_t b = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        int up = 0, lo = 0, dg = 0;
        for (size_t k = b; k < i; k++) {
            up |= isupper((unsigned char)s[k]) != 0;
            lo |= islower((unsigned char)s[k]) != 0;
            dg |= isdigit((unsigned char)s[k]) != 0;
        }
        if (i - b >= 16 && up + lo + dg == 3)
            return true;
        b = i + 1;
    }
    return false;
}

/* A call that reads the secret from elsewhere: ENV.fetch("X"), config('x'),
 * Rails.application.credentials.dig(:x), env::var("X"). */
static bool is_call(const char *s, size_t n)
{
    size_t i = 0;
    bool is_qualified = false;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == ':')) {
        is_qualified |= s[i] == '.' || s[i] == ':';
        i++;
    }
    if (i == 0 || i >= n || s[i] != '(' || !isalpha((unsigned char)s[0]))
        return false;
    static const red_word calls[] = {RED_W("env"),     RED_W("getenv"), RED_W("fetch"),
                                     RED_W("config"),  RED_W("secret"), RED_W("lookup"),
                                     RED_W("get"),     RED_W("read"),   RED_W("require"),
                                     RED_W("setting"), RED_W("vault"),  RED_W("file")};
    return is_qualified || red_in_words(s, i, calls, sizeof(calls) / sizeof(calls[0]));
}

/* Values that stand for a secret without being one. */
bool red_is_placeholder(const char *s, size_t n)
{
    if (n == 0)
        return true;
    /* a long random value (a WordPress salt) may start with or contain
     * '<', '{', '$'; only template syntax makes it a reference then */
    bool is_random = n >= 24 && memchr(s, ' ', n) == NULL && red_entropy(s, n) >= 4.2;
    if (!is_random &&
        (s[0] == '$' || s[0] == '%' || s[0] == '<' || s[0] == '{' || s[0] == '[' || s[0] == '('))
        return true;
    if (is_call(s, n))
        return true;
    /* substrings, tested only where their first byte occurs */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tolower((unsigned char)s[i]);
        if (sub_from[c] == sub_from[c + 1] || (is_random && (c == '<' || c == '(')))
            continue;
        for (size_t x = sub_from[c]; x < sub_from[c + 1]; x++) {
            const red_word *w = &placeholder_subs[sub_idx[x]];
            if (w->n > n - i)
                continue;
            size_t j = 1;
            while (j < w->n && tolower((unsigned char)s[i + j]) == w->s[j])
                j++;
            if (j == w->n)
                return true;
        }
    }
    static const red_word words[] = {
        RED_W("null"),    RED_W("none"),    RED_W("nil"),      RED_W("true"),     RED_W("false"),    RED_W("undefined"),
        RED_W("empty"),   RED_W("hidden"),  RED_W("secret"),   RED_W("password"), RED_W("passwd"),   RED_W("pwd"),
        RED_W("token"),   RED_W("string"),  RED_W("str"),      RED_W("int"),      RED_W("bool"),     RED_W("boolean"),
        RED_W("number"),  RED_W("any"),     RED_W("object"),   RED_W("required"), RED_W("optional"), RED_W("n/a"),
        RED_W("na"),      RED_W("tbd"),     RED_W("env"),      RED_W("value"),    RED_W("bytes"),    RED_W("text"),
        RED_W("char"),    RED_W("varchar"), RED_W("mask"),     RED_W("masked"),   RED_W("private"),  RED_W("apikey"),
        RED_W("api_key"), RED_W("key"),     RED_W("changeit"), RED_W("unset"),    RED_W("default"),  RED_W("blank")};
    if (red_in_words(s, n, words, sizeof(words) / sizeof(words[0])))
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
    return is_ident && dots > 0 && !has_token_segment(s, n);
}

/* Everyday words that follow "password:" in prose rather than a value. */
static bool is_common_word(const char *s, size_t n)
{
    static const red_word words[] = {
        RED_W("reset"),      RED_W("forgotten"), RED_W("forgot"),     RED_W("expired"),  RED_W("required"),
        RED_W("incorrect"),  RED_W("invalid"),   RED_W("changed"),    RED_W("change"),   RED_W("please"),
        RED_W("is"),         RED_W("was"),       RED_W("the"),        RED_W("and"),      RED_W("for"),
        RED_W("not"),        RED_W("protected"), RED_W("wrong"),      RED_W("missing"),  RED_W("updated"),
        RED_W("update"),     RED_W("same"),      RED_W("sent"),       RED_W("below"),    RED_W("above"),
        RED_W("attached"),   RED_W("unknown"),   RED_W("locked"),     RED_W("manager"),  RED_W("policy"),
        RED_W("vergessen"),  RED_W("falsch"),    RED_W("abgelaufen"), RED_W("geändert"), RED_W("oublié"),
        RED_W("incorrect"),  RED_W("expiré"),    RED_W("olvidé"),     RED_W("olvidada"), RED_W("caducada"),
        RED_W("incorrecta"), RED_W("reset."),    RED_W("ok"),         RED_W("yes"),      RED_W("no"),
        RED_W("see"),        RED_W("via"),       RED_W("from"),       RED_W("with"),     RED_W("field"),
        RED_W("hash"),       RED_W("hashed"),    RED_W("length"),     RED_W("strength"), RED_W("strong"),
        RED_W("weak")};
    return red_in_words(s, n, words, sizeof(words) / sizeof(words[0]));
}

/* Trailing punctuation is not part of a value, except one final '.' after a
 * letter or digit: people end passwords with it (Nebel931.), and where it
 * ends the sentence, masking it costs nothing. */
static void trim_tail(red_vctx *v)
{
    while (v->end > v->start && strchr(".,;:?)]}", v->text[v->end - 1]) != NULL) {
        if (v->text[v->end - 1] == '.' && v->end - v->start > 1 &&
            isalnum((unsigned char)v->text[v->end - 2]))
            break;
        v->end--;
    }
}

/* The key of "key: value" names something about a secret, not the secret:
 * private_key_id, token_type, password_min_length, secret_rotation_days. */
static bool is_meta_key(const red_vctx *v)
{
    const char *t = v->text;
    size_t e = v->start;
    while (e > v->mstart && strchr(" \t\"'`:=>],", t[e - 1]) != NULL)
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
    static const red_word meta[] = {
        RED_W("id"),       RED_W("type"),       RED_W("length"),    RED_W("len"),      RED_W("ttl"),      RED_W("expiry"),
        RED_W("expires"),  RED_W("expiration"), RED_W("url"),       RED_W("uri"),      RED_W("endpoint"), RED_W("file"),
        RED_W("path"),     RED_W("name"),       RED_W("header"),    RED_W("prefix"),   RED_W("enabled"),  RED_W("days"),
        RED_W("seconds"),  RED_W("count"),      RED_W("version"),   RED_W("policy"),   RED_W("required"), RED_W("min"),
        RED_W("max"),      RED_W("format"),     RED_W("algorithm"), RED_W("alg"),      RED_W("usage"),    RED_W("timeout"),
        RED_W("field"),    RED_W("label"),      RED_W("hint"),      RED_W("strength"), RED_W("rotation"), RED_W("location"),
        RED_W("arn"),      RED_W("ref"),        RED_W("env"),       RED_W("var"),      RED_W("domain"),   RED_W("host"),
        RED_W("hostname"), RED_W("method"),     RED_W("mode"),      RED_W("provider"), RED_W("scheme"),   RED_W("server"),
        RED_W("user"),     RED_W("username"),   RED_W("email"),     RED_W("sender"),   RED_W("audience"), RED_W("issuer"),
        RED_W("scope"),    RED_W("realm"),      RED_W("account"),   RED_W("lifetime"), RED_W("store"),    RED_W("dir"),
        RED_W("size"),     RED_W("mask")};
    return red_in_words(t + w, e - w, meta, sizeof(meta) / sizeof(meta[0]));
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
    if (v->end < v->len && (v->text[v->end] == '=' ||
                            (v->text[v->end] == ':' && v->end > v->start &&
                             isalpha((unsigned char)v->text[v->end - 1]))))
        return RED_V_NO; /* "the secret is webhook_secret: ..." names a key */
    if (v->end > v->start + 1 && v->text[v->end - 1] == ':')
        return RED_V_NO;
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
    bool is_snake = lo && !up && !dg;
    for (size_t i = 0; i < n && is_snake; i++)
        is_snake = islower((unsigned char)s[i]) || s[i] == '_';
    if (is_snake)
        return RED_V_NO; /* an identifier (signing_secret), not a password */
    return lo + up + dg + sy >= 2 ? RED_V_YES : RED_V_NO;
}

