/* Validators for network identifiers and addresses: octet ranges for IPv4,
 * inet_pton for IPv6, separator consistency for MACs, e-mail shape. */
#include "redaction/red_valid.h"

#include <arpa/inet.h>

/* Four octets 0-255 without leading zeros, not part of a longer dotted run. */
red_verdict red_v_ipv4(red_vctx *v)
{
    const char *t = v->text;
    size_t s = v->start, e = v->end;
    if (s >= 2 && t[s - 1] == '.' && red_is_digit(t[s - 2]))
        return RED_V_NO;
    if (e + 1 < v->len && t[e] == '.' && red_is_digit(t[e + 1]))
        return RED_V_NO;
    unsigned octets = 0, small = 0;
    bool is_same = true;
    size_t i = s;
    while (i < e) {
        size_t j = i;
        unsigned val = 0;
        while (j < e && red_is_digit(t[j]))
            val = val * 10 + (unsigned)(t[j++] - '0');
        size_t nd = j - i;
        if (nd == 0 || nd > 3 || val > 255 || (nd > 1 && t[i] == '0'))
            return RED_V_NO;
        octets++;
        small += nd == 1;
        is_same &= nd == 1 && t[i] == t[s];
        if (j < e && t[j] != '.')
            return RED_V_NO;
        i = j + 1;
    }
    if (octets != 4)
        return RED_V_NO;
    /* 2.5.4.3 is more often an OID or a version than a host; 8.8.8.8 is a host */
    return small == 4 && !is_same ? RED_V_WEAK : RED_V_YES;
}

red_verdict red_v_ipv6(red_vctx *v)
{
    size_t n = v->end - v->start;
    char buf[64];
    unsigned char addr[16];
    if (n < 3 || n >= sizeof(buf))
        return RED_V_NO;
    memcpy(buf, v->text + v->start, n);
    buf[n] = '\0';
    char *pct = strchr(buf, '%'); /* zone id */
    if (pct != NULL)
        *pct = '\0';
    if (inet_pton(AF_INET6, buf, addr) != 1)
        return RED_V_NO;
    size_t groups = 0, longest = 0, cur = 0;
    for (const char *p = buf;; p++) {
        if (isxdigit((unsigned char)*p) || *p == '.') {
            cur++;
            continue;
        }
        if (cur > 0) {
            groups++;
            if (cur > longest)
                longest = cur;
        }
        cur = 0;
        if (*p == '\0')
            break;
    }
    if (strstr(buf, "::") == NULL || groups >= 3 || (groups == 2 && longest >= 3))
        return RED_V_YES;
    return strcmp(buf, "::1") == 0 ? RED_V_YES : RED_V_NO;
}

red_verdict red_v_mac(red_vctx *v)
{
    const char *s = v->text + v->start;
    size_t n = v->end - v->start;
    char sep = 0;
    size_t hex = 0;
    for (size_t i = 0; i < n; i++) {
        if (isxdigit((unsigned char)s[i])) {
            hex++;
        } else {
            if (sep != 0 && s[i] != sep)
                return RED_V_NO;
            sep = s[i];
        }
    }
    return hex == 12 ? RED_V_YES : RED_V_NO;
}

/* File extensions that follow '@' in asset names (icon@2x.png) and package pins. */
static const red_word not_tlds[] = {
    RED_W("png"),     RED_W("jpg"),      RED_W("jpeg"), RED_W("gif"),  RED_W("svg"), RED_W("webp"), RED_W("js"),  RED_W("mjs"),
    RED_W("ts"),      RED_W("css"),      RED_W("scss"), RED_W("html"), RED_W("htm"), RED_W("json"), RED_W("xml"), RED_W("yml"),
    RED_W("yaml"),    RED_W("txt"),      RED_W("pdf"),  RED_W("zip"),  RED_W("gz"),  RED_W("tar"),  RED_W("py"),  RED_W("rb"),
    RED_W("rs"),      RED_W("java"),     RED_W("php"),  RED_W("cpp"),  RED_W("hpp"), RED_W("log"),  RED_W("ini"), RED_W("cfg"),
    RED_W("conf"),    RED_W("lock"),     RED_W("toml"), RED_W("env"),  RED_W("bak"), RED_W("tmp"),  RED_W("bat"), RED_W("exe"),
    RED_W("dll"),     RED_W("so"),       RED_W("mp3"),  RED_W("mp4"),  RED_W("wav"), RED_W("mov"),  RED_W("ico"), RED_W("ttf"),
    RED_W("woff"),    RED_W("vue"),      RED_W("jsx"),  RED_W("tsx"),  RED_W("sql"), RED_W("db"),   RED_W("pem"), RED_W("crt"),
    RED_W("invalid"), RED_W("localhost")};

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
    if (red_in_words(tld, tl, not_tlds, sizeof(not_tlds) / sizeof(not_tlds[0])))
        return RED_V_NO;
    /* URL userinfo (https://key@sentry.io/1) is not a mailbox */
    if (v->start >= 3 && memcmp(v->text + v->start - 3, "://", 3) == 0)
        return RED_V_NO;
    /* an SSH remote (git@github.com:org/repo) is not a mailbox */
    if (v->end < v->len && v->text[v->end] == ':' && ll == 3 && strncasecmp(s, "git", 3) == 0)
        return RED_V_NO;
    return RED_V_YES;
}
