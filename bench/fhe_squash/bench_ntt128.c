// SPDX-License-Identifier: Apache-2.0
/*
 * bench_ntt128.c - the 128-bit NTT's kernels one by one (core/ntt128.h), one
 * JSON line: microseconds of thread CPU time per call (the minimum over
 * batches, so a loaded machine's interruptions drop out) of a forward and
 * an inverse 2048-word transform, a 9-row multiply-accumulate, the digits
 * of a rotated accumulator column and a CRT into it, on every code path
 * this CPU has (scalar, AVX-512F, IFMA), with the key operand in cache:
 * the arithmetic of one CMux step (18 forward, 12 inverse, 12
 * multiply-accumulates, 6 digit sets, 3 CRTs) without its memory traffic.
 * The rotated digits exist on the vector paths only (null on scalar).
 * Usage: bench_ntt128 [batches] (default 30 batches of 200 calls).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/ntt128.h"
#include "core/rng.h"

#define N      2048
#define ROWS   9
#define CALLS  200
#define STRIDE (N + 8) /* rows one cache line apart, as the key and digits (pbs128.h) */

static double thread_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Buffers of one path's run (residues of prime 0 and 128-bit words). */
struct bufs {
    uint64_t *a, *rows, *key, *out, *res[4];
    veil_u128_t *acc;
};

enum kernel { K_FORWARD, K_INVERSE, K_MAC, K_DIGITS, K_CRT, KERNELS };
static const char *const kernel_names[KERNELS] = {"forward", "inverse", "mac9", "rot_digits",
                                                  "crt_add"};

static void call(const struct veil_ntt128 *t, struct bufs *b, enum kernel k, size_t i)
{
    const uint64_t *ra[ROWS], *rb[ROWS];
    uint64_t *dig[3] = {b->res[0], b->res[1], b->res[2]};
    switch (k) {
    case K_FORWARD:
        veil_ntt128_forward(t, 0, b->a);
        break;
    case K_INVERSE:
        veil_ntt128_inverse(t, 0, b->a);
        break;
    case K_MAC:
        for (size_t r = 0; r < ROWS; r++) {
            ra[r] = b->rows + r * STRIDE;
            rb[r] = b->key + r * STRIDE;
        }
        veil_ntt128_mac(t, 0, b->out, ra, rb, ROWS);
        break;
    case K_DIGITS:
        (void)veil_ntt128_rot_digits_24x3(t, 0, b->acc, 1 + 37 * i % (2 * N - 1), dig);
        break;
    case K_CRT:
        veil_ntt128_crt_add(t, b->acc, (const uint64_t *const *)b->res);
        break;
    case KERNELS:
        break;
    }
}

/* Microseconds per call: the fastest of `batches` batches. */
static double time_kernel(const struct veil_ntt128 *t, struct bufs *b, enum kernel k, int batches)
{
    double best = 1e30;
    for (int i = 0; i < batches; i++) {
        const double c0 = thread_cpu_s();
        for (size_t j = 0; j < CALLS; j++)
            call(t, b, k, j);
        const double c = thread_cpu_s() - c0;
        if (c < best)
            best = c;
    }
    return best / CALLS * 1e6;
}

int main(int argc, char **argv)
{
    int batches = argc > 1 ? atoi(argv[1]) : 30;
    if (batches < 1 || batches > 10000)
        batches = 30;
    veil_err err;
    struct veil_ntt128 t;
    if (veil_ntt128_init(&t, N, &err) < 0) {
        fprintf(stderr, "bench_ntt128: %s\n", err.msg);
        return 1;
    }
    struct bufs b;
    b.a = malloc(N * 8);
    b.rows = malloc(ROWS * STRIDE * 8);
    b.key = malloc(ROWS * STRIDE * 8);
    b.out = malloc(N * 8);
    b.acc = malloc(N * sizeof *b.acc);
    uint64_t *res = malloc(4 * N * 8);
    if (!b.a || !b.rows || !b.key || !b.out || !b.acc || !res) {
        fprintf(stderr, "bench_ntt128: out of memory\n");
        return 1;
    }
    struct veil_fhe_rng rng;
    static const uint8_t seed[32] = {0x17};
    veil_fhe_rng_init(&rng, seed, 1);
    const uint64_t p = t.pr[0].p, p1 = t.pr[1].p;
    for (size_t i = 0; i < N; i++) {
        b.a[i] = veil_fhe_rng_u64(&rng) % p;
        b.acc[i] = ((veil_u128_t)veil_fhe_rng_u64(&rng) << 64) | veil_fhe_rng_u64(&rng);
        for (size_t r = 0; r < ROWS; r++) {
            b.rows[r * STRIDE + i] = veil_fhe_rng_u64(&rng) % p;
            b.key[r * STRIDE + i] = veil_fhe_rng_u64(&rng) % p;
        }
        for (int c = 0; c < 4; c++)
            res[c * N + i] = veil_fhe_rng_u64(&rng) % (c % 2 ? p1 : p);
    }
    for (int c = 0; c < 4; c++)
        b.res[c] = res + c * N;
    static const char *const paths[] = {"scalar", "avx512", "ifma"};
    const int best = t.simd;
    printf("{\"bench\":\"ntt128\",\"n\":%d,\"calls\":%d,\"batches\":%d,\"unit\":\"us_thread_cpu\"",
           N, CALLS, batches);
    for (int level = VEIL_NTT128_SCALAR; level <= best; level++) {
        t.simd = level;
        uint64_t *dig[3] = {b.res[0], b.res[1], b.res[2]};
        const int has_digits = veil_ntt128_rot_digits_24x3(&t, 0, b.acc, 1, dig);
        for (int k = 0; k < KERNELS; k++) {
            if (k == K_DIGITS && !has_digits) /* scalar: pbs128.c rotates and decomposes */
                printf(",\"%s_%s\":null", paths[level], kernel_names[k]);
            else
                printf(",\"%s_%s\":%.3f", paths[level], kernel_names[k],
                       time_kernel(&t, &b, (enum kernel)k, batches));
        }
    }
    printf("}\n");
    free(b.a);
    free(b.rows);
    free(b.key);
    free(b.out);
    free(b.acc);
    free(res);
    veil_ntt128_free(&t);
    return 0;
}
