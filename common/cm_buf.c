/* Bounded byte buffer: every buffer has a hard maximum, appends past it fail
 * with CM_ETOOBIG and leave the buffer as it was (curl's dynbuf idea). The
 * contents are wiped on release because they may hold prompts. */
#include "cm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cm_buf_init(cm_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

static int buf_reserve(cm_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return CM_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = cm_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int cm_buf_reserve(cm_buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return CM_ETOOBIG;
    size_t need = b->len + n + 1;
    if (need > b->cap) {
        b->data = cm_xrealloc(b->data, need);
        b->cap = need;
    }
    return 0;
}

int cm_buf_append(cm_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != 0)
        return rc;
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cm_buf_appendf(cm_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CM_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void cm_buf_consume(cm_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data != NULL)
        b->data[b->len] = '\0';
}

void cm_buf_reset(cm_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void cm_buf_fini(cm_buf *b)
{
    if (b->data != NULL) {
        cm_wipe(b->data, b->cap);
        free(b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}
