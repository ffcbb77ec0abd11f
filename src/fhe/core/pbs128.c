// SPDX-License-Identifier: Apache-2.0
/*
 * core/pbs128.c - 128-bit GGSW encryption, CMux blind rotation over the
 * NTT-domain bootstrapping key, and sample extraction (see pbs128.h). The
 * external product of one CMux: (k+1) accumulator polynomials, each
 * decomposed into `level` digit polynomials, forward-transformed modulo the
 * two primes, multiplied-and-summed with the GGSW rows per output column
 * (two limbs of the key's words, two primes each), transformed back and
 * rebuilt exactly by CRT. The blind rotation of a batch runs as tasks that
 * any number of threads share (the team, below).
 */
#include "pbs128.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lwe.h"

#define P  VEIL_NTT128_PRIMES
#define CH VEIL_NTT128_CHANNELS

void veil_pbs128_decompose(veil_u128_t v, unsigned base_log, unsigned level, int64_t *out)
{
    const unsigned shift = 128 - base_log * level;
    veil_u128_t state = v;
    uint64_t top_tie_bit = 0;
    if (shift > 0) {
        state = (v + ((veil_u128_t)1 << (shift - 1))) >> shift;
        top_tie_bit = (uint64_t)(v >> (shift - 1)) & 1;
    }
    const int64_t base = INT64_C(1) << base_log, half = base / 2;
    const uint64_t mask = (UINT64_C(1) << base_log) - 1;
    for (unsigned i = 0; i < level; i++) {
        int64_t d = (int64_t)((uint64_t)state & mask);
        if (d >= half)
            d -= base; /* [-B/2, B/2) */
        state >>= base_log;
        const uint64_t tie_bit = i + 1 < level ? (uint64_t)state & 1 : top_tie_bit;
        uint64_t carry = (uint64_t)(d < 0);
        if (d == -half && tie_bit) {
            d = half;
            carry = 0;
        }
        out[i] = d;
        state += carry;
    }
}

void veil_pbs128_key_ntt(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                         const uint8_t *key, uint64_t *kntt)
{
    const size_t n = s->poly;
    for (size_t c = 0; c < s->k; c++) {
        for (unsigned pr = 0; pr < P; pr++) {
            uint64_t *dst = kntt + (c * P + pr) * n;
            for (size_t j = 0; j < n; j++)
                dst[j] = key[c * n + j];
            veil_ntt128_forward(t, pr, dst);
        }
    }
}

int veil_pbs128_scratch_init(struct veil_pbs128_scratch *sc, const struct veil_pbs128_shape *s,
                             veil_err *err)
{
    const size_t n = s->poly, k = s->k;
    memset(sc, 0, sizeof *sc);
    sc->acc = calloc((k + 1) * n, sizeof(veil_u128_t));
    sc->poly = calloc(n, sizeof(veil_u128_t));
    sc->digits = calloc((k + 1) * P * s->level * n, sizeof(int64_t));
    sc->rot = calloc((k + 1) * P * n, sizeof(veil_u128_t));
    sc->dntt = calloc(veil_pbs128_rows(s) * P * veil_pbs128_stride(s), sizeof(uint64_t));
    sc->out = calloc((k + 1) * CH * n, sizeof(uint64_t));
    if (!sc->acc || !sc->poly || !sc->digits || !sc->rot || !sc->dntt || !sc->out) {
        veil_pbs128_scratch_free(sc);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for 128-bit PBS scratch");
    }
    return 0;
}

void veil_pbs128_scratch_free(struct veil_pbs128_scratch *sc)
{
    free(sc->acc);
    free(sc->poly);
    free(sc->digits);
    free(sc->rot);
    free(sc->dntt);
    free(sc->out);
    memset(sc, 0, sizeof *sc);
}

static inline veil_u128_t rng_u128(struct veil_fhe_rng *r)
{
    const uint64_t lo = veil_fhe_rng_u64(r);
    const uint64_t hi = veil_fhe_rng_u64(r);
    return ((veil_u128_t)hi << 64) | lo;
}

/* NTT-domain words of column col of row `row` of a GGSW (CH channels). */
static inline uint64_t *ggsw_cell(const struct veil_pbs128_shape *s, uint64_t *ggsw, size_t row,
                                  size_t col)
{
    return ggsw + (row * (s->k + 1) + col) * CH * veil_pbs128_stride(s);
}

/* The channels of a 128-bit polynomial: limb l modulo prime i, transformed,
 * at cell + (l * P + i) * stride. */
static void to_channels(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                        uint64_t *cell, const veil_u128_t *poly)
{
    const size_t stride = veil_pbs128_stride(s);
    for (unsigned ch = 0; ch < CH; ch++) {
        veil_ntt128_from_u128(t, ch / P, ch % P, cell + ch * stride, poly);
        veil_ntt128_forward(t, ch % P, cell + ch * stride);
        memset(cell + ch * stride + s->poly, 0, VEIL_PBS128_PAD * sizeof *cell); /* padding */
    }
}

/* The k mask polynomials of one row: drawn, then stored transformed. */
static void row_masks(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                      struct veil_fhe_rng *mask_rng, uint64_t *ggsw, size_t row, veil_u128_t *poly)
{
    const size_t n = s->poly;
    for (size_t col = 0; col < s->k; col++) {
        for (size_t j = 0; j < n; j++)
            poly[j] = rng_u128(mask_rng);
        to_channels(t, s, ggsw_cell(s, ggsw, row, col), poly);
    }
}

static void row_body_store(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                           uint64_t *ggsw, size_t row, const veil_u128_t *body)
{
    to_channels(t, s, ggsw_cell(s, ggsw, row, s->k), body);
}

/* poly <- sum_c A_c S_c (exact, negacyclic) for the row's stored masks. */
static void row_mask_times_key(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                               uint64_t *ggsw, size_t row, const uint64_t *kntt,
                               struct veil_pbs128_scratch *sc)
{
    const size_t n = s->poly;
    const uint64_t *a[VEIL_PBS128_MAX_K], *b[VEIL_PBS128_MAX_K], *res[CH];
    for (unsigned ch = 0; ch < CH; ch++) {
        const unsigned pr = ch % P;
        for (size_t c = 0; c < s->k; c++) {
            a[c] = ggsw_cell(s, ggsw, row, c) + ch * veil_pbs128_stride(s);
            b[c] = kntt + (c * P + pr) * n;
        }
        uint64_t *o = sc->out + ch * n;
        veil_ntt128_mac(t, pr, o, a, b, s->k);
        veil_ntt128_inverse(t, pr, o);
        res[ch] = o;
    }
    veil_ntt128_crt(t, sc->poly, res);
}

void veil_pbs128_ggsw_encrypt(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                              const uint8_t *key, const uint64_t *kntt, unsigned m,
                              struct veil_fhe_rng *mask_rng, struct veil_fhe_rng *noise_rng,
                              uint64_t *ggsw, veil_u128_t *bodies, struct veil_pbs128_scratch *sc)
{
    const size_t n = s->poly, k = s->k;
    for (size_t c = 0; c <= k; c++) {
        for (unsigned j = 0; j < s->level; j++) {
            const size_t row = c * s->level + j;
            row_masks(t, s, mask_rng, ggsw, row, sc->poly);
            row_mask_times_key(t, s, ggsw, row, kntt, sc);
            veil_u128_t *body = sc->poly;
            for (size_t i = 0; i < n; i++) {
                int64_t e = (int64_t)veil_fhe_rng_tuniform(noise_rng, s->noise_log2);
                body[i] += (veil_u128_t)(__int128)e;
            }
            const veil_u128_t g = (veil_u128_t)(m & 1) << (128 - (j + 1) * s->base_log);
            if (c == k) {
                body[0] += g;
            } else {
                for (size_t i = 0; i < n; i++)
                    body[i] -= g * key[c * n + i];
            }
            if (bodies)
                memcpy(bodies + row * n, body, n * sizeof *body);
            row_body_store(t, s, ggsw, row, body);
        }
    }
}

void veil_pbs128_ggsw_expand(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                             struct veil_fhe_rng *mask_rng, const veil_u128_t *bodies,
                             uint64_t *ggsw)
{
    veil_u128_t poly[VEIL_NTT128_MAX_N];
    for (size_t row = 0; row < veil_pbs128_rows(s); row++) {
        row_masks(t, s, mask_rng, ggsw, row, poly);
        row_body_store(t, s, ggsw, row, bodies + row * s->poly);
    }
}

void veil_pbs128_ggsw_bodies(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                             const uint64_t *ggsw, veil_u128_t *bodies,
                             struct veil_pbs128_scratch *sc)
{
    const size_t n = s->poly;
    const uint64_t *res[CH];
    for (size_t row = 0; row < veil_pbs128_rows(s); row++) {
        const uint64_t *cell = ggsw + (row * (s->k + 1) + s->k) * CH * veil_pbs128_stride(s);
        for (unsigned ch = 0; ch < CH; ch++) {
            uint64_t *o = sc->out + ch * n;
            memcpy(o, cell + ch * veil_pbs128_stride(s), n * sizeof *o);
            veil_ntt128_inverse(t, ch % P, o);
            res[ch] = o;
        }
        veil_ntt128_crt(t, bodies + row * n, res);
    }
}

/* diff[t] = (X^r a - a)[t] for r in [0, 2N). */
static void rotate_sub(veil_u128_t *restrict diff, const veil_u128_t *restrict a, size_t n,
                       size_t r)
{
    int neg = 0;
    if (r >= n) {
        r -= n;
        neg = 1;
    }
    for (size_t t = 0; t < r; t++) {
        const veil_u128_t x = a[t + n - r];
        diff[t] = (neg ? x : (veil_u128_t)0 - x) - a[t];
    }
    for (size_t t = r; t < n; t++) {
        const veil_u128_t x = a[t - r];
        diff[t] = (neg ? (veil_u128_t)0 - x : x) - a[t];
    }
}

static unsigned log2_2n_of(size_t n)
{
    unsigned l = 0;
    while (((size_t)1 << l) < 2 * n)
        l++;
    return l;
}

/* acc <- X^(-b~) * (0, .., 0, lut). */
static void rotate_init(const struct veil_pbs128_shape *s, const uint64_t *lwe,
                        const veil_u128_t *lut, veil_u128_t *acc)
{
    const size_t n = s->poly, k = s->k, two_n = 2 * n;
    const size_t b = (size_t)veil_fhe_mod_switch_centered_body(lwe, s->lwe_dim, log2_2n_of(n));
    size_t r = (two_n - b) % two_n;
    memset(acc, 0, k * n * sizeof *acc);
    veil_u128_t *body = acc + k * n;
    int neg = 0;
    if (r >= n) {
        r -= n;
        neg = 1;
    }
    for (size_t t = 0; t < r; t++)
        body[t] = neg ? lut[t + n - r] : (veil_u128_t)0 - lut[t + n - r];
    for (size_t t = r; t < n; t++)
        body[t] = neg ? (veil_u128_t)0 - lut[t - r] : lut[t - r];
}

/* ---- blind rotation as tasks shared by any number of threads ----
 * Each CMux step i (GGSW i) of every block runs in three phases of
 * count * (k+1) * P tasks; a task of a phase starts only once every task of
 * the phases before it has finished (a ticket counter hands tasks out in
 * order, a done counter tells when a phase is complete). A thread only ever
 * waits for tasks that other running threads have already claimed, so any
 * number of threads, one included, completes the batch, and since each task
 * writes its own words of exact results the output never depends on it.
 *   A (block, column, prime): X^r acc_col - acc_col, its digits modulo the
 *     prime, forward transforms;
 *   B (block, column, prime): multiply-accumulate with the GGSW's rows for
 *     both limbs, inverse transforms;
 *   C (block, column, part): CRT of one part of the column's coefficients,
 *     added into the accumulator. */
enum { PHASE_DIGITS, PHASE_MAC, PHASE_CRT, PHASES };

static size_t team_rotation(const struct veil_pbs128_team *tm, size_t block, size_t step)
{
    return (size_t)veil_fhe_mod_switch(tm->lwes[block][step], log2_2n_of(tm->s->poly));
}

/* Task (col, pr) of phase A: the digits of X^r acc_col - acc_col modulo
 * the prime (the vector kernels read the accumulator rotated in place) and
 * their forward transforms. It also prefetches its share of the GGSW that
 * phase B reads next (pf; NULL for none), a slice per forward transform,
 * so that on one thread the key's reads overlap the transforms. */
static void task_digits(const struct veil_pbs128_team *tm, struct veil_pbs128_scratch *sc,
                        size_t col, unsigned pr, size_t r, const uint64_t *pf)
{
    const struct veil_pbs128_shape *s = tm->s;
    const size_t n = s->poly, level = s->level, stride = veil_pbs128_stride(s);
    uint64_t *res[VEIL_PBS128_MAX_LEVEL];
    for (size_t j = 0; j < level; j++)
        res[j] = sc->dntt + ((col * level + j) * P + pr) * stride;
    const int fast = s->base_log == 24 && level == 3 &&
                     veil_ntt128_rot_digits_24x3(tm->t, pr, sc->acc + col * n, r, res);
    if (!fast) {
        veil_u128_t *rot = sc->rot + (col * P + pr) * n;
        rotate_sub(rot, sc->acc + col * n, n, r);
        int64_t *digits = sc->digits + (col * P + pr) * level * n, dig[VEIL_PBS128_MAX_LEVEL];
        for (size_t i = 0; i < n; i++) {
            veil_pbs128_decompose(rot[i], s->base_log, s->level, dig);
            for (size_t j = 0; j < level; j++)
                digits[j * n + i] = dig[level - 1 - j];
        }
        for (size_t j = 0; j < level; j++)
            veil_ntt128_from_i64(tm->t, pr, res[j], digits + j * n);
    }
    const size_t slices = (s->k + 1) * P * level;
    const size_t slice = (veil_pbs128_ggsw_words(s) * sizeof *pf + slices - 1) / slices;
    for (size_t j = 0; j < level; j++) {
        const char *from = pf ? (const char *)pf + ((col * P + pr) * level + j) * slice : NULL;
        veil_ntt128_forward_prefetch(tm->t, pr, res[j], from, slice);
    }
}

/* One limb at a time: the multiply-accumulate then streams 9 key rows at
 * once; fusing both limbs (the digit rows read once) was faster with the key
 * in cache but slower streaming it from memory (18 streams). */
static void task_mac(const struct veil_pbs128_team *tm, struct veil_pbs128_scratch *sc,
                     const uint64_t *ggsw, size_t col, unsigned pr)
{
    const struct veil_pbs128_shape *s = tm->s;
    const size_t n = s->poly, k = s->k, rows = veil_pbs128_rows(s), stride = veil_pbs128_stride(s);
    const uint64_t *a[(VEIL_PBS128_MAX_K + 1) * VEIL_PBS128_MAX_LEVEL];
    const uint64_t *b[(VEIL_PBS128_MAX_K + 1) * VEIL_PBS128_MAX_LEVEL];
    for (unsigned limb = 0; limb < VEIL_NTT128_LIMBS; limb++) {
        const unsigned ch = limb * P + pr;
        for (size_t row = 0; row < rows; row++) {
            a[row] = sc->dntt + (row * P + pr) * stride;
            b[row] = ggsw + ((row * (k + 1) + col) * CH + ch) * stride;
        }
        uint64_t *o = sc->out + (col * CH + ch) * n;
        veil_ntt128_mac(tm->t, pr, o, a, b, rows);
        veil_ntt128_inverse(tm->t, pr, o);
    }
}

static void task_crt(const struct veil_pbs128_team *tm, struct veil_pbs128_scratch *sc, size_t col,
                     unsigned part)
{
    const size_t n = tm->s->poly;
    const uint64_t *res[CH];
    for (unsigned ch = 0; ch < CH; ch++)
        res[ch] = sc->out + (col * CH + ch) * n;
    veil_ntt128_crt_add_part(tm->t, sc->acc + col * n, res, part * n / P, (part + 1) * n / P);
}

/* Task `task` of phase `phase` of CMux step `step` (a no-op for a block
 * whose rotation at this step is 0). */
static void team_task(const struct veil_pbs128_team *tm, size_t step, unsigned phase, size_t task)
{
    const size_t per_block = (tm->s->k + 1) * P;
    const size_t block = task / per_block, col = (task % per_block) / P;
    const unsigned sub = (unsigned)(task % P);
    const size_t r = team_rotation(tm, block, step);
    struct veil_pbs128_scratch *sc = &tm->scs[block];
    if (r == 0)
        return;
    const uint64_t *ggsw = tm->bsk + step * veil_pbs128_ggsw_words(tm->s);
    if (phase == PHASE_DIGITS)
        task_digits(tm, sc, col, sub, r, block == 0 ? ggsw : NULL);
    else if (phase == PHASE_MAC)
        task_mac(tm, sc, ggsw, col, sub);
    else
        task_crt(tm, sc, col, sub);
}

void veil_pbs128_team_init(struct veil_pbs128_team *tm, const struct veil_ntt128 *t,
                           const struct veil_pbs128_shape *s, const uint64_t *bsk,
                           const uint64_t *const *lwes, const veil_u128_t *lut, size_t count,
                           struct veil_pbs128_scratch *scs)
{
    tm->t = t;
    tm->s = s;
    tm->bsk = bsk;
    tm->lwes = lwes;
    tm->count = count;
    tm->scs = scs;
    tm->phase_tasks = count * (s->k + 1) * P;
    tm->total = s->lwe_dim * PHASES * tm->phase_tasks;
    atomic_init(&tm->next, 0);
    atomic_init(&tm->done, 0);
    atomic_init(&tm->active, 0);
    for (size_t c = 0; c < count; c++)
        rotate_init(s, lwes[c], lut, scs[c].acc);
}

/* Steps out of the team unless this is its last member (who must finish). */
static int team_leave(struct veil_pbs128_team *tm)
{
    unsigned active = atomic_load(&tm->active);
    while (active > 1)
        if (atomic_compare_exchange_weak(&tm->active, &active, active - 1))
            return 1;
    return 0;
}

/* Nanoseconds of waiting after which another member is taken not to be
 * running (a loaded machine): the waiter then yields the CPU while it
 * waits, and once its task is done it steps out of the team, rather than
 * run in lockstep with threads the scheduler keeps apart. An idle machine's
 * waits are a fraction of one task (tens of microseconds). */
#define TEAM_PATIENCE_NS 200000
/* A member that stepped out stays away TEAM_AWAY_MIN_NS, then rejoins if
 * the machine has a core to spare (1-minute load average below 1.5 per
 * online CPU, our own threads included); otherwise it stays out for the
 * rest of the batch, as every member did before session 5. Each further
 * step-out doubles the time away, up to TEAM_AWAY_MAX_NS; TEAM_AWAY_RESET
 * tasks done without a long wait bring it back to the minimum. Leaving for
 * good dropped the second thread of a 2-thread batch within its first 2% of
 * tasks in every instrumented run, so one preemption on a quiet machine
 * made the batch single-threaded; rejoining on a loaded one (load 15-20)
 * tripled its wall time (each rejoin ends in a wait for a preempted
 * member). The away member sleeps in slices, so it returns soon after the
 * last task is claimed. */
#define TEAM_AWAY_MIN_NS   1000000
#define TEAM_AWAY_MAX_NS   64000000
#define TEAM_AWAY_SLICE_NS 100000
#define TEAM_AWAY_RESET    2000
#define TEAM_SPARE_LOAD    1.5

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits until `done` reaches phase_start; returns 1 when the wait was long. */
static int team_wait(struct veil_pbs128_team *tm, size_t phase_start)
{
    uint64_t start = 0;
    int long_wait = 0;
    for (unsigned spins = 1; atomic_load_explicit(&tm->done, memory_order_acquire) < phase_start;
         spins++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        if (spins % 256 != 0)
            continue;
        if (long_wait) {
            sched_yield(); /* whoever we wait for may need this CPU */
        } else if (start == 0) {
            start = now_ns();
        } else if (now_ns() - start > TEAM_PATIENCE_NS) {
            long_wait = 1;
        }
    }
    return long_wait;
}

/* Whether the machine has a core to spare for a member to rejoin (taken
 * as no when the load average cannot be read). */
static int team_spare_core(void)
{
    double load = 0;
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1 || getloadavg(&load, 1) != 1)
        return 0;
    return load < TEAM_SPARE_LOAD * (double)cpus;
}

/* Off the team (holding no task) for away_ns, or until every task is
 * claimed; returns 1 when it should rejoin. */
static int team_away(struct veil_pbs128_team *tm, uint64_t away_ns)
{
    const uint64_t until = now_ns() + away_ns;
    const struct timespec slice = {0, TEAM_AWAY_SLICE_NS};
    while (atomic_load(&tm->next) < tm->total) {
        if (now_ns() >= until)
            return team_spare_core();
        nanosleep(&slice, NULL);
    }
    return 0;
}

void veil_pbs128_team_work(struct veil_pbs128_team *tm)
{
    uint64_t away_ns = TEAM_AWAY_MIN_NS;
    size_t calm = 0; /* tasks since the last long wait */
    atomic_fetch_add(&tm->active, 1);
    for (;;) {
        const size_t ticket = atomic_fetch_add(&tm->next, 1);
        if (ticket >= tm->total)
            break;
        const int long_wait = team_wait(tm, ticket - ticket % tm->phase_tasks);
        const size_t phase_index = ticket / tm->phase_tasks;
        team_task(tm, phase_index / PHASES, (unsigned)(phase_index % PHASES),
                  ticket % tm->phase_tasks);
        atomic_fetch_add_explicit(&tm->done, 1, memory_order_release);
        if (!long_wait) {
            if (++calm >= TEAM_AWAY_RESET)
                away_ns = TEAM_AWAY_MIN_NS;
            continue;
        }
        calm = 0;
        if (!team_leave(tm))
            continue; /* the last member stays */
        if (!team_away(tm, away_ns))
            return;
        away_ns = away_ns * 2 > TEAM_AWAY_MAX_NS ? TEAM_AWAY_MAX_NS : away_ns * 2;
        atomic_fetch_add(&tm->active, 1); /* rejoins */
    }
    atomic_fetch_sub(&tm->active, 1);
}

void veil_pbs128_blind_rotate_batch(const struct veil_ntt128 *t, const struct veil_pbs128_shape *s,
                                    const uint64_t *bsk, const uint64_t *const *lwes,
                                    const veil_u128_t *lut, size_t count,
                                    struct veil_pbs128_scratch *scs)
{
    struct veil_pbs128_team tm;
    veil_pbs128_team_init(&tm, t, s, bsk, lwes, lut, count, scs);
    veil_pbs128_team_work(&tm);
}

void veil_pbs128_sample_extract(veil_u128_t *mask, veil_u128_t *body, const veil_u128_t *acc,
                                size_t k, size_t n)
{
    for (size_t j = 0; j < k; j++) {
        const veil_u128_t *a = acc + j * n;
        veil_u128_t *out = mask + j * n;
        out[0] = a[0];
        for (size_t i = 1; i < n; i++)
            out[i] = (veil_u128_t)0 - a[n - i];
    }
    *body = acc[k * n];
}
