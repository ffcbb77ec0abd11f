// SPDX-License-Identifier: Apache-2.0
/*
 * shortint.c - short-integer blocks over the core TFHE layer (implements
 * shortint.h): encoding with one padding bit, encryption under the big key,
 * linear operations with degree tracking, lookup tables and the
 * keyswitch -> PBS pattern, serially or spread over a thread pool.
 */
#include "shortint.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/lwe.h"
#include "core/pbs.h"
#include "keys.h"
#include "threadpool.h"

static size_t ct_words(const struct veil_fhe_params *p)
{
    return veil_fhe_big_lwe_dim(p) + 1;
}

int veil_shortint_ct_init(struct veil_shortint_ct *ct, const struct veil_fhe_params *p,
                          veil_err *err)
{
    ct->data = calloc(ct_words(p), sizeof(uint64_t));
    ct->degree = 0;
    ct->noise_level = 0;
    if (!ct->data)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a shortint block");
    return 0;
}

void veil_shortint_ct_free(struct veil_shortint_ct *ct)
{
    if (!ct)
        return;
    free(ct->data);
    ct->data = NULL;
}

void veil_shortint_ct_copy(struct veil_shortint_ct *dst, const struct veil_shortint_ct *src,
                           const struct veil_fhe_params *p)
{
    if (dst == src)
        return;
    memcpy(dst->data, src->data, ct_words(p) * sizeof(uint64_t));
    dst->degree = src->degree;
    dst->noise_level = src->noise_level;
}

int veil_shortint_encrypt(const struct veil_shortint_client_key *ck, uint64_t m,
                          struct veil_shortint_ct *out, veil_err *err)
{
    const struct veil_fhe_params *p = ck->params;
    const uint64_t space = p->message_modulus * p->carry_modulus;
    if (m >= space)
        return veil_err_set(err, VEIL_E_RANGE, "block value %llu out of range (< %llu)",
                            (unsigned long long)m, (unsigned long long)space);
    struct veil_fhe_rng rng;
    veil_fhe_rng_init_random(&rng);
    veil_fhe_lwe_encrypt(out->data, ck->big_key, veil_fhe_big_lwe_dim(p), m * veil_fhe_delta(p),
                         p->glwe_noise_log2, &rng, &rng);
    veil_fhe_rng_wipe(&rng);
    out->degree = m < p->message_modulus ? p->message_modulus - 1 : space - 1;
    out->noise_level = 1;
    return 0;
}

uint64_t veil_shortint_decrypt(const struct veil_shortint_client_key *ck,
                               const struct veil_shortint_ct *ct)
{
    const struct veil_fhe_params *p = ck->params;
    const uint64_t delta = veil_fhe_delta(p);
    uint64_t phase = veil_fhe_lwe_phase(ct->data, ck->big_key, veil_fhe_big_lwe_dim(p));
    uint64_t rounded = (phase + delta / 2) / delta;
    return rounded % (p->message_modulus * p->carry_modulus);
}

void veil_shortint_trivial(const struct veil_fhe_params *p, uint64_t m,
                           struct veil_shortint_ct *out)
{
    const uint64_t space = p->message_modulus * p->carry_modulus;
    memset(out->data, 0, ct_words(p) * sizeof(uint64_t));
    out->data[veil_fhe_big_lwe_dim(p)] = (m % space) * veil_fhe_delta(p);
    out->degree = m % space;
    out->noise_level = 0;
}

void veil_shortint_add_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                              const struct veil_shortint_ct *b)
{
    const size_t w = ct_words(p);
    for (size_t i = 0; i < w; i++)
        a->data[i] += b->data[i];
    a->degree += b->degree;
    a->noise_level += b->noise_level;
}

/* Smallest multiple of message_modulus >= degree (at least one): adding it
 * keeps -b non-negative in the block's plaintext space (TFHE-rs
 * unchecked_sub's correcting term). */
static uint64_t correcting_term(const struct veil_fhe_params *p, uint64_t degree)
{
    uint64_t msg = p->message_modulus;
    uint64_t z = (degree + msg - 1) / msg;
    if (z == 0)
        z = 1;
    return z * msg;
}

void veil_shortint_sub_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                              const struct veil_shortint_ct *b)
{
    const size_t w = ct_words(p);
    const uint64_t z = correcting_term(p, b->degree);
    for (size_t i = 0; i < w; i++)
        a->data[i] -= b->data[i];
    a->data[w - 1] += z * veil_fhe_delta(p);
    a->degree += z;
    a->noise_level += b->noise_level;
}

void veil_shortint_scalar_add_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                                     uint64_t scalar)
{
    a->data[ct_words(p) - 1] += scalar * veil_fhe_delta(p);
    a->degree += scalar;
}

void veil_shortint_scalar_mul_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a,
                                     uint64_t scalar)
{
    const size_t w = ct_words(p);
    for (size_t i = 0; i < w; i++)
        a->data[i] *= scalar;
    a->degree *= scalar;
    a->noise_level *= (uint32_t)scalar;
}

void veil_shortint_neg_assign(const struct veil_fhe_params *p, struct veil_shortint_ct *a)
{
    const size_t w = ct_words(p);
    const uint64_t z = correcting_term(p, a->degree);
    for (size_t i = 0; i < w; i++)
        a->data[i] = (uint64_t)0 - a->data[i];
    a->data[w - 1] += z * veil_fhe_delta(p);
    a->degree = z;
}

void veil_shortint_pack_pair(const struct veil_fhe_params *p, struct veil_shortint_ct *out,
                             const struct veil_shortint_ct *a, const struct veil_shortint_ct *b)
{
    const size_t w = ct_words(p);
    const uint64_t msg = p->message_modulus;
    for (size_t i = 0; i < w; i++)
        out->data[i] = a->data[i] * msg + b->data[i];
    out->degree = a->degree * msg + b->degree;
    out->noise_level = a->noise_level * (uint32_t)msg + b->noise_level;
}

/* The accumulator holds f(i) * Delta on the i-th box of N / (msg*carry)
 * coefficients, rotated left by half a box (negating what wraps) so that a
 * phase anywhere within half a box of i * Delta lands on f(i) (TFHE-rs
 * generate_lookup_table). */
/* Fills a fresh accumulator from values[0..space) (already reduced). */
static uint64_t *build_accumulator(const struct veil_fhe_params *p, const uint64_t *values)
{
    const size_t n = p->poly_size, k = p->glwe_dim;
    const uint64_t space = p->message_modulus * p->carry_modulus;
    const uint64_t delta = veil_fhe_delta(p);
    const size_t box = n / space, half = box / 2;
    uint64_t *acc = calloc((k + 1) * n, sizeof(uint64_t));
    uint64_t *tmp = calloc(n, sizeof(uint64_t));
    if (!acc || !tmp) {
        free(acc);
        free(tmp);
        return NULL;
    }
    for (uint64_t i = 0; i < space; i++)
        for (size_t t = 0; t < box; t++)
            tmp[i * box + t] = values[i] * delta;
    uint64_t *body = acc + k * n;
    for (size_t j = 0; j + half < n; j++)
        body[j] = tmp[j + half];
    for (size_t t = 0; t < half; t++)
        body[n - half + t] = (uint64_t)0 - tmp[t];
    free(tmp);
    return acc;
}

#define VEIL_SHORTINT_SPACE_MAX 256

int veil_shortint_lut_init(struct veil_shortint_lut *lut, const struct veil_fhe_params *p,
                           uint64_t (*f)(uint64_t x, void *arg), void *arg, veil_err *err)
{
    const uint64_t space = p->message_modulus * p->carry_modulus;
    uint64_t values[VEIL_SHORTINT_SPACE_MAX];
    lut->acc = NULL;
    lut->degree = 0;
    if (space > VEIL_SHORTINT_SPACE_MAX)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "block space %llu too large for a LUT",
                            (unsigned long long)space);
    for (uint64_t i = 0; i < space; i++) {
        values[i] = f(i, arg) % space;
        if (values[i] > lut->degree)
            lut->degree = values[i];
    }
    lut->acc = build_accumulator(p, values);
    if (!lut->acc)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a lookup table");
    return 0;
}

/* f on the lower half of the boxes, g on the upper half: the phase of x
 * (< space/2) lands in box x, and coefficient N/2 of the rotated
 * accumulator reads box x + space/2. */
int veil_shortint_lut2_init(struct veil_shortint_lut2 *lut, const struct veil_fhe_params *p,
                            uint64_t (*f)(uint64_t x, void *arg), void *f_arg,
                            uint64_t (*g)(uint64_t x, void *arg), void *g_arg, veil_err *err)
{
    const uint64_t space = p->message_modulus * p->carry_modulus, half = space / 2;
    uint64_t values[VEIL_SHORTINT_SPACE_MAX];
    lut->acc = NULL;
    lut->degree[0] = lut->degree[1] = 0;
    if (space > VEIL_SHORTINT_SPACE_MAX)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "block space %llu too large for a LUT",
                            (unsigned long long)space);
    for (uint64_t x = 0; x < half; x++) {
        values[x] = f(x, f_arg) % space;
        values[x + half] = g(x, g_arg) % space;
        if (values[x] > lut->degree[0])
            lut->degree[0] = values[x];
        if (values[x + half] > lut->degree[1])
            lut->degree[1] = values[x + half];
    }
    lut->acc = build_accumulator(p, values);
    if (!lut->acc)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a lookup table");
    return 0;
}

void veil_shortint_lut2_free(struct veil_shortint_lut2 *lut)
{
    if (!lut)
        return;
    free(lut->acc);
    lut->acc = NULL;
}

void veil_shortint_lut_free(struct veil_shortint_lut *lut)
{
    if (!lut)
        return;
    free(lut->acc);
    lut->acc = NULL;
}

/* KS (big -> small key) then PBS (small -> big key through the LUT). */
static void apply_lut_with(const struct veil_shortint_server_key *sk, struct veil_shortint_ct *ct,
                           const struct veil_shortint_lut *lut, struct veil_fhe_pbs_scratch *sc)
{
    const struct veil_fhe_params *p = sk->params;
    veil_fhe_lwe_keyswitch32(sc->lwe, ct->data, sk->ksk32, veil_fhe_big_lwe_dim(p), p->lwe_dim,
                             p->ks_base_log, p->ks_level, sc->ks_acc);
    veil_fhe_pbs(sk->fft, &sk->bsk_shape, sk->bsk_fourier, sc->lwe, lut->acc, ct->data, sc);
    ct->degree = lut->degree;
    ct->noise_level = 1;
}

int veil_shortint_apply_lut(const struct veil_shortint_server_key *sk, struct veil_shortint_ct *ct,
                            const struct veil_shortint_lut *lut, veil_err *err)
{
    struct veil_fhe_pbs_scratch sc;
    if (veil_fhe_pbs_scratch_init(&sc, &sk->bsk_shape, err) < 0)
        return -1;
    apply_lut_with(sk, ct, lut, &sc);
    veil_fhe_pbs_scratch_free(&sc);
    return 0;
}

/* Batches run in two phases. First the keyswitch of every input, split over
 * the pool by output words: each thread streams its share of the 30 MB
 * keyswitching key once for the whole batch (the key rows are read once
 * per thread instead of once per group, and two threads read disjoint
 * halves instead of the whole key each; the keyswitch is integer
 * arithmetic, exact whatever the split). Then the blind rotations, in
 * groups: each group bootstraps its ciphertexts together
 * (veil_fhe_blind_rotate_batch), so the 60 MB bootstrapping key is
 * streamed once per group instead of once per block. Groups are formed
 * from the item count and the pool size only, and every block gets
 * exactly the operations of a lone KS+PBS, so results do not depend on the
 * grouping or the thread count. */
#define VEIL_PBS_GROUP_MAX 4

struct batch_job {
    const struct veil_shortint_server_key *sk;
    const struct veil_shortint_pbs_job *jobs;
    size_t n, groups, ks_parts;
    const uint64_t **ins; /* n inputs (big LWE) */
    uint64_t **smalls;    /* n keyswitched inputs (small LWE) */
    uint32_t **ks_accs;   /* n keyswitch accumulators */
    atomic_int failed;    /* set by any worker that ran out of memory */
};

/* Keyswitch output words [lo, hi) of part t: near-equal shares, cut at
 * multiples of 16 words for the vector loops. */
static void ks_range(size_t words, size_t parts, size_t t, size_t *lo, size_t *hi)
{
    size_t a = (t * words / parts + 15) & ~(size_t)15;
    size_t b = t + 1 == parts ? words : ((t + 1) * words / parts + 15) & ~(size_t)15;
    *lo = a < words ? a : words;
    *hi = b < words ? b : words;
}

static void batch_keyswitch(void *arg, size_t t)
{
    struct batch_job *job = arg;
    const struct veil_fhe_params *p = job->sk->params;
    size_t lo, hi;
    ks_range((size_t)p->lwe_dim + 1, job->ks_parts, t, &lo, &hi);
    veil_fhe_lwe_keyswitch32_batch_range(job->smalls, job->ins, job->n, job->sk->ksk32,
                                         veil_fhe_big_lwe_dim(p), p->lwe_dim, p->ks_base_log,
                                         p->ks_level, job->ks_accs, lo, hi);
}

static void batch_group(void *arg, size_t g)
{
    struct batch_job *job = arg;
    const struct veil_shortint_server_key *sk = job->sk;
    const struct veil_fhe_params *p = sk->params;
    const size_t first = g * job->n / job->groups, last = (g + 1) * job->n / job->groups;
    const size_t count = last - first;
    struct veil_fhe_pbs_scratch scs[VEIL_PBS_GROUP_MAX];
    const uint64_t *smalls[VEIL_PBS_GROUP_MAX] = {0}, *luts[VEIL_PBS_GROUP_MAX] = {0};
    size_t ready = 0;
    for (; ready < count; ready++) {
        if (veil_fhe_pbs_scratch_init(&scs[ready], &sk->bsk_shape, NULL) < 0)
            break;
        const struct veil_shortint_pbs_job *jb = &job->jobs[first + ready];
        smalls[ready] = job->smalls[first + ready];
        luts[ready] = jb->lut ? jb->lut->acc : jb->lut2->acc;
    }
    if (ready < count) {
        atomic_store(&job->failed, 1);
    } else {
        veil_fhe_blind_rotate_batch(sk->fft, &sk->bsk_shape, sk->bsk_fourier, smalls, luts, count,
                                    scs);
        for (size_t c = 0; c < count; c++) {
            const struct veil_shortint_pbs_job *jb = &job->jobs[first + c];
            veil_fhe_glwe_sample_extract(jb->out->data, scs[c].acc, p->glwe_dim, p->poly_size);
            jb->out->noise_level = 1;
            if (jb->lut) {
                jb->out->degree = jb->lut->degree;
            } else {
                jb->out->degree = jb->lut2->degree[0];
                veil_fhe_glwe_sample_extract_at(jb->out2->data, scs[c].acc, p->glwe_dim,
                                                p->poly_size, p->poly_size / 2);
                jb->out2->degree = jb->lut2->degree[1];
                jb->out2->noise_level = 1;
            }
        }
    }
    for (size_t c = 0; c < ready; c++)
        veil_fhe_pbs_scratch_free(&scs[c]);
}

int veil_shortint_apply_jobs(const struct veil_shortint_server_key *sk,
                             const struct veil_shortint_pbs_job *jobs, size_t n,
                             struct veil_threadpool *pool, veil_err *err)
{
    const struct veil_fhe_params *p = sk->params;
    const uint64_t half_space = p->message_modulus * p->carry_modulus / 2;
    for (size_t i = 0; i < n; i++) {
        const struct veil_shortint_pbs_job *jb = &jobs[i];
        if (!jb->in || !jb->out || (!jb->lut == !jb->lut2) || (jb->lut2 && !jb->out2))
            return veil_err_set(err, VEIL_E_INVALID, "PBS job %zu is malformed", i);
        if (jb->lut2 && jb->in->degree >= half_space)
            return veil_err_set(
                err, VEIL_E_RANGE,
                "two-function LUT needs an input of degree < %llu, job %zu has %llu",
                (unsigned long long)half_space, i, (unsigned long long)jb->in->degree);
    }
    if (n == 0)
        return 0;
    const size_t threads = veil_threadpool_size(pool);
    /* At least one group per thread, at most VEIL_PBS_GROUP_MAX blocks each. */
    size_t groups = threads;
    if (groups > n)
        groups = n;
    if ((n + groups - 1) / groups > VEIL_PBS_GROUP_MAX)
        groups = (n + VEIL_PBS_GROUP_MAX - 1) / VEIL_PBS_GROUP_MAX;
    const size_t words = (size_t)p->lwe_dim + 1;
    struct batch_job job = {.sk = sk, .jobs = jobs, .n = n, .groups = groups};
    /* One keyswitch part per thread, none narrower than 64 words. */
    job.ks_parts = threads < words / 64 ? threads : words / 64;
    if (job.ks_parts == 0)
        job.ks_parts = 1;
    if (n > SIZE_MAX / (words * sizeof(uint64_t)))
        return veil_err_set(err, VEIL_E_LIMIT, "PBS batch of %zu blocks is too large", n);
    job.ins = calloc(n, sizeof *job.ins);
    job.smalls = calloc(n, sizeof *job.smalls);
    job.ks_accs = calloc(n, sizeof *job.ks_accs);
    /* plain heap blocks: short-lived, and never worth a huge page */
    uint64_t *small_mem = malloc(n * words * sizeof(uint64_t));
    uint32_t *acc_mem = malloc(n * words * sizeof(uint32_t));
    int rc = 0;
    if (!job.ins || !job.smalls || !job.ks_accs || !small_mem || !acc_mem) {
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory in a PBS batch");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        job.ins[i] = jobs[i].in->data;
        job.smalls[i] = small_mem + i * words;
        job.ks_accs[i] = acc_mem + i * words;
    }
    /* Every input is keyswitched before any output is written, so an output
     * may be its own job's input. */
    veil_threadpool_for(pool, job.ks_parts, batch_keyswitch, &job);
    veil_threadpool_for(pool, groups, batch_group, &job);
    if (atomic_load(&job.failed))
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory in a PBS batch");
out:
    free(job.ins);
    free(job.smalls);
    free(job.ks_accs);
    free(small_mem);
    free(acc_mem);
    return rc;
}

int veil_shortint_apply_lut_batch(const struct veil_shortint_server_key *sk,
                                  struct veil_shortint_ct *const *cts,
                                  const struct veil_shortint_lut *const *luts, size_t n,
                                  struct veil_threadpool *pool, veil_err *err)
{
    if (n == 0)
        return 0;
    struct veil_shortint_pbs_job *jobs = calloc(n, sizeof *jobs);
    if (!jobs)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory in a PBS batch");
    for (size_t i = 0; i < n; i++) {
        jobs[i].in = cts[i];
        jobs[i].out = cts[i];
        jobs[i].lut = luts[i];
    }
    int rc = veil_shortint_apply_jobs(sk, jobs, n, pool, err);
    free(jobs);
    return rc;
}

int veil_shortint_apply_lut2(const struct veil_shortint_server_key *sk,
                             const struct veil_shortint_ct *in,
                             const struct veil_shortint_lut2 *lut, struct veil_shortint_ct *out_f,
                             struct veil_shortint_ct *out_g, veil_err *err)
{
    struct veil_shortint_pbs_job job = {.in = in, .lut2 = lut, .out = out_f, .out2 = out_g};
    return veil_shortint_apply_jobs(sk, &job, 1, NULL, err);
}
