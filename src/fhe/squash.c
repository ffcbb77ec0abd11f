// SPDX-License-Identifier: Apache-2.0
/*
 * squash.c - noise squashing (include/veil/squash.h): squashing-key
 * generation, the squash of a radix ciphertext (keyswitch to the small key
 * with the ordinary server key, then the 128-bit PBS of core/pbs128.c and
 * sample extraction), and decryption with the whole squashing secret.
 *
 * RNG layout (deterministic per seed whatever the thread count): from the
 * 32-byte root seed, BLAKE2b-derived seeds "veil-sq secret" (stream 0: the
 * 4096 key bits), "veil-sq mask" (stream i: every mask of GGSW i; public,
 * stored in the key file) and "veil-sq noise" (stream i: GGSW i's noise).
 */
#include <veil/squash.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "api_internal.h"
#include "core/lwe.h"
#include "integer.h"
#include "keys.h"
#include "params.h"
#include "shortint.h"
#include "squash_internal.h"
#include "threadpool.h"

void veil_sq_shape_default(struct veil_pbs128_shape *s)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    s->lwe_dim = p->lwe_dim;
    s->k = VEIL_SQ_GLWE_DIM;
    s->poly = VEIL_SQ_POLY;
    s->base_log = VEIL_SQ_BASE_LOG;
    s->level = VEIL_SQ_LEVEL;
    s->noise_log2 = VEIL_SQ_NOISE_LOG;
}

/* The body of a trivial GLWE whose box v (width N/16, shifted by half a box
 * so that phases round to the nearest value) holds v * 2^123; the negacyclic
 * wrap negates the half box moved to the end (as shortint.c builds its
 * 64-bit accumulators). */
void veil_sq_build_lut(veil_u128_t *lut, size_t n)
{
    const size_t space = 16, box = n / space, half = box / 2;
    for (size_t j = 0; j < n; j++) {
        const size_t src = j + half;
        if (src < n)
            lut[j] = (veil_u128_t)(src / box) << VEIL_SQ_LOG_DELTA;
        else
            lut[j] = (veil_u128_t)0 - ((veil_u128_t)((src - n) / box) << VEIL_SQ_LOG_DELTA);
    }
}

/* The NTT-domain key, on 2 MiB boundaries and marked for transparent huge
 * pages (where the kernel offers them on request): a squash streams all of
 * it, and with 4 KiB pages its 1.6 GB would be 400,000 TLB entries to walk
 * and fault in one by one. Released with free(). */
static uint64_t *bsk_alloc(size_t bytes)
{
    enum { HUGE = 2u << 20 };
    void *p = NULL;
    if (posix_memalign(&p, HUGE, (bytes + HUGE - 1) / HUGE * HUGE) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, (bytes + HUGE - 1) / HUGE * HUGE, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
    return p;
}

int veil_sq_key_alloc(unsigned threads, veil_sq_key **out, veil_err *err)
{
    *out = NULL;
    veil_sq_key *key = calloc(1, sizeof *key);
    if (!key)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a squashing key");
    veil_sq_shape_default(&key->shape);
    veil_sq_build_lut(key->lut, key->shape.poly);
    if (veil_ntt128_init(&key->ntt, key->shape.poly, err) < 0) {
        free(key);
        return -1;
    }
    key->bsk =
        bsk_alloc(key->shape.lwe_dim * veil_pbs128_ggsw_words(&key->shape) * sizeof(uint64_t));
    if (!key->bsk) {
        veil_sq_key_free(key);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a squashing key (%zu MB)",
                            veil_sq_key_size(NULL) >> 20);
    }
    if (veil_threadpool_create(&key->pool, threads, err) < 0) {
        veil_sq_key_free(key);
        return -1;
    }
    *out = key;
    return 0;
}

void veil_sq_key_free(veil_sq_key *key)
{
    if (!key)
        return;
    free(key->bsk);
    veil_ntt128_free(&key->ntt);
    if (key->pool)
        veil_threadpool_destroy(key->pool);
    free(key);
}

size_t veil_sq_key_size(const veil_sq_key *key)
{
    struct veil_pbs128_shape s;
    veil_sq_shape_default(&s);
    (void)key; /* every key has the same shape */
    return sizeof(struct veil_sq_key) + s.lwe_dim * veil_pbs128_ggsw_words(&s) * sizeof(uint64_t) +
           VEIL_NTT128_PRIMES * 6 * s.poly * sizeof(uint64_t);
}

unsigned veil_sq_key_threads(const veil_sq_key *key)
{
    return veil_threadpool_size(key->pool);
}

int veil_sq_key_set_threads(veil_sq_key *key, unsigned threads, veil_err *err)
{
    struct veil_threadpool *pool = NULL;
    if (veil_threadpool_create(&pool, threads, err) < 0)
        return -1;
    veil_threadpool_destroy(key->pool);
    key->pool = pool;
    return 0;
}

/* ---------------------------------------------------------------- keygen */

struct keygen_job {
    veil_sq_key *key;
    const uint64_t *small_key; /* the 64-bit client key's small LWE key */
    const uint8_t *glwe_key;   /* the squashing secret */
    const uint64_t *kntt;
    uint8_t noise_seed[VEIL_FHE_SEED_LEN];
    atomic_int failed;
};

static void keygen_item(void *arg, size_t i)
{
    struct keygen_job *job = arg;
    veil_sq_key *key = job->key;
    struct veil_pbs128_scratch sc;
    veil_err err;
    if (veil_pbs128_scratch_init(&sc, &key->shape, &err) < 0) {
        atomic_store(&job->failed, 1);
        return;
    }
    struct veil_fhe_rng mask_rng, noise_rng;
    veil_fhe_rng_init(&mask_rng, key->mask_seed, i);
    veil_fhe_rng_init(&noise_rng, job->noise_seed, i);
    uint64_t *ggsw = key->bsk + i * veil_pbs128_ggsw_words(&key->shape);
    veil_pbs128_ggsw_encrypt(&key->ntt, &key->shape, job->glwe_key, job->kntt,
                             (unsigned)job->small_key[i], &mask_rng, &noise_rng, ggsw, NULL, &sc);
    /* The scratch held mask * key products: secret-dependent. */
    veil_memzero(sc.out, (key->shape.k + 1) * VEIL_NTT128_CHANNELS * key->shape.poly * 8);
    veil_pbs128_scratch_free(&sc);
    veil_fhe_rng_wipe(&noise_rng);
    veil_fhe_rng_wipe(&mask_rng);
}

static void derive_secret(const uint8_t root[VEIL_FHE_SEED_LEN], veil_sq_secret *secret)
{
    uint8_t seed[VEIL_FHE_SEED_LEN];
    uint64_t bits[VEIL_SQ_LWE_DIM];
    struct veil_fhe_rng rng;
    veil_fhe_seed_derive(seed, root, "veil-sq secret");
    veil_fhe_rng_init(&rng, seed, 0);
    veil_fhe_rng_binary(&rng, bits, VEIL_SQ_LWE_DIM);
    for (size_t i = 0; i < VEIL_SQ_LWE_DIM; i++)
        secret->s[i] = (uint8_t)bits[i];
    veil_memzero(bits, sizeof bits);
    veil_memzero(seed, sizeof seed);
    veil_fhe_rng_wipe(&rng);
}

int veil_sq_keygen(const veil_fhe_client *ck, const uint8_t seed[32], unsigned threads,
                   veil_sq_secret *secret, veil_sq_key **key, veil_err *err)
{
    *key = NULL;
    const struct veil_shortint_client_key *sck = ck ? veil_fhe_client_key_of(ck) : NULL;
    if (!sck || sck->params != veil_fhe_params_default())
        return veil_err_set(err, VEIL_E_INVALID,
                            "squashing keys need a client key of the default parameter set");
    return veil_sq_keygen_small(sck->small_key, seed, threads, secret, key, err);
}

int veil_sq_keygen_small(const uint64_t *small_key, const uint8_t seed[32], unsigned threads,
                         veil_sq_secret *secret, veil_sq_key **key, veil_err *err)
{
    *key = NULL;
    veil_sq_key *k = NULL;
    if (veil_sq_key_alloc(threads, &k, err) < 0)
        return -1;
    uint8_t root[VEIL_FHE_SEED_LEN];
    if (seed)
        memcpy(root, seed, sizeof root);
    else
        veil_fhe_random_seed(root);
    derive_secret(root, secret);
    veil_fhe_seed_derive(k->mask_seed, root, "veil-sq mask");
    struct keygen_job *job = calloc(1, sizeof *job);
    uint64_t *kntt = malloc(k->shape.k * VEIL_NTT128_PRIMES * k->shape.poly * sizeof(uint64_t));
    int rc = -1;
    if (!job || !kntt) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory for squashing key generation");
        goto out;
    }
    veil_fhe_seed_derive(job->noise_seed, root, "veil-sq noise");
    veil_pbs128_key_ntt(&k->ntt, &k->shape, secret->s, kntt);
    job->key = k;
    job->small_key = small_key;
    job->glwe_key = secret->s;
    job->kntt = kntt;
    atomic_init(&job->failed, 0);
    veil_threadpool_for(k->pool, k->shape.lwe_dim, keygen_item, job);
    if (atomic_load(&job->failed)) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory while generating the squashing key");
        goto out;
    }
    rc = 0;
out:
    if (kntt) {
        veil_memzero(kntt, k->shape.k * VEIL_NTT128_PRIMES * k->shape.poly * sizeof(uint64_t));
        free(kntt);
    }
    if (job) {
        veil_memzero(job, sizeof *job);
        free(job);
    }
    veil_memzero(root, sizeof root);
    if (rc < 0) {
        veil_memzero(secret, sizeof *secret);
        veil_sq_key_free(k);
        return -1;
    }
    *key = k;
    return 0;
}

/* ---------------------------------------------------------------- squash */

/* One squash: every block keyswitched (blocks spread over the pool), then
 * blind-rotated together as one batch whose tasks every pool thread shares
 * (each GGSW read once for all blocks; the bits never depend on the number
 * of threads), then sample-extracted. */
struct squash_job {
    const veil_sq_key *key;
    const struct veil_shortint_server_key *sk;
    size_t n_blocks; /* of every item together */
    const uint64_t *ins[VEIL_SQ_BATCH_MAX_BLOCKS];
    uint64_t *lwes[VEIL_SQ_BATCH_MAX_BLOCKS];
    uint32_t *ks_accs[VEIL_SQ_BATCH_MAX_BLOCKS];
    size_t ks_parts;
    struct veil_pbs128_team team;
};

/* Part `part` of the output words of every block's keyswitch (the key is
 * read once for all blocks; the words do not depend on the cuts). */
static void keyswitch_item(void *arg, size_t part)
{
    struct squash_job *job = arg;
    const struct veil_fhe_params *p = job->sk->params;
    const size_t words = (size_t)p->lwe_dim + 1;
    veil_fhe_lwe_keyswitch32_batch_range(job->lwes, job->ins, job->n_blocks, job->sk->ksk32,
                                         veil_fhe_big_lwe_dim(p), p->lwe_dim, p->ks_base_log,
                                         p->ks_level, job->ks_accs, words * part / job->ks_parts,
                                         words * (part + 1) / job->ks_parts);
}

static void rotate_item(void *arg, size_t i)
{
    (void)i;
    veil_pbs128_team_work(&((struct squash_job *)arg)->team);
}

/* Scratch and small-key ciphertexts for n blocks (job->ins set); -1 when
 * out of memory (what was allocated is freed by squash_job_free). */
static int squash_job_alloc(struct squash_job *job, struct veil_pbs128_scratch *scs, size_t n,
                            veil_err *err)
{
    const size_t lwe_words = job->sk->params->lwe_dim + 1;
    for (size_t b = 0; b < n; b++) {
        job->lwes[b] = calloc(lwe_words, sizeof(uint64_t));
        job->ks_accs[b] = calloc(lwe_words, sizeof(uint32_t));
        if (!job->lwes[b] || !job->ks_accs[b] ||
            veil_pbs128_scratch_init(&scs[b], &job->key->shape, err) < 0)
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory while squashing");
    }
    return 0;
}

static void squash_job_free(struct squash_job *job, struct veil_pbs128_scratch *scs, size_t n)
{
    for (size_t b = 0; b < n; b++) {
        veil_pbs128_scratch_free(&scs[b]);
        free(job->lwes[b]);
        free(job->ks_accs[b]);
    }
}

uint32_t veil_sq_blocks_for(uint32_t width, uint32_t encoding)
{
    if (width != 1 && width != 8 && width != 16 && width != 32 && width != 64)
        return 0;
    if (encoding == VEIL_SQ_ENC_BLOCKS)
        return width == 1 ? 1 : width / 2;
    if (encoding == VEIL_SQ_ENC_PACKED)
        return width == 1 ? 1 : width / 4;
    return 0;
}

static int check_input(const struct veil_shortint_server_key *sk, const struct veil_radix *in,
                       veil_err *err)
{
    if (sk->params != veil_fhe_params_default())
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "squashing needs a server key of the default parameter set");
    const unsigned w = in->width;
    const size_t want = veil_sq_blocks_for(w, VEIL_SQ_ENC_BLOCKS);
    if (want == 0)
        return veil_err_set(err, VEIL_E_INVALID, "cannot squash a %u-bit ciphertext", w);
    if (in->n_blocks != want || want > VEIL_SQ_MAX_BLOCKS)
        return veil_err_set(err, VEIL_E_INVALID, "a %u-bit ciphertext with %zu blocks", w,
                            in->n_blocks);
    return 0;
}

/* out's blocks for in (width, count, encoding set); -1 when out of memory. */
static int sq_ct_alloc(veil_sq_ct *out, const struct veil_radix *in, uint32_t encoding,
                       veil_err *err)
{
    out->blocks = calloc(in->n_blocks, sizeof *out->blocks);
    if (!out->blocks)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a squashed ciphertext");
    out->width = in->width;
    out->nblocks = (uint32_t)in->n_blocks;
    out->encoding = encoding;
    return 0;
}

/* The keyswitch and blind rotation of job->n_blocks blocks (job->ins set)
 * into scs[b].acc: one pass over each key for all of them. */
static void squash_run(struct squash_job *job, struct veil_pbs128_scratch *scs)
{
    const veil_sq_key *key = job->key;
    veil_threadpool_for(key->pool, job->ks_parts, keyswitch_item, job);
    veil_pbs128_team_init(&job->team, &key->ntt, &key->shape, key->bsk,
                          (const uint64_t *const *)job->lwes, key->lut, job->n_blocks, scs);
    /* more threads than the tasks of a phase would only wait */
    size_t workers = veil_threadpool_size(key->pool);
    if (workers > job->team.phase_tasks)
        workers = job->team.phase_tasks;
    veil_threadpool_for(key->pool, workers, rotate_item, job);
}

/* The squash of already-checked radixes (items[i].in, encoding
 * items[i].enc) into items[i].out, all blocks in one batch. */
struct sq_item {
    const struct veil_radix *in;
    uint32_t enc;
    veil_sq_ct *out;
};

static int squash_items(const veil_sq_key *key, const struct veil_shortint_server_key *ssk,
                        const struct sq_item *items, size_t n_items, veil_err *err)
{
    struct squash_job job = {.key = key, .sk = ssk};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_items; i++) {
        const struct veil_radix *in = items[i].in;
        if (job.n_blocks + in->n_blocks > VEIL_SQ_BATCH_MAX_BLOCKS)
            rc = veil_err_set(err, VEIL_E_INVALID, "more than %u blocks in one squash batch",
                              VEIL_SQ_BATCH_MAX_BLOCKS);
        for (size_t b = 0; rc == 0 && b < in->n_blocks; b++)
            job.ins[job.n_blocks++] = in->blocks[b].data;
        if (rc == 0)
            rc = sq_ct_alloc(items[i].out, in, items[i].enc, err);
    }
    job.ks_parts = veil_threadpool_size(key->pool);
    struct veil_pbs128_scratch *scs = rc == 0 ? calloc(job.n_blocks, sizeof *scs) : NULL;
    if (rc == 0)
        rc = scs ? squash_job_alloc(&job, scs, job.n_blocks, err)
                 : veil_err_set(err, VEIL_E_NOMEM, "out of memory while squashing");
    if (rc == 0) {
        squash_run(&job, scs);
        size_t b = 0;
        for (size_t i = 0; i < n_items; i++)
            for (uint32_t j = 0; j < items[i].out->nblocks; j++, b++)
                veil_pbs128_sample_extract(items[i].out->blocks[j].a, &items[i].out->blocks[j].b,
                                           scs[b].acc, key->shape.k, key->shape.poly);
    }
    if (scs)
        squash_job_free(&job, scs, job.n_blocks);
    free(scs);
    for (size_t i = 0; rc < 0 && i < n_items; i++)
        veil_sq_ct_clear(items[i].out);
    return rc;
}

static const struct veil_radix *radix_of(const veil_fhe_ct *ct, veil_err *err)
{
    const struct veil_fhe_params *params = NULL;
    const struct veil_radix *in = veil_fhe_ct_radix(ct, &params);
    if (params != veil_fhe_params_default()) {
        veil_err_set(err, VEIL_E_MISMATCH,
                     "squashing needs a ciphertext of the default parameter set");
        return NULL;
    }
    return in;
}

int veil_sq_squash(const veil_sq_key *key, veil_fhe_server *sk, const veil_fhe_ct *ct,
                   veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    const struct veil_radix *in = radix_of(ct, err);
    return in ? veil_sq_squash_radix(key, veil_fhe_server_key_of(sk), in, out, err) : -1;
}

int veil_sq_squash_packed(const veil_sq_key *key, veil_fhe_server *sk, const veil_fhe_ct *ct,
                          veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    const struct veil_radix *in = radix_of(ct, err);
    return in ? veil_sq_squash_radix_packed(key, veil_fhe_server_key_of(sk), in, out, err) : -1;
}

int veil_sq_squash_radix(const veil_sq_key *key, const struct veil_shortint_server_key *ssk,
                         const struct veil_radix *in, veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_input(ssk, in, err) < 0)
        return -1;
    const struct sq_item item = {in, VEIL_SQ_ENC_BLOCKS, out};
    return squash_items(key, ssk, &item, 1, err);
}

/* Why blocks lo and hi (NULL: a lone block) cannot be packed as lo + 4 hi:
 * PACK_CARRY (a carry may be set), PACK_NOISE (the packed noise level is
 * above the parameter set's maximum), or PACK_OK. */
enum pack_check { PACK_OK, PACK_CARRY, PACK_NOISE };

static enum pack_check pair_check(const struct veil_fhe_params *p,
                                  const struct veil_shortint_ct *lo,
                                  const struct veil_shortint_ct *hi)
{
    if (lo->degree >= p->message_modulus || (hi && hi->degree >= p->message_modulus))
        return PACK_CARRY;
    if (hi && (uint64_t)hi->noise_level * p->message_modulus + lo->noise_level > p->max_noise_level)
        return PACK_NOISE;
    return PACK_OK;
}

static const struct veil_shortint_ct *hi_of(const struct veil_radix *in, size_t i)
{
    return 2 * i + 1 < in->n_blocks ? &in->blocks[2 * i + 1] : NULL;
}

/* Whether every pair of blocks can be packed. */
static int packable(const struct veil_fhe_params *p, const struct veil_radix *in)
{
    for (size_t i = 0; 2 * i < in->n_blocks; i++)
        if (pair_check(p, &in->blocks[2 * i], hi_of(in, i)) != PACK_OK)
            return 0;
    return 1;
}

int veil_sq_squash_compact(const veil_sq_key *key, veil_fhe_server *sk, const veil_fhe_ct *ct,
                           veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    const struct veil_radix *in = radix_of(ct, err);
    if (!in)
        return -1;
    const struct veil_shortint_server_key *ssk = veil_fhe_server_key_of(sk);
    if (check_input(ssk, in, err) < 0)
        return -1;
    return packable(ssk->params, in) ? veil_sq_squash_radix_packed(key, ssk, in, out, err)
                                     : veil_sq_squash_radix(key, ssk, in, out, err);
}

/* Block i of the packed radix: in's blocks 2i (lo) and 2i+1 (hi) as lo + 4 hi
 * (a lone block, FheBool, is copied). Fails unless the carries are clean. */
static int pack_block(const struct veil_fhe_params *p, const struct veil_radix *in, size_t i,
                      struct veil_shortint_ct *out, veil_err *err)
{
    const struct veil_shortint_ct *lo = &in->blocks[2 * i], *hi = hi_of(in, i);
    switch (pair_check(p, lo, hi)) {
    case PACK_CARRY:
        return veil_err_set(err, VEIL_E_INVALID,
                            "cannot pack blocks %zu-%zu for squashing: a carry is not clean "
                            "(degrees %llu, %llu; propagate carries first)",
                            2 * i, 2 * i + 1, (unsigned long long)lo->degree,
                            (unsigned long long)(hi ? hi->degree : 0));
    case PACK_NOISE:
        return veil_err_set(err, VEIL_E_INVALID,
                            "cannot pack blocks %zu-%zu for squashing: noise level %u x %llu + "
                            "%u above %u (bootstrap them first)",
                            2 * i, 2 * i + 1, hi->noise_level,
                            (unsigned long long)p->message_modulus, lo->noise_level,
                            p->max_noise_level);
    case PACK_OK:
        break;
    }
    if (hi)
        veil_shortint_pack_pair(p, out, hi, lo);
    else
        veil_shortint_ct_copy(out, lo, p);
    return 0;
}

/* A packed copy of in's blocks (veil_sq_blocks_for(width, PACKED) of
 * them) in pr (storage: packed, VEIL_SQ_MAX_BLOCKS entries); release with
 * packed_free even on failure. */
static int packed_radix(const struct veil_fhe_params *p, const struct veil_radix *in,
                        struct veil_radix *pr, struct veil_shortint_ct *packed, veil_err *err)
{
    *pr = (struct veil_radix){.width = in->width, .n_blocks = 0, .blocks = packed};
    const size_t want = veil_sq_blocks_for(in->width, VEIL_SQ_ENC_PACKED);
    for (; pr->n_blocks < want; pr->n_blocks++) {
        if (veil_shortint_ct_init(&packed[pr->n_blocks], p, err) < 0)
            return -1;
        if (pack_block(p, in, pr->n_blocks, &packed[pr->n_blocks], err) < 0) {
            pr->n_blocks++;
            return -1;
        }
    }
    return 0;
}

static void packed_free(struct veil_radix *pr)
{
    for (size_t i = 0; i < pr->n_blocks; i++)
        veil_shortint_ct_free(&pr->blocks[i]);
    pr->n_blocks = 0;
}

int veil_sq_squash_radix_packed(const veil_sq_key *key, const struct veil_shortint_server_key *ssk,
                                const struct veil_radix *in, veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (check_input(ssk, in, err) < 0)
        return -1;
    struct veil_shortint_ct packed[VEIL_SQ_MAX_BLOCKS];
    struct veil_radix pr;
    int rc = packed_radix(ssk->params, in, &pr, packed, err);
    if (rc == 0) {
        const struct sq_item item = {&pr, VEIL_SQ_ENC_PACKED, out};
        rc = squash_items(key, ssk, &item, 1, err);
    }
    packed_free(&pr);
    return rc;
}

/* Each ciphertext's compact choice (packed when its carries allow), all
 * blocks of all of them squashed in one batch. */
struct compact_batch {
    struct veil_radix pr[VEIL_SQ_BATCH_MAX_CTS];
    struct veil_shortint_ct packed[VEIL_SQ_BATCH_MAX_CTS][VEIL_SQ_MAX_BLOCKS];
    struct sq_item items[VEIL_SQ_BATCH_MAX_CTS];
};

static int compact_prepare(const struct veil_shortint_server_key *ssk, const veil_fhe_ct *ct,
                           struct compact_batch *cb, size_t i, veil_sq_ct *out, veil_err *err)
{
    const struct veil_radix *in = radix_of(ct, err);
    if (!in || check_input(ssk, in, err) < 0)
        return -1;
    cb->items[i] = (struct sq_item){in, VEIL_SQ_ENC_BLOCKS, out};
    if (!packable(ssk->params, in))
        return 0;
    cb->items[i] = (struct sq_item){&cb->pr[i], VEIL_SQ_ENC_PACKED, out};
    return packed_radix(ssk->params, in, &cb->pr[i], cb->packed[i], err);
}

int veil_sq_squash_compact_batch(const veil_sq_key *key, veil_fhe_server *sk,
                                 const veil_fhe_ct *const *cts, size_t n, veil_sq_ct *outs,
                                 veil_err *err)
{
    for (size_t i = 0; i < n; i++)
        memset(&outs[i], 0, sizeof outs[i]);
    if (n == 0 || n > VEIL_SQ_BATCH_MAX_CTS)
        return veil_err_set(err, VEIL_E_INVALID, "a squash batch holds 1 to %u ciphertexts",
                            VEIL_SQ_BATCH_MAX_CTS);
    struct compact_batch *cb = calloc(1, sizeof *cb);
    if (!cb)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory while squashing");
    const struct veil_shortint_server_key *ssk = veil_fhe_server_key_of(sk);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = compact_prepare(ssk, cts[i], cb, i, &outs[i], err);
    if (rc == 0)
        rc = squash_items(key, ssk, cb->items, n, err);
    for (size_t i = 0; i < n; i++)
        packed_free(&cb->pr[i]);
    free(cb);
    return rc;
}

void veil_sq_ct_clear(veil_sq_ct *ct)
{
    if (!ct)
        return;
    free(ct->blocks);
    memset(ct, 0, sizeof *ct);
}

/* ---------------------------------------------------------------- decrypt */

veil_u128 veil_sq_block_phase(const veil_sq_secret *secret, const veil_sq_block *blk)
{
    veil_u128 dot = 0;
    for (size_t i = 0; i < VEIL_SQ_LWE_DIM; i++)
        dot += blk->a[i] * secret->s[i];
    return blk->b - dot;
}

unsigned veil_sq_decode_block(veil_u128 phase)
{
    const veil_u128 half = (veil_u128)1 << (VEIL_SQ_LOG_DELTA - 1);
    return (unsigned)((phase + half) >> VEIL_SQ_LOG_DELTA) & 15u;
}

uint64_t veil_sq_recompose(const unsigned *block_values, uint32_t nblocks, uint32_t width,
                           uint32_t encoding)
{
    const unsigned bits = encoding == VEIL_SQ_ENC_PACKED ? 4 : 2;
    const unsigned mask = (1u << bits) - 1;
    uint64_t v = 0;
    for (uint32_t i = 0; i < nblocks && bits * i < 64; i++)
        v |= (uint64_t)(block_values[i] & mask) << (bits * i);
    return width >= 64 ? v : v & ((UINT64_C(1) << width) - 1);
}

int veil_sq_decrypt(const veil_sq_secret *secret, const veil_sq_ct *ct, uint64_t *value,
                    veil_err *err)
{
    if (!ct->blocks || ct->nblocks == 0 || ct->nblocks > VEIL_SQ_MAX_BLOCKS ||
        ct->nblocks != veil_sq_blocks_for(ct->width, ct->encoding))
        return veil_err_set(err, VEIL_E_INVALID,
                            "squashed ciphertext of width %u, encoding %u has %u blocks", ct->width,
                            ct->encoding, ct->nblocks);
    unsigned vals[VEIL_SQ_MAX_BLOCKS];
    for (uint32_t i = 0; i < ct->nblocks; i++)
        vals[i] = veil_sq_decode_block(veil_sq_block_phase(secret, &ct->blocks[i]));
    *value = veil_sq_recompose(vals, ct->nblocks, ct->width, ct->encoding);
    veil_memzero(vals, sizeof vals);
    return 0;
}
