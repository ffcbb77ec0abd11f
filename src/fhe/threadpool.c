// SPDX-License-Identifier: Apache-2.0
/*
 * threadpool.c - fixed pthread pool for independent "for i in [0, n)" jobs
 * (see threadpool.h). Items are handed out through a shared counter; each
 * item writes only its own outputs, so the result never depends on which
 * thread ran it or on the pool size. The calling thread works too. A nested
 * call from inside a job runs inline on that thread.
 */
#include "threadpool.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct veil_threadpool {
    pthread_mutex_t lock;
    pthread_cond_t work_cv; /* a new job was posted, or shutdown */
    pthread_cond_t done_cv; /* a worker finished its share */
    pthread_mutex_t submit; /* one veil_threadpool_for at a time */
    pthread_t *threads;
    unsigned nthreads; /* workers (size - 1: the caller is the last one) */
    unsigned size;
    /* current job */
    void (*fn)(void *arg, size_t i);
    void *arg;
    size_t n, next;
    unsigned busy;       /* workers still inside the current job */
    unsigned long epoch; /* bumps once per job */
    int shutdown;
};

/* The pool whose job this thread is running: a nested veil_threadpool_for on
 * the same pool runs inline instead of deadlocking. */
static _Thread_local struct veil_threadpool *tls_running_pool;

static void run_items(struct veil_threadpool *p)
{
    for (;;) {
        pthread_mutex_lock(&p->lock);
        size_t i = p->next < p->n ? p->next++ : p->n;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            return;
        p->fn(p->arg, i);
    }
}

static void *worker_main(void *arg)
{
    struct veil_threadpool *p = arg;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->shutdown && p->epoch == seen)
            pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->shutdown)
            break;
        seen = p->epoch;
        pthread_mutex_unlock(&p->lock);
        tls_running_pool = p;
        run_items(p);
        tls_running_pool = NULL;
        pthread_mutex_lock(&p->lock);
        if (--p->busy == 0)
            pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static unsigned default_threads(void)
{
    const char *env = getenv("VEIL_THREADS");
    if (env && *env) {
        char *end = NULL;
        unsigned long v = strtoul(env, &end, 10);
        if (end && *end == '\0' && v > 0 && v <= 1024)
            return (unsigned)v;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus > 0 ? (unsigned)(cpus > 1024 ? 1024 : cpus) : 1;
}

int veil_threadpool_create(struct veil_threadpool **out, unsigned threads, veil_err *err)
{
    *out = NULL;
    if (threads == 0)
        threads = default_threads();
    struct veil_threadpool *p = calloc(1, sizeof *p);
    if (!p)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for thread pool");
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->submit, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->size = threads;
    p->threads = calloc(threads, sizeof *p->threads);
    if (!p->threads) {
        veil_threadpool_destroy(p);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for thread pool");
    }
    for (unsigned t = 0; t + 1 < threads; t++) {
        if (pthread_create(&p->threads[t], NULL, worker_main, p) != 0) {
            veil_threadpool_destroy(p);
            return veil_err_set(err, VEIL_E_INTERNAL, "cannot start thread pool worker");
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void veil_threadpool_destroy(struct veil_threadpool *pool)
{
    if (!pool)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->shutdown = 1;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->lock);
    for (unsigned t = 0; t < pool->nthreads; t++)
        pthread_join(pool->threads[t], NULL);
    free(pool->threads);
    pthread_cond_destroy(&pool->work_cv);
    pthread_cond_destroy(&pool->done_cv);
    pthread_mutex_destroy(&pool->lock);
    pthread_mutex_destroy(&pool->submit);
    free(pool);
}

unsigned veil_threadpool_size(const struct veil_threadpool *pool)
{
    return pool ? pool->size : 1;
}

void veil_threadpool_for(struct veil_threadpool *pool, size_t n, void (*fn)(void *arg, size_t i),
                         void *arg)
{
    if (!pool || pool->nthreads == 0 || n <= 1 || tls_running_pool == pool) {
        for (size_t i = 0; i < n; i++)
            fn(arg, i);
        return;
    }
    pthread_mutex_lock(&pool->submit);
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->arg = arg;
    pool->n = n;
    pool->next = 0;
    pool->busy = pool->nthreads;
    pool->epoch++;
    pthread_cond_broadcast(&pool->work_cv);
    pthread_mutex_unlock(&pool->lock);
    tls_running_pool = pool;
    run_items(pool);
    tls_running_pool = NULL;
    pthread_mutex_lock(&pool->lock);
    while (pool->busy > 0)
        pthread_cond_wait(&pool->done_cv, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_unlock(&pool->submit);
}
