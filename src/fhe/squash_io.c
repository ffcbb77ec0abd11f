// SPDX-License-Identifier: Apache-2.0
/*
 * squash_io.c - files of noise squashing (include/veil/squash.h): squashed
 * ciphertexts and squashing keys in the fhe container (serialize.h: magic,
 * version, kind, parameter-set id, exact payload length, BLAKE2b-256), and
 * the digest parties compare.
 *
 * Squashed ciphertext payload (kind VEIL_SQ_KIND_CT): u16 width | u16
 * encoding (0 blocks, 1 packed: squash.h) | u32 block count | per block 4097
 * words (a_0..a_4095, b), each 16 bytes little-endian.
 * Squashing key payload (kind VEIL_SQ_KIND_KEY): u32 lwe_dim | u32 k |
 * u32 N | u32 base_log | u32 level | u32 noise_log2 (must equal the fixed
 * squashing parameters) | mask seed (32) | the GGSW row bodies, lwe_dim x
 * (k+1) level x N words of 16 bytes little-endian. The masks are regenerated
 * from the seed (a seeded key, as TFHE-rs's compressed keys): a third of the
 * standard-domain size.
 */
#include <veil/squash.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "params.h"
#include "serialize.h"
#include "squash_internal.h"
#include "threadpool.h"

#define SQ_WORD_BYTES   16u
#define SQ_BLOCK_BYTES  ((VEIL_SQ_LWE_DIM + 1) * SQ_WORD_BYTES)
#define SQ_KEY_FILE_MAX ((size_t)320 << 20) /* the key is ~271 MB */
#define SQ_CT_FILE_MAX  ((size_t)4 << 20)   /* 32 blocks: ~2.1 MB */

static void put_u128(uint8_t *dst, veil_u128 v)
{
    for (int i = 0; i < 16; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

static veil_u128 get_u128(const uint8_t *src)
{
    veil_u128 v = 0;
    for (int i = 15; i >= 0; i--)
        v = (v << 8) | src[i];
    return v;
}

static int check_shape(uint32_t width, uint32_t encoding, uint32_t nblocks, veil_err *err)
{
    const uint32_t want = veil_sq_blocks_for(width, encoding);
    if (want == 0)
        return veil_err_set(err, VEIL_E_INVALID, "squashed ciphertext has width %u, encoding %u",
                            width, encoding);
    if (nblocks != want)
        return veil_err_set(err, VEIL_E_INVALID,
                            "squashed %u-bit ciphertext (encoding %u) has %u blocks, expected %u",
                            width, encoding, nblocks, want);
    return 0;
}

/* ---------------------------------------------------------------- ciphertexts */

int veil_sq_ct_serialize(const veil_sq_ct *ct, veil_buf *out, veil_err *err)
{
    if (check_shape(ct->width, ct->encoding, ct->nblocks, err) < 0)
        return veil_err_wrap(err, "cannot serialize");
    if (!ct->blocks)
        return veil_err_set(err, VEIL_E_INVALID,
                            "cannot serialize a squashed ciphertext "
                            "without blocks");
    size_t start = veil_fhe_container_begin(out, VEIL_SQ_KIND_CT, veil_fhe_params_default()->id);
    veil_buf_put_u16le(out, (uint16_t)ct->width);
    veil_buf_put_u16le(out, (uint16_t)ct->encoding);
    veil_buf_put_u32le(out, ct->nblocks);
    for (uint32_t i = 0; i < ct->nblocks; i++) {
        uint8_t *dst = veil_buf_extend(out, SQ_BLOCK_BYTES);
        if (!dst)
            break;
        for (size_t j = 0; j < VEIL_SQ_LWE_DIM; j++)
            put_u128(dst + j * SQ_WORD_BYTES, ct->blocks[i].a[j]);
        put_u128(dst + VEIL_SQ_LWE_DIM * SQ_WORD_BYTES, ct->blocks[i].b);
    }
    return veil_fhe_container_end(out, start, err);
}

/* The container's kind first, for a message that names what was found. */
static int open_kind(const uint8_t *data, size_t len, uint16_t want, const char *what,
                     veil_reader *payload, veil_err *err)
{
    uint16_t kind;
    uint32_t id;
    if (veil_fhe_container_peek(data, len, &kind, &id, err) < 0)
        return veil_err_wrap(err, "not a %s", what);
    if (kind != want)
        return veil_err_set(err, VEIL_E_MISMATCH, "not a %s: the file holds a %s (kind %u)", what,
                            veil_fhe_kind_name(kind), kind);
    if (veil_fhe_container_open(data, len, want, veil_fhe_params_default(), payload, NULL, err) < 0)
        return veil_err_wrap(err, "%s", what);
    return 0;
}

int veil_sq_ct_deserialize(const uint8_t *data, size_t len, veil_sq_ct *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    veil_reader r;
    if (open_kind(data, len, VEIL_SQ_KIND_CT, "squashed ciphertext", &r, err) < 0)
        return -1;
    const uint32_t width = veil_read_u16le(&r), encoding = veil_read_u16le(&r);
    const uint32_t nblocks = veil_read_u32le(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "squashed ciphertext payload truncated");
    if (check_shape(width, encoding, nblocks, err) < 0)
        return -1;
    if (veil_reader_remaining(&r) != (size_t)nblocks * SQ_BLOCK_BYTES)
        return veil_err_set(err, VEIL_E_RANGE,
                            "squashed ciphertext payload has %zu block bytes, expected %zu",
                            veil_reader_remaining(&r), (size_t)nblocks * SQ_BLOCK_BYTES);
    out->blocks = calloc(nblocks, sizeof *out->blocks);
    if (!out->blocks)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory for a squashed ciphertext");
    for (uint32_t i = 0; i < nblocks; i++) {
        const uint8_t *src = veil_read_borrow(&r, SQ_BLOCK_BYTES);
        if (!src)
            break;
        for (size_t j = 0; j < VEIL_SQ_LWE_DIM; j++)
            out->blocks[i].a[j] = get_u128(src + j * SQ_WORD_BYTES);
        out->blocks[i].b = get_u128(src + VEIL_SQ_LWE_DIM * SQ_WORD_BYTES);
    }
    if (!veil_reader_ok(&r) || !veil_reader_at_end(&r)) {
        veil_sq_ct_clear(out);
        return veil_err_set(err, VEIL_E_RANGE, "squashed ciphertext payload malformed");
    }
    out->width = width;
    out->nblocks = nblocks;
    out->encoding = encoding;
    return 0;
}

int veil_sq_ct_save(const veil_sq_ct *ct, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_sq_ct_serialize(ct, &b, err);
    if (rc == 0)
        rc = veil_file_write_atomic(path, b.data, b.len, 0644, err);
    veil_buf_free(&b);
    return rc;
}

int veil_sq_ct_load(const char *path, veil_sq_ct *out, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    if (veil_file_read(path, SQ_CT_FILE_MAX, &data, &len, err) < 0)
        return -1;
    int rc = veil_sq_ct_deserialize(data, len, out, err);
    free(data);
    if (rc < 0)
        return veil_err_wrap(err, "%s", path);
    return 0;
}

int veil_sq_ct_digest(const veil_sq_ct *ct, uint8_t out[32], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_sq_ct_serialize(ct, &b, err);
    if (rc == 0)
        crypto_generichash(out, 32, b.data, b.len, NULL, 0);
    veil_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- keys */

static size_t body_bytes_per_ggsw(const struct veil_pbs128_shape *s)
{
    return veil_pbs128_rows(s) * s->poly * SQ_WORD_BYTES;
}

struct key_io_job {
    veil_sq_key *key;
    uint8_t *bytes; /* lwe_dim x body_bytes_per_ggsw */
    atomic_int failed;
};

static void save_item(void *arg, size_t i)
{
    struct key_io_job *job = arg;
    const struct veil_pbs128_shape *s = &job->key->shape;
    const size_t words = veil_pbs128_rows(s) * s->poly;
    struct veil_pbs128_scratch sc;
    veil_err err;
    veil_u128 *bodies = malloc(words * sizeof *bodies);
    if (!bodies || veil_pbs128_scratch_init(&sc, s, &err) < 0) {
        free(bodies);
        atomic_store(&job->failed, 1);
        return;
    }
    veil_pbs128_ggsw_bodies(&job->key->ntt, s, job->key->bsk + i * veil_pbs128_ggsw_words(s),
                            bodies, &sc);
    uint8_t *dst = job->bytes + i * body_bytes_per_ggsw(s);
    for (size_t w = 0; w < words; w++)
        put_u128(dst + w * SQ_WORD_BYTES, bodies[w]);
    veil_pbs128_scratch_free(&sc);
    free(bodies);
}

static void put_shape(veil_buf *b, const struct veil_pbs128_shape *s)
{
    veil_buf_put_u32le(b, (uint32_t)s->lwe_dim);
    veil_buf_put_u32le(b, (uint32_t)s->k);
    veil_buf_put_u32le(b, (uint32_t)s->poly);
    veil_buf_put_u32le(b, s->base_log);
    veil_buf_put_u32le(b, s->level);
    veil_buf_put_u32le(b, s->noise_log2);
}

int veil_sq_key_save(const veil_sq_key *key, const char *path, veil_err *err)
{
    const struct veil_pbs128_shape *s = &key->shape;
    const size_t body_len = s->lwe_dim * body_bytes_per_ggsw(s);
    veil_buf b;
    veil_buf_init(&b);
    size_t start = veil_fhe_container_begin(&b, VEIL_SQ_KIND_KEY, veil_fhe_params_default()->id);
    put_shape(&b, s);
    veil_buf_put(&b, key->mask_seed, sizeof key->mask_seed);
    struct key_io_job job = {.key = (veil_sq_key *)key, .bytes = veil_buf_extend(&b, body_len)};
    atomic_init(&job.failed, 0);
    int rc = -1;
    if (!job.bytes) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing the squashing key");
        goto out;
    }
    veil_threadpool_for(key->pool, s->lwe_dim, save_item, &job);
    if (atomic_load(&job.failed)) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing the squashing key");
        goto out;
    }
    if (veil_fhe_container_end(&b, start, err) < 0 ||
        veil_file_write_atomic(path, b.data, b.len, 0644, err) < 0)
        goto out;
    rc = 0;
out:
    veil_buf_free(&b);
    return rc;
}

static void load_item(void *arg, size_t i)
{
    struct key_io_job *job = arg;
    const struct veil_pbs128_shape *s = &job->key->shape;
    const size_t words = veil_pbs128_rows(s) * s->poly;
    veil_u128 *bodies = malloc(words * sizeof *bodies);
    if (!bodies) {
        atomic_store(&job->failed, 1);
        return;
    }
    const uint8_t *src = job->bytes + i * body_bytes_per_ggsw(s);
    for (size_t w = 0; w < words; w++)
        bodies[w] = get_u128(src + w * SQ_WORD_BYTES);
    struct veil_fhe_rng mask_rng;
    veil_fhe_rng_init(&mask_rng, job->key->mask_seed, i);
    veil_pbs128_ggsw_expand(&job->key->ntt, s, &mask_rng, bodies,
                            job->key->bsk + i * veil_pbs128_ggsw_words(s));
    free(bodies);
}

static int read_shape(veil_reader *r, const struct veil_pbs128_shape *want, veil_err *err)
{
    const uint32_t v[6] = {veil_read_u32le(r), veil_read_u32le(r), veil_read_u32le(r),
                           veil_read_u32le(r), veil_read_u32le(r), veil_read_u32le(r)};
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "squashing key payload truncated");
    if (v[0] != want->lwe_dim || v[1] != want->k || v[2] != want->poly || v[3] != want->base_log ||
        v[4] != want->level || v[5] != want->noise_log2)
        return veil_err_set(
            err, VEIL_E_MISMATCH,
            "squashing key has parameters n=%u k=%u N=%u base_log=%u level=%u "
            "noise=2^%u, expected n=%zu k=%zu N=%zu base_log=%u level=%u noise=2^%u",
            v[0], v[1], v[2], v[3], v[4], v[5], want->lwe_dim, want->k, want->poly, want->base_log,
            want->level, want->noise_log2);
    return 0;
}

int veil_sq_key_deserialize(const uint8_t *data, size_t len, unsigned threads, veil_sq_key **out,
                            veil_err *err)
{
    veil_reader r;
    if (open_kind(data, len, VEIL_SQ_KIND_KEY, "squashing key", &r, err) < 0)
        return -1;
    struct veil_pbs128_shape want;
    veil_sq_shape_default(&want);
    if (read_shape(&r, &want, err) < 0)
        return -1;
    uint8_t seed[VEIL_FHE_SEED_LEN];
    veil_read_bytes(&r, seed, sizeof seed);
    const size_t body_len = want.lwe_dim * body_bytes_per_ggsw(&want);
    const uint8_t *bodies = veil_read_borrow(&r, body_len);
    if (!bodies || !veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_RANGE, "squashing key payload is %zu bytes, expected %zu",
                            r.len, 24 + sizeof seed + body_len);
    veil_sq_key *key = NULL;
    if (veil_sq_key_alloc(threads, &key, err) < 0)
        return -1;
    memcpy(key->mask_seed, seed, sizeof seed);
    struct key_io_job job = {.key = key, .bytes = (uint8_t *)bodies};
    atomic_init(&job.failed, 0);
    veil_threadpool_for(key->pool, want.lwe_dim, load_item, &job);
    if (atomic_load(&job.failed)) {
        veil_sq_key_free(key);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory loading the squashing key");
    }
    *out = key;
    return 0;
}

int veil_sq_key_load(const char *path, unsigned threads, veil_sq_key **out, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    if (veil_file_read(path, SQ_KEY_FILE_MAX, &data, &len, err) < 0)
        return -1;
    int rc = veil_sq_key_deserialize(data, len, threads, out, err);
    free(data);
    if (rc < 0)
        return veil_err_wrap(err, "%s", path);
    return 0;
}
