// SPDX-License-Identifier: Apache-2.0
/*
 * keys.c - generation of client, server and compact public keys, compact
 * list encryption and expansion (see keys.h).
 *
 * RNG stream layout (ChaCha20 nonce per object, so threads cannot change
 * the output): client key stream 0 of the client seed; KSK row i: stream
 * (1<<32 | i) of the mask seed (masks) and of the noise seed (noise); BSK
 * GGSW i: stream (2<<32 | i); public key: stream 3<<32.
 */
#include "keys.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/lwe.h"
#include "threadpool.h"

#define STREAM_KSK (UINT64_C(1) << 32)
#define STREAM_BSK (UINT64_C(2) << 32)
#define STREAM_PK  (UINT64_C(3) << 32)

/* ---------------------------------------------------------------- client */

int veil_fhe_client_key_alloc(struct veil_shortint_client_key **out,
                              const struct veil_fhe_params *p, veil_err *err)
{
    *out = NULL;
    struct veil_shortint_client_key *ck = calloc(1, sizeof *ck);
    if (!ck)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for client key");
    ck->params = p;
    ck->small_key = calloc(p->lwe_dim, sizeof(uint64_t));
    ck->big_key = calloc(veil_fhe_big_lwe_dim(p), sizeof(uint64_t));
    if (!ck->small_key || !ck->big_key) {
        veil_fhe_client_key_free(ck);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for client key");
    }
    *out = ck;
    return 0;
}

int veil_fhe_client_key_generate(struct veil_shortint_client_key **out,
                                 const struct veil_fhe_params *p,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN], veil_err *err)
{
    if (veil_fhe_client_key_alloc(out, p, err) < 0)
        return -1;
    struct veil_shortint_client_key *ck = *out;
    struct veil_fhe_rng rng;
    if (seed)
        veil_fhe_rng_init(&rng, seed, 0);
    else
        veil_fhe_rng_init_random(&rng);
    veil_fhe_rng_binary(&rng, ck->small_key, p->lwe_dim);
    veil_fhe_rng_binary(&rng, ck->big_key, veil_fhe_big_lwe_dim(p));
    veil_fhe_rng_wipe(&rng);
    return 0;
}

void veil_fhe_client_key_free(struct veil_shortint_client_key *ck)
{
    if (!ck)
        return;
    if (ck->small_key) {
        veil_memzero(ck->small_key, ck->params->lwe_dim * sizeof(uint64_t));
        free(ck->small_key);
    }
    if (ck->big_key) {
        veil_memzero(ck->big_key, veil_fhe_big_lwe_dim(ck->params) * sizeof(uint64_t));
        free(ck->big_key);
    }
    veil_memzero(ck, sizeof *ck);
    free(ck);
}

/* ---------------------------------------------------------------- server */

static void bsk_shape_of(const struct veil_fhe_params *p, struct veil_fhe_bsk_shape *s)
{
    s->lwe_dim = p->lwe_dim;
    s->k = p->glwe_dim;
    s->poly = p->poly_size;
    s->base_log = p->pbs_base_log;
    s->level = p->pbs_level;
}

size_t veil_fhe_server_key_ksk_rows(const struct veil_fhe_params *p)
{
    return veil_fhe_big_lwe_dim(p) * p->ks_level;
}

size_t veil_fhe_server_key_bsk_body_words(const struct veil_fhe_params *p)
{
    return (size_t)p->lwe_dim * (p->glwe_dim + 1) * p->pbs_level * p->poly_size;
}

size_t veil_fhe_server_key_memory(const struct veil_fhe_params *p)
{
    struct veil_fhe_bsk_shape s;
    bsk_shape_of(p, &s);
    return p->lwe_dim * veil_fhe_ggsw_fourier_doubles(&s) * sizeof(double) +
           veil_fhe_server_key_bsk_body_words(p) * sizeof(uint64_t) +
           veil_fhe_server_key_ksk_rows(p) *
               ((p->lwe_dim + 1) * sizeof(uint32_t) + sizeof(uint64_t));
}

int veil_fhe_server_key_alloc(struct veil_shortint_server_key **out,
                              const struct veil_fhe_params *p, veil_err *err)
{
    *out = NULL;
    struct veil_shortint_server_key *sk = calloc(1, sizeof *sk);
    if (!sk)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for server key");
    sk->params = p;
    bsk_shape_of(p, &sk->bsk_shape);
    if (veil_fhe_fft_get(p->poly_size, &sk->fft, err) < 0) {
        free(sk);
        return -1;
    }
    sk->bsk_fourier = veil_fhe_aligned_alloc(
        p->lwe_dim * veil_fhe_ggsw_fourier_doubles(&sk->bsk_shape) * sizeof(double));
    sk->bsk_bodies = calloc(veil_fhe_server_key_bsk_body_words(p), sizeof(uint64_t));
    sk->ksk_bodies = calloc(veil_fhe_server_key_ksk_rows(p), sizeof(uint64_t));
    sk->ksk32 = veil_fhe_aligned_alloc(veil_fhe_server_key_ksk_rows(p) * (p->lwe_dim + 1) *
                                       sizeof(uint32_t));
    if (!sk->bsk_fourier || !sk->bsk_bodies || !sk->ksk_bodies || !sk->ksk32) {
        veil_fhe_server_key_free(sk);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for server key");
    }
    *out = sk;
    return 0;
}

void veil_fhe_server_key_free(struct veil_shortint_server_key *sk)
{
    if (!sk)
        return;
    veil_fhe_aligned_free(sk->bsk_fourier);
    free(sk->bsk_bodies);
    free(sk->ksk_bodies);
    veil_fhe_aligned_free(sk->ksk32);
    free(sk);
}

struct keygen_job {
    const struct veil_shortint_client_key *ck;
    struct veil_shortint_server_key *sk;
    uint8_t noise_seed[VEIL_FHE_SEED_LEN];
    atomic_int failed; /* set by any worker that ran out of memory */
};

/* KSK row i: level LWE encryptions (small key, LWE noise) of
 * big_key[i] * 2^(64 - (j+1) ks_base_log); keeps only the bodies (expand()
 * regenerates the masks). */
static void keygen_ksk_row(void *arg, size_t i)
{
    struct keygen_job *job = arg;
    const struct veil_fhe_params *p = job->sk->params;
    const size_t n = p->lwe_dim;
    uint64_t *ct = malloc((n + 1) * sizeof(uint64_t));
    if (!ct) {
        atomic_store(&job->failed, 1);
        return;
    }
    struct veil_fhe_rng mask_rng, noise_rng;
    veil_fhe_rng_init(&mask_rng, job->sk->mask_seed, STREAM_KSK | i);
    veil_fhe_rng_init(&noise_rng, job->noise_seed, STREAM_KSK | i);
    for (unsigned j = 0; j < p->ks_level; j++) {
        uint64_t mu = job->ck->big_key[i] << (64 - (j + 1) * p->ks_base_log);
        veil_fhe_lwe_encrypt(ct, job->ck->small_key, n, mu, p->lwe_noise_log2, &mask_rng,
                             &noise_rng);
        job->sk->ksk_bodies[i * p->ks_level + j] = ct[n];
    }
    veil_fhe_rng_wipe(&noise_rng);
    veil_memzero(ct, (n + 1) * sizeof(uint64_t));
    free(ct);
}

static void keygen_bsk_ggsw(void *arg, size_t i)
{
    struct keygen_job *job = arg;
    struct veil_shortint_server_key *sk = job->sk;
    const struct veil_fhe_params *p = sk->params;
    const struct veil_fhe_bsk_shape *s = &sk->bsk_shape;
    uint64_t *ggsw = malloc(veil_fhe_ggsw_words(s) * sizeof(uint64_t));
    if (!ggsw) {
        atomic_store(&job->failed, 1);
        return;
    }
    struct veil_fhe_rng mask_rng, noise_rng;
    veil_fhe_rng_init(&mask_rng, sk->mask_seed, STREAM_BSK | i);
    veil_fhe_rng_init(&noise_rng, job->noise_seed, STREAM_BSK | i);
    veil_fhe_ggsw_encrypt(ggsw, s, job->ck->big_key, job->ck->small_key[i], p->glwe_noise_log2,
                          &mask_rng, &noise_rng);
    veil_fhe_rng_wipe(&noise_rng);
    const size_t rows = (s->k + 1) * s->level, row_words = (s->k + 1) * s->poly;
    for (size_t r = 0; r < rows; r++)
        memcpy(sk->bsk_bodies + (i * rows + r) * s->poly, ggsw + r * row_words + s->k * s->poly,
               s->poly * sizeof(uint64_t));
    veil_memzero(ggsw, veil_fhe_ggsw_words(s) * sizeof(uint64_t));
    free(ggsw);
}

int veil_fhe_server_key_generate(struct veil_shortint_server_key **out,
                                 const struct veil_shortint_client_key *ck,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN],
                                 struct veil_threadpool *pool, veil_err *err)
{
    const struct veil_fhe_params *p = ck->params;
    if (veil_fhe_server_key_alloc(out, p, err) < 0)
        return -1;
    struct veil_shortint_server_key *sk = *out;
    struct keygen_job job = {.ck = ck, .sk = sk};
    uint8_t root[VEIL_FHE_SEED_LEN];
    if (seed)
        memcpy(root, seed, sizeof root);
    else
        veil_fhe_random_seed(root);
    veil_fhe_seed_derive(sk->mask_seed, root, "veil-fhe server key mask");
    veil_fhe_seed_derive(job.noise_seed, root, "veil-fhe server key noise");
    veil_memzero(root, sizeof root);

    veil_threadpool_for(pool, veil_fhe_big_lwe_dim(p), keygen_ksk_row, &job);
    veil_threadpool_for(pool, p->lwe_dim, keygen_bsk_ggsw, &job);
    veil_memzero(job.noise_seed, sizeof job.noise_seed);
    if (atomic_load(&job.failed)) {
        veil_fhe_server_key_free(sk);
        *out = NULL;
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory during server key generation");
    }
    /* Masks are regenerated from the seed; the BSK goes to the Fourier domain. */
    if (veil_fhe_server_key_expand(sk, pool, err) < 0) {
        veil_fhe_server_key_free(sk);
        *out = NULL;
        return -1;
    }
    return 0;
}

struct expand_job {
    struct veil_shortint_server_key *sk;
    atomic_int failed; /* set by any worker that ran out of memory */
};

static void expand_ksk_row(void *arg, size_t i)
{
    struct expand_job *job = arg;
    const struct veil_fhe_params *p = job->sk->params;
    const size_t n = p->lwe_dim;
    struct veil_fhe_rng mask_rng;
    veil_fhe_rng_init(&mask_rng, job->sk->mask_seed, STREAM_KSK | i);
    for (unsigned j = 0; j < p->ks_level; j++) {
        const size_t row = i * p->ks_level + j;
        uint32_t *out = job->sk->ksk32 + row * (n + 1);
        for (size_t c = 0; c < n; c++)
            out[c] = veil_fhe_round_to_u32(veil_fhe_rng_u64(&mask_rng));
        out[n] = veil_fhe_round_to_u32(job->sk->ksk_bodies[row]);
    }
}

static void expand_bsk_ggsw(void *arg, size_t i)
{
    struct expand_job *job = arg;
    struct veil_shortint_server_key *sk = job->sk;
    const struct veil_fhe_bsk_shape *s = &sk->bsk_shape;
    const size_t rows = (s->k + 1) * s->level, row_words = (s->k + 1) * s->poly;
    uint64_t *ggsw = malloc(veil_fhe_ggsw_words(s) * sizeof(uint64_t));
    double *scratch = veil_fhe_aligned_alloc(s->poly * sizeof(double));
    if (!ggsw || !scratch) {
        free(ggsw);
        veil_fhe_aligned_free(scratch);
        atomic_store(&job->failed, 1);
        return;
    }
    struct veil_fhe_rng mask_rng;
    veil_fhe_rng_init(&mask_rng, sk->mask_seed, STREAM_BSK | i);
    for (size_t r = 0; r < rows; r++) {
        uint64_t *row = ggsw + r * row_words;
        veil_fhe_rng_uniform(&mask_rng, row, s->k * s->poly);
        memcpy(row + s->k * s->poly, sk->bsk_bodies + (i * rows + r) * s->poly,
               s->poly * sizeof(uint64_t));
    }
    veil_fhe_ggsw_to_fourier(sk->fft, s, sk->bsk_fourier + i * veil_fhe_ggsw_fourier_doubles(s),
                             ggsw, scratch);
    free(ggsw);
    veil_fhe_aligned_free(scratch);
}

int veil_fhe_server_key_expand(struct veil_shortint_server_key *sk, struct veil_threadpool *pool,
                               veil_err *err)
{
    struct expand_job job = {.sk = sk};
    veil_threadpool_for(pool, veil_fhe_big_lwe_dim(sk->params), expand_ksk_row, &job);
    veil_threadpool_for(pool, sk->params->lwe_dim, expand_bsk_ggsw, &job);
    if (atomic_load(&job.failed))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory expanding the server key");
    return 0;
}

/* ---------------------------------------------------------------- public */

int veil_fhe_public_key_alloc(struct veil_fhe_public_key **out, const struct veil_fhe_params *p,
                              veil_err *err)
{
    *out = NULL;
    const size_t m = veil_fhe_big_lwe_dim(p);
    struct veil_fhe_public_key *pk = calloc(1, sizeof *pk);
    if (!pk)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for public key");
    pk->params = p;
    pk->a = calloc(m, sizeof(uint64_t));
    pk->b = calloc(m, sizeof(uint64_t));
    if (!pk->a || !pk->b) {
        veil_fhe_public_key_free(pk);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for public key");
    }
    *out = pk;
    return 0;
}

void veil_fhe_public_key_free(struct veil_fhe_public_key *pk)
{
    if (!pk)
        return;
    free(pk->a);
    free(pk->b);
    free(pk);
}

void veil_fhe_public_key_expand(struct veil_fhe_public_key *pk)
{
    struct veil_fhe_rng rng;
    veil_fhe_rng_init(&rng, pk->mask_seed, STREAM_PK);
    veil_fhe_rng_uniform(&rng, pk->a, veil_fhe_big_lwe_dim(pk->params));
}

/* b = a * S + e over Z/2^64[X]/(X^M + 1), M = k*N, e ~ TUniform(glwe bound):
 * an RLWE sample under the big key, with the GLWE key's security. */
int veil_fhe_public_key_generate(struct veil_fhe_public_key **out,
                                 const struct veil_shortint_client_key *ck,
                                 const uint8_t seed[VEIL_FHE_SEED_LEN], veil_err *err)
{
    const struct veil_fhe_params *p = ck->params;
    if (veil_fhe_public_key_alloc(out, p, err) < 0)
        return -1;
    struct veil_fhe_public_key *pk = *out;
    const size_t m = veil_fhe_big_lwe_dim(p);
    uint8_t root[VEIL_FHE_SEED_LEN], noise_seed[VEIL_FHE_SEED_LEN];
    if (seed)
        memcpy(root, seed, sizeof root);
    else
        veil_fhe_random_seed(root);
    veil_fhe_seed_derive(pk->mask_seed, root, "veil-fhe public key mask");
    veil_fhe_seed_derive(noise_seed, root, "veil-fhe public key noise");
    veil_memzero(root, sizeof root);
    veil_fhe_public_key_expand(pk);
    struct veil_fhe_rng noise;
    veil_fhe_rng_init(&noise, noise_seed, STREAM_PK);
    veil_memzero(noise_seed, sizeof noise_seed);
    veil_fhe_poly_mul_binary(pk->b, pk->a, ck->big_key, m);
    veil_fhe_rng_tuniform_add(&noise, pk->b, m, p->glwe_noise_log2);
    veil_fhe_rng_wipe(&noise);
    return 0;
}

/* ---------------------------------------------------------------- lists */

int veil_fhe_compact_list_alloc(struct veil_fhe_compact_list **out, const struct veil_fhe_params *p,
                                size_t count, veil_err *err)
{
    *out = NULL;
    const size_t m = veil_fhe_big_lwe_dim(p);
    if (count == 0 || count > m)
        return veil_err_set(err, VEIL_E_RANGE, "compact list holds 1..%zu blocks, not %zu", m,
                            count);
    struct veil_fhe_compact_list *l = calloc(1, sizeof *l);
    if (!l)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for compact list");
    l->params = p;
    l->count = count;
    l->mask = calloc(m, sizeof(uint64_t));
    l->body = calloc(m, sizeof(uint64_t));
    if (!l->mask || !l->body) {
        veil_fhe_compact_list_free(l);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for compact list");
    }
    *out = l;
    return 0;
}

void veil_fhe_compact_list_free(struct veil_fhe_compact_list *list)
{
    if (!list)
        return;
    free(list->mask);
    free(list->body);
    free(list);
}

/* mask = a*r + e1, body = b*r + e2 + Delta*m with r a fresh binary
 * polynomial: phase = body - mask*S = e*r + e2 - e1*S + Delta*m. With
 * TUniform(2^17) noise and M = 2048 the error's standard deviation is about
 * 2^23, far below Delta/2 = 2^58, so decryption is exact. */
int veil_fhe_compact_list_encrypt(struct veil_fhe_compact_list **out,
                                  const struct veil_fhe_public_key *pk, const uint64_t *values,
                                  size_t count, veil_err *err)
{
    const struct veil_fhe_params *p = pk->params;
    const size_t m = veil_fhe_big_lwe_dim(p);
    if (count == 0 || count > m)
        return veil_err_set(err, VEIL_E_RANGE, "compact list holds 1..%zu blocks, not %zu", m,
                            count);
    for (size_t i = 0; i < count; i++)
        if (values[i] >= p->message_modulus)
            return veil_err_set(err, VEIL_E_RANGE, "compact list value %zu is %llu, must be < %llu",
                                i, (unsigned long long)values[i],
                                (unsigned long long)p->message_modulus);
    if (veil_fhe_compact_list_alloc(out, p, count, err) < 0)
        return -1;
    struct veil_fhe_compact_list *l = *out;
    uint64_t *r = calloc(m, sizeof(uint64_t));
    if (!r) {
        veil_fhe_compact_list_free(l);
        *out = NULL;
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for compact encryption");
    }
    struct veil_fhe_rng rng;
    veil_fhe_rng_init_random(&rng);
    veil_fhe_rng_binary(&rng, r, m);
    veil_fhe_poly_mul_binary(l->mask, pk->a, r, m);
    veil_fhe_rng_tuniform_add(&rng, l->mask, m, p->glwe_noise_log2);
    veil_fhe_poly_mul_binary(l->body, pk->b, r, m);
    veil_fhe_rng_tuniform_add(&rng, l->body, m, p->glwe_noise_log2);
    const uint64_t delta = veil_fhe_delta(p);
    for (size_t i = 0; i < count; i++)
        l->body[i] += values[i] * delta;
    veil_fhe_rng_wipe(&rng);
    veil_memzero(r, m * sizeof(uint64_t));
    free(r);
    return 0;
}

/* Coefficient i of mask*S is sum_{j<=i} mask[i-j] S_j - sum_{j>i} mask[M+i-j] S_j,
 * so block i is the LWE ciphertext (a', body[i]) with those coefficients. */
int veil_fhe_compact_list_expand(const struct veil_fhe_compact_list *list, size_t index,
                                 struct veil_shortint_ct *out, veil_err *err)
{
    const size_t m = veil_fhe_big_lwe_dim(list->params);
    if (index >= list->count)
        return veil_err_set(err, VEIL_E_RANGE, "compact list index %zu out of range (%zu blocks)",
                            index, list->count);
    for (size_t j = 0; j <= index; j++)
        out->data[j] = list->mask[index - j];
    for (size_t j = index + 1; j < m; j++)
        out->data[j] = (uint64_t)0 - list->mask[m + index - j];
    out->data[m] = list->body[index];
    out->degree = list->params->message_modulus - 1;
    out->noise_level = 1;
    return 0;
}

int64_t veil_fhe_noise_of(const struct veil_shortint_client_key *ck,
                          const struct veil_shortint_ct *ct, uint64_t m)
{
    const struct veil_fhe_params *p = ck->params;
    uint64_t phase = veil_fhe_lwe_phase(ct->data, ck->big_key, veil_fhe_big_lwe_dim(p));
    return (int64_t)(phase - m * veil_fhe_delta(p));
}
