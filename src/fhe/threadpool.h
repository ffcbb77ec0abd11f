// SPDX-License-Identifier: Apache-2.0
/*
 * threadpool.h - a fixed pool of pthreads that runs "for i in [0, n)" jobs
 * (private to src/fhe/). Work items are independent; each writes only its
 * own output slot, so results never depend on the number of threads.
 * Size: VEIL_THREADS if set (0 or unset = online CPU count).
 */
#ifndef VEIL_FHE_THREADPOOL_H
#define VEIL_FHE_THREADPOOL_H

#include <stddef.h>

#include <veil/base.h>

struct veil_threadpool;

/* threads == 0: VEIL_THREADS or the CPU count. */
int veil_threadpool_create(struct veil_threadpool **out, unsigned threads, veil_err *err);
void veil_threadpool_destroy(struct veil_threadpool *pool);
unsigned veil_threadpool_size(const struct veil_threadpool *pool);
/* Calls fn(arg, i) for every i in [0, n) and waits for all of them. With a
 * NULL pool, runs them in order on the calling thread. */
void veil_threadpool_for(struct veil_threadpool *pool, size_t n, void (*fn)(void *arg, size_t i),
                         void *arg);

#endif /* VEIL_FHE_THREADPOOL_H */
