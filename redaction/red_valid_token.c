/* Token formats: the GitHub classic token CRC32, JWT headers, the AWS secret
 * key shape and PEM key bodies. */
#include "redaction/red_valid.h"

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
    if (red_has_ci(hdr, hl, "\"alg\"") || red_has_ci(hdr, hl, "\"typ\""))
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
