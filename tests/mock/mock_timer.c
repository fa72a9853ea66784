/* mock_timer.c: the one timer thread of the mock.
 * A min-heap of (deadline, request, generation) guarded by a mutex; a condition variable on
 * CLOCK_MONOTONIC sleeps until the earliest deadline. Due entries are popped in a batch and
 * handed to mock_req_wake() outside the heap lock, which resumes the suspended connection.
 * Lock order: request lock -> heap lock (mock_timer_add runs under the request lock).
 */
#include "mock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct timer_entry {
    uint64_t due;
    struct mock_req *req;
    unsigned gen;
} timer_entry;

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t t_cond;
static pthread_t t_thread;
static bool t_running;
static bool t_stop;
static timer_entry *t_heap;
static size_t t_len, t_cap;

static void heap_swap(size_t a, size_t b)
{
    timer_entry t = t_heap[a];

    t_heap[a] = t_heap[b];
    t_heap[b] = t;
}

static void heap_push(timer_entry e)
{
    size_t i;

    if (t_len == t_cap) {
        t_cap = t_cap ? t_cap * 2 : 1024;
        t_heap = mock_xrealloc(t_heap, t_cap * sizeof *t_heap);
    }
    i = t_len++;
    t_heap[i] = e;
    while (i > 0 && t_heap[(i - 1) / 2].due > t_heap[i].due) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static timer_entry heap_pop(void)
{
    timer_entry top = t_heap[0];
    size_t i = 0;

    t_heap[0] = t_heap[--t_len];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t_len && t_heap[l].due < t_heap[m].due)
            m = l;
        if (r < t_len && t_heap[r].due < t_heap[m].due)
            m = r;
        if (m == i)
            break;
        heap_swap(i, m);
        i = m;
    }
    return top;
}

static void *timer_main(void *arg)
{
    timer_entry *batch = NULL;
    size_t bcap = 0;

    (void)arg;
    pthread_mutex_lock(&t_lock);
    while (!t_stop) {
        uint64_t now = mock_now_ms();
        size_t n = 0;

        if (t_len == 0) {
            pthread_cond_wait(&t_cond, &t_lock);
            continue;
        }
        if (t_heap[0].due > now) {
            struct timespec ts = {.tv_sec = (time_t)(t_heap[0].due / 1000),
                                  .tv_nsec = (long)(t_heap[0].due % 1000) * 1000000L};
            pthread_cond_timedwait(&t_cond, &t_lock, &ts);
            continue;
        }
        while (t_len > 0 && t_heap[0].due <= now) {
            if (n == bcap) {
                bcap = bcap ? bcap * 2 : 256;
                batch = mock_xrealloc(batch, bcap * sizeof *batch);
            }
            batch[n++] = heap_pop();
        }
        pthread_mutex_unlock(&t_lock);
        for (size_t i = 0; i < n; i++) {
            mock_req_wake(batch[i].req, batch[i].gen);
            mock_req_unref(batch[i].req);
        }
        pthread_mutex_lock(&t_lock);
    }
    pthread_mutex_unlock(&t_lock);
    free(batch);
    return NULL;
}

int mock_timer_start(void)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t_thread, NULL, timer_main, NULL) != 0)
        return -1;
    t_running = true;
    return 0;
}

void mock_timer_add(uint64_t due_ms, struct mock_req *r, unsigned gen)
{
    timer_entry e = {.due = due_ms, .req = r, .gen = gen};

    pthread_mutex_lock(&t_lock);
    heap_push(e);
    /* Only a new earliest deadline changes how long the thread should sleep. */
    if (t_heap[0].req == r && t_heap[0].gen == gen)
        pthread_cond_signal(&t_cond);
    pthread_mutex_unlock(&t_lock);
}

void mock_timer_stop(void)
{
    if (!t_running)
        return;
    pthread_mutex_lock(&t_lock);
    t_stop = true;
    pthread_cond_signal(&t_cond);
    pthread_mutex_unlock(&t_lock);
    pthread_join(t_thread, NULL);
    t_running = false;
}

void mock_timer_drain(void)
{
    pthread_mutex_lock(&t_lock);
    while (t_len > 0) {
        timer_entry e = heap_pop();
        pthread_mutex_unlock(&t_lock);
        mock_req_unref(e.req);
        pthread_mutex_lock(&t_lock);
    }
    free(t_heap);
    t_heap = NULL;
    t_cap = 0;
    pthread_mutex_unlock(&t_lock);
    pthread_cond_destroy(&t_cond);
}
