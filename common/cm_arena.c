/* Request arena: bump allocation in chunks, a byte budget, and deferred
 * cleanups run LIFO before the chunks are wiped and freed (the nginx pool
 * model). One arena per request, created on arrival, freed once at the end. */
#include "cm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM_ARENA_CHUNK 4096
#define CM_ALIGN 16

typedef struct cm_chunk {
    struct cm_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(CM_ALIGN) unsigned char data[];
} cm_chunk;

typedef struct cm_defer {
    struct cm_defer *next;
    void (*fn)(void *);
    void *ptr;
} cm_defer;

struct cm_arena {
    cm_chunk *head;
    cm_defer *defers;
    size_t budget;
    size_t total;
};

cm_arena *cm_arena_new(size_t budget)
{
    cm_arena *a = cm_xcalloc(1, sizeof(*a));
    a->budget = budget;
    return a;
}

void cm_arena_free(cm_arena *a)
{
    if (a == NULL)
        return;
    while (a->defers != NULL) {
        cm_defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->ptr);
    }
    cm_chunk *c = a->head;
    while (c != NULL) {
        cm_chunk *next = c->next;
        cm_wipe(c->data, c->used);
        free(c);
        c = next;
    }
    free(a);
}

void *cm_arena_alloc(cm_arena *a, size_t n)
{
    size_t need = (n + CM_ALIGN - 1) & ~(size_t)(CM_ALIGN - 1);
    if (need < n)
        return NULL;
    cm_chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = need > CM_ARENA_CHUNK ? need : CM_ARENA_CHUNK;
        if (a->budget != 0 && (size > a->budget || a->total > a->budget - size))
            return NULL;
        c = cm_xmalloc(sizeof(*c) + size);
        c->size = size;
        c->used = 0;
        a->total += size;
        if (a->head != NULL && need > CM_ARENA_CHUNK) {
            /* a big block goes behind the current chunk so its free space stays usable */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = c->data + c->used;
    c->used += need;
    return p;
}

void *cm_arena_calloc(cm_arena *a, size_t n)
{
    void *p = cm_arena_alloc(a, n);
    if (p != NULL)
        memset(p, 0, n);
    return p;
}

char *cm_arena_strndup(cm_arena *a, const char *s, size_t n)
{
    char *p = cm_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cm_arena_sprintf(cm_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = cm_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

int cm_arena_defer(cm_arena *a, void (*fn)(void *), void *ptr)
{
    cm_defer *d = cm_arena_alloc(a, sizeof(*d));
    if (d == NULL) {
        fn(ptr); /* run it now so the resource is not leaked */
        return CM_ETOOBIG;
    }
    d->fn = fn;
    d->ptr = ptr;
    d->next = a->defers;
    a->defers = d;
    return 0;
}

size_t cm_arena_used(const cm_arena *a)
{
    return a->total;
}
