// SPDX-License-Identifier: Apache-2.0
/*
 * bench_membw.c - this machine's sequential read bandwidth over a buffer the
 * size of the in-memory squashing key (issue 11: is one block's squash bound
 * by reading the key?). One JSON line: the best and median GB/s of reps
 * passes on 1 thread and on 2 threads (each reading half), over a buffer on
 * 2 MiB boundaries marked MADV_HUGEPAGE as the key is, with the wall and
 * CPU time of the best pass, and the floor key_bytes / bandwidth. Usage:
 *   bench_membw [reps] [bytes] [streams]
 * (defaults 5, 1630950288 = the key, 1). streams > 1 reads that many
 * equally spaced parts side by side, as a multiply-accumulate streams 9
 * key rows at once.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define HUGE_ALIGN  ((size_t)2 << 20)
#define MAX_REPS    32
#define MAX_STREAMS 18

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One thread's share: words [from, to) of buf read as `streams` parts side
 * by side, 64 bytes of each part per round. */
struct part {
    const uint64_t *buf;
    size_t from, to;
    unsigned streams;
    uint64_t sum; /* kept so the reads are not optimized away */
};

static void *read_part(void *arg)
{
    struct part *p = arg;
    const size_t len = (p->to - p->from) / p->streams / 8 * 8;
    uint64_t acc[8] = {0};
    for (size_t i = 0; i < len; i += 8) {
        for (unsigned s = 0; s < p->streams; s++) {
            const uint64_t *w = p->buf + p->from + s * len + i;
            for (unsigned k = 0; k < 8; k++)
                acc[k] += w[k];
        }
    }
    uint64_t sum = 0;
    for (unsigned k = 0; k < 8; k++)
        sum ^= acc[k];
    p->sum = sum;
    return NULL;
}

/* One pass over buf on `threads` threads; returns its wall seconds and adds
 * the process CPU seconds to *cpu. */
static double one_pass(const uint64_t *buf, size_t words, unsigned threads, unsigned streams,
                       double *cpu, uint64_t *sink)
{
    struct part parts[2];
    pthread_t th[2];
    const double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (unsigned i = 0; i < threads; i++) {
        parts[i] = (struct part){buf, words * i / threads, words * (i + 1) / threads, streams, 0};
        if (i > 0 && pthread_create(&th[i], NULL, read_part, &parts[i]) != 0) {
            read_part(&parts[i]); /* no thread: read it here */
            th[i] = 0;
        }
    }
    read_part(&parts[0]);
    for (unsigned i = 1; i < threads; i++)
        if (th[i])
            pthread_join(th[i], NULL);
    const double wall = clock_s(CLOCK_MONOTONIC) - t0;
    *cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    for (unsigned i = 0; i < threads; i++)
        *sink ^= parts[i].sum;
    return wall;
}

static void measure(const uint64_t *buf, size_t words, unsigned threads, unsigned streams, int reps,
                    uint64_t *sink, int last)
{
    double t[MAX_REPS], best_cpu = 0;
    for (int r = 0; r < reps; r++) {
        double cpu;
        t[r] = one_pass(buf, words, threads, streams, &cpu, sink);
        int best = 1;
        for (int i = 0; i < r; i++)
            best = best && t[r] < t[i];
        if (best)
            best_cpu = cpu;
    }
    double sorted[MAX_REPS];
    memcpy(sorted, t, (size_t)reps * sizeof t[0]);
    qsort(sorted, (size_t)reps, sizeof sorted[0], cmp_double);
    const double bytes = (double)words * 8;
    printf("\"read_%ut_best_gbps\":%.2f,\"read_%ut_median_gbps\":%.2f,"
           "\"read_%ut_best_wall_s\":%.4f,\"read_%ut_cpu_s\":%.4f%s",
           threads, bytes / sorted[0] / 1e9, threads, bytes / sorted[reps / 2] / 1e9, threads,
           sorted[0], threads, best_cpu, last ? "" : ",");
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    size_t bytes = argc > 2 ? strtoull(argv[2], NULL, 10) : 1630950288u;
    unsigned streams = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
    if (reps < 1 || reps > MAX_REPS)
        reps = 5;
    if (streams < 1 || streams > MAX_STREAMS)
        streams = 1;
    const size_t alloc = (bytes + HUGE_ALIGN - 1) / HUGE_ALIGN * HUGE_ALIGN;
    uint64_t *buf = aligned_alloc(HUGE_ALIGN, alloc);
    if (!buf) {
        fprintf(stderr, "bench_membw: out of memory for %zu bytes\n", alloc);
        return 1;
    }
    (void)madvise(buf, alloc, MADV_HUGEPAGE); /* as the key; advisory */
    const size_t words = bytes / 8;
    for (size_t i = 0; i < words; i++)
        buf[i] = i * 0x9e3779b97f4a7c15u;
    uint64_t sink = 0;
    printf("{\"bench\":\"membw\",\"reps\":%d,\"bytes\":%zu,\"streams\":%u,", reps, bytes, streams);
    measure(buf, words, 1, streams, reps, &sink, 0);
    measure(buf, words, 2, streams, reps, &sink, 0);
    printf("\"sink\":%llu}\n", (unsigned long long)(sink & 1));
    free(buf);
    return 0;
}
