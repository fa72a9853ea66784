/* redaction/red_valid.h: what the validator files (red_valid*.c) share: word
 * lists, the validators the registry in red_valid.c names, and the field
 * context (the key or column header a value sits under). Private to them. */
#ifndef RED_VALID_H
#define RED_VALID_H

#include "redaction/red_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef struct red_word {
    const char *s;
    size_t n;
} red_word;
#define RED_W(x)                                                                                   \
    {                                                                                              \
        x, sizeof(x) - 1                                                                           \
    }

static inline bool red_in_words(const char *s, size_t n, const red_word *ws, size_t nw)
{
    for (size_t i = 0; i < nw; i++)
        if (ws[i].n == n && strncasecmp(s, ws[i].s, n) == 0)
            return true;
    return false;
}

/* needle is lowercase ASCII */
static inline bool red_has_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k > n)
        return false;
    for (size_t i = 0; i + k <= n; i++) {
        size_t j = 0;
        while (j < k && tolower((unsigned char)s[i + j]) == (unsigned char)needle[j])
            j++;
        if (j == k)
            return true;
    }
    return false;
}

/* red_valid_field.c: is the value filed under a name that `is_name` accepts:
 * its key (key: value, "key": "value", key=value), the header of its column
 * (CSV, TSV, semicolon or Markdown tables; the header is the top line of the
 * block of lines with as many delimiters), or its column in an SQL INSERT?
 * Names are passed lowercased (ASCII) with _ - . space quotes dropped. */
typedef bool (*red_name_fn)(const char *name, size_t n);
bool red_field_is(const red_vctx *v, red_name_fn is_name);
/* Digits of [s, s+n) into d (at most cap); returns their count, or cap+1 when more. */
size_t red_digits_of(const char *s, size_t n, char *d, size_t cap);
/* Value of n decimal digits (n small enough not to overflow). */
unsigned red_num_of(const char *d, size_t n);
bool red_name_is_birth(const char *name, size_t n);
bool red_name_is_phone(const char *name, size_t n);
red_verdict red_v_date(red_vctx *v);
red_verdict red_v_dob_field(red_vctx *v);

/* red_valid_secret.c, red_valid_token.c */
red_verdict red_v_secret(red_vctx *v);
red_verdict red_v_credential(red_vctx *v);
red_verdict red_v_password(red_vctx *v);
red_verdict red_v_github(red_vctx *v);
red_verdict red_v_jwt(red_vctx *v);
red_verdict red_v_aws_secret(red_vctx *v);
red_verdict red_v_pem(red_vctx *v);

/* red_valid_net.c */
red_verdict red_v_email(red_vctx *v);
red_verdict red_v_ipv4(red_vctx *v);
red_verdict red_v_ipv6(red_vctx *v);
red_verdict red_v_mac(red_vctx *v);

/* red_valid_phone.c */
red_verdict red_v_phone(red_vctx *v);

#endif
