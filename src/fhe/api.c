// SPDX-License-Identifier: Apache-2.0
/*
 * api.c - the high-level FHE API (include/veil/fhe.h): key sets, files, encryption
 * with the client or the compact public key, decryption, digests, and evaluation
 * through the radix layer (integer.c) on a thread pool owned by the server handle.
 */
#include <veil/fhe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api_internal.h"
#include "integer.h"
#include "keys.h"
#include "params.h"
#include "serialize.h"
#include "threadpool.h"
#include "tfhers_internal.h"

#define MAX_SMALL_FILE  (16u << 20)  /* client/public keys, ciphertexts */
#define MAX_SERVER_FILE (512u << 20) /* server keys are ~30 MB */

struct veil_fhe_client {
    struct veil_shortint_client_key *ck;
};

struct veil_fhe_server {
    const struct veil_fhe_params *params;
    struct veil_shortint_server_key *sk;
    struct veil_threadpool *pool;
    struct veil_int_server ctx;
};

struct veil_fhe_public {
    struct veil_fhe_public_key *pk;
    int foreign; /* from TFHE-rs: no Veil mask seed, so no Veil file form */
};

struct veil_fhe_ct {
    const struct veil_fhe_params *params;
    struct veil_radix r;
};

/* ------------------------------------------------------------------ keys */

void veil_fhe_client_free(veil_fhe_client *ck)
{
    if (!ck)
        return;
    veil_fhe_client_key_free(ck->ck);
    free(ck);
}

void veil_fhe_server_free(veil_fhe_server *sk)
{
    if (!sk)
        return;
    veil_int_server_free(&sk->ctx);
    veil_fhe_server_key_free(sk->sk);
    if (sk->pool)
        veil_threadpool_destroy(sk->pool);
    free(sk);
}

void veil_fhe_public_free(veil_fhe_public *pk)
{
    if (!pk)
        return;
    veil_fhe_public_key_free(pk->pk);
    free(pk);
}

/* Wraps a shortint server key (taking ownership) with a pool and a radix context. */
static int server_wrap(struct veil_shortint_server_key *key, struct veil_threadpool *pool,
                       veil_fhe_server **out, veil_err *err)
{
    veil_fhe_server *s = calloc(1, sizeof *s);
    if (!s) {
        veil_fhe_server_key_free(key);
        if (pool)
            veil_threadpool_destroy(pool);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    s->params = key->params;
    s->sk = key;
    s->pool = pool;
    if (veil_int_server_init(&s->ctx, s->params, s->sk, s->pool, err) != 0) {
        veil_fhe_server_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int veil_fhe_keygen(veil_fhe_client **ck, veil_fhe_server **sk, veil_fhe_public **pk,
                    unsigned threads, veil_err *err)
{
    *ck = NULL;
    if (sk)
        *sk = NULL;
    if (pk)
        *pk = NULL;
    const struct veil_fhe_params *p = veil_fhe_params_default();
    veil_fhe_client *c = calloc(1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (veil_fhe_client_key_generate(&c->ck, p, NULL, err) != 0) {
        free(c);
        return -1;
    }
    if (sk) {
        struct veil_threadpool *pool = NULL;
        struct veil_shortint_server_key *key = NULL;
        if (veil_threadpool_create(&pool, threads, err) != 0 ||
            veil_fhe_server_key_generate(&key, c->ck, NULL, pool, err) != 0 ||
            server_wrap(key, pool, sk, err) != 0) {
            if (pool && !key)
                veil_threadpool_destroy(pool);
            veil_fhe_client_free(c);
            return -1;
        }
    }
    if (pk) {
        veil_fhe_public *q = calloc(1, sizeof *q);
        if (!q || veil_fhe_public_key_generate(&q->pk, c->ck, NULL, err) != 0) {
            if (!q)
                veil_err_set(err, VEIL_E_NOMEM, "out of memory");
            free(q);
            if (sk) {
                veil_fhe_server_free(*sk);
                *sk = NULL;
            }
            veil_fhe_client_free(c);
            return -1;
        }
        *pk = q;
    }
    *ck = c;
    return 0;
}

static int write_buf(const char *path, veil_buf *b, int secret, veil_err *err)
{
    if (!veil_buf_ok(b))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing %s", path);
    int rc = secret ? veil_key_file_write(path, b->data, b->len, err)
                    : veil_file_write_atomic(path, b->data, b->len, 0644, err);
    return rc;
}

int veil_fhe_client_save(const veil_fhe_client *ck, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_client_key_save(ck->ck, &b, err);
    if (rc == 0)
        rc = write_buf(path, &b, 1, err);
    veil_buf_free_secure(&b);
    return rc;
}

int veil_fhe_server_save(const veil_fhe_server *sk, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_server_key_save(sk->sk, &b, err);
    if (rc == 0)
        rc = write_buf(path, &b, 0, err);
    veil_buf_free(&b);
    return rc;
}

int veil_fhe_public_save(const veil_fhe_public *pk, const char *path, veil_err *err)
{
    if (pk->foreign)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "a compact public key read from TFHE-rs has no Veil mask seed: keep it "
                            "in TFHE-rs format (Veil encrypts with it as it is)");
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_public_key_save(pk->pk, &b, err);
    if (rc == 0)
        rc = write_buf(path, &b, 0, err);
    veil_buf_free(&b);
    return rc;
}

static int join_path(char *out, size_t cap, const char *dir, const char *name, veil_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "path too long: %s/%s", dir, name);
    return 0;
}

int veil_fhe_server_keygen_for(const veil_fhe_client *ck, unsigned threads, veil_fhe_server **out,
                               veil_err *err)
{
    *out = NULL;
    struct veil_threadpool *pool = NULL;
    struct veil_shortint_server_key *key = NULL;
    if (veil_threadpool_create(&pool, threads, err) != 0)
        return -1;
    if (veil_fhe_server_key_generate(&key, ck->ck, NULL, pool, err) != 0) {
        veil_threadpool_destroy(pool);
        return -1;
    }
    return server_wrap(key, pool, out, err);
}

int veil_fhe_public_keygen_for(const veil_fhe_client *ck, veil_fhe_public **out, veil_err *err)
{
    *out = NULL;
    struct veil_fhe_public_key *key = NULL;
    if (veil_fhe_public_key_generate(&key, ck->ck, NULL, err) != 0)
        return -1;
    return veil_fhe_public_wrap(key, 0, out, err);
}

int veil_fhe_keygen_dir(const char *dir, veil_err *err)
{
    char path[4096];
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_fhe_public *pk = NULL;
    if (veil_mkdir_p(dir, 0700, err) != 0)
        return veil_err_wrap(err, "creating %s", dir);
    if (veil_fhe_keygen(&ck, &sk, &pk, 0, err) != 0)
        return -1;
    int rc = join_path(path, sizeof path, dir, "client.key", err);
    if (rc == 0)
        rc = veil_fhe_client_save(ck, path, err);
    if (rc == 0)
        rc = join_path(path, sizeof path, dir, "server.key", err);
    if (rc == 0)
        rc = veil_fhe_server_save(sk, path, err);
    if (rc == 0)
        rc = join_path(path, sizeof path, dir, "public.key", err);
    if (rc == 0)
        rc = veil_fhe_public_save(pk, path, err);
    veil_fhe_client_free(ck);
    veil_fhe_server_free(sk);
    veil_fhe_public_free(pk);
    return rc;
}

static int wrong_kind(const char *path, uint16_t want, const uint8_t *data, size_t len,
                      veil_err *err)
{
    uint16_t kind;
    uint32_t id;
    if (veil_fhe_container_peek(data, len, &kind, &id, NULL) == 0 && kind != want)
        return veil_err_set(err, VEIL_E_INVALID, "%s holds a %s, not a %s", path,
                            veil_fhe_kind_name(kind), veil_fhe_kind_name(want));
    return 0;
}

int veil_fhe_client_load(const char *path, veil_fhe_client **out, veil_err *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(path, MAX_SMALL_FILE, &data, &len, err) != 0)
        return -1;
    if (veil_tfhers_detect(data, len)) {
        int trc = veil_fhe_client_deserialize_tfhers(data, len, out, err);
        veil_memzero(data, len);
        free(data);
        return trc == 0 ? 0 : veil_err_wrap(err, "%s", path);
    }
    int rc = wrong_kind(path, VEIL_FHE_KIND_CLIENT_KEY, data, len, err);
    veil_fhe_client *c = rc == 0 ? calloc(1, sizeof *c) : NULL;
    if (rc == 0 && !c)
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0 && veil_fhe_client_key_load(data, len, NULL, &c->ck, err) != 0)
        rc = veil_err_wrap(err, "%s", path);
    veil_memzero(data, len);
    free(data);
    if (rc != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int veil_fhe_server_load(const char *path, unsigned threads, veil_fhe_server **out, veil_err *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_file_read(path, MAX_SERVER_FILE, &data, &len, err) != 0)
        return -1;
    struct veil_threadpool *pool = NULL;
    struct veil_shortint_server_key *key = NULL;
    int rc = wrong_kind(path, VEIL_FHE_KIND_SERVER_KEY, data, len, err);
    if (rc == 0)
        rc = veil_threadpool_create(&pool, threads, err);
    if (rc == 0 && veil_fhe_server_key_load(data, len, NULL, pool, &key, err) != 0)
        rc = veil_err_wrap(err, "%s", path);
    free(data);
    if (rc != 0) {
        if (pool)
            veil_threadpool_destroy(pool);
        return -1;
    }
    return server_wrap(key, pool, out, err);
}

int veil_fhe_public_load(const char *path, veil_fhe_public **out, veil_err *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_file_read(path, MAX_SMALL_FILE, &data, &len, err) != 0)
        return -1;
    if (veil_tfhers_detect(data, len)) {
        int trc = veil_fhe_public_deserialize_tfhers(data, len, out, err);
        free(data);
        return trc == 0 ? 0 : veil_err_wrap(err, "%s", path);
    }
    int rc = wrong_kind(path, VEIL_FHE_KIND_PUBLIC_KEY, data, len, err);
    veil_fhe_public *q = rc == 0 ? calloc(1, sizeof *q) : NULL;
    if (rc == 0 && !q)
        rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0 && veil_fhe_public_key_load(data, len, NULL, &q->pk, err) != 0)
        rc = veil_err_wrap(err, "%s", path);
    free(data);
    if (rc != 0) {
        free(q);
        return -1;
    }
    *out = q;
    return 0;
}

/* A TFHE-rs file's kind, from its header. */
static int tfhers_file_kind(const uint8_t *head, size_t n, enum veil_fhe_file_kind *kind,
                            veil_err *err)
{
    enum veil_tfhers_type t;
    if (veil_tfhers_peek(head, n, &t, err) != 0)
        return -1;
    *kind = t == VEIL_TFHERS_CLIENT_KEY                            ? VEIL_FHE_FILE_CLIENT_KEY
            : t == VEIL_TFHERS_PUBLIC_KEY                          ? VEIL_FHE_FILE_PUBLIC_KEY
            : t == VEIL_TFHERS_FHEBOOL || t == VEIL_TFHERS_FHEUINT ? VEIL_FHE_FILE_CIPHERTEXT
                                                                   : VEIL_FHE_FILE_OTHER;
    return 0;
}

int veil_fhe_file_kind(const char *path, enum veil_fhe_file_kind *kind, veil_err *err)
{
    uint8_t head[256]; /* a TFHE-rs header is longer than Veil's */
    FILE *f = fopen(path, "rb");
    if (!f)
        return veil_err_set(err, VEIL_E_IO, "cannot open %s", path);
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (veil_tfhers_detect(head, n))
        return tfhers_file_kind(head, n, kind, err) == 0 ? 0 : veil_err_wrap(err, "%s", path);
    uint16_t k;
    uint32_t id;
    if (veil_fhe_container_peek(head, n, &k, &id, err) != 0)
        return veil_err_wrap(err, "%s", path);
    switch (k) {
    case VEIL_FHE_KIND_CLIENT_KEY:
        *kind = VEIL_FHE_FILE_CLIENT_KEY;
        break;
    case VEIL_FHE_KIND_SERVER_KEY:
        *kind = VEIL_FHE_FILE_SERVER_KEY;
        break;
    case VEIL_FHE_KIND_PUBLIC_KEY:
        *kind = VEIL_FHE_FILE_PUBLIC_KEY;
        break;
    case VEIL_FHE_KIND_RADIX:
        *kind = VEIL_FHE_FILE_CIPHERTEXT;
        break;
    default:
        *kind = VEIL_FHE_FILE_OTHER;
        break;
    }
    return 0;
}

unsigned veil_fhe_server_threads(const veil_fhe_server *sk)
{
    return sk->pool ? veil_threadpool_size(sk->pool) : 1;
}

int veil_fhe_server_set_threads(veil_fhe_server *sk, unsigned threads, veil_err *err)
{
    struct veil_threadpool *pool = NULL;
    if (veil_threadpool_create(&pool, threads, err) != 0)
        return -1;
    if (sk->pool)
        veil_threadpool_destroy(sk->pool);
    sk->pool = pool;
    sk->ctx.pool = pool;
    return 0;
}

uint64_t veil_fhe_server_pbs_count(const veil_fhe_server *sk)
{
    return sk->ctx.pbs_count;
}

uint64_t veil_fhe_server_pbs_rounds(const veil_fhe_server *sk)
{
    return sk->ctx.pbs_levels;
}

size_t veil_fhe_server_memory(void)
{
    return veil_fhe_server_key_memory(veil_fhe_params_default());
}

size_t veil_fhe_client_memory(void)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    return (p->lwe_dim + veil_fhe_big_lwe_dim(p)) * sizeof(uint64_t);
}

size_t veil_fhe_public_memory(void)
{
    return 2 * veil_fhe_big_lwe_dim(veil_fhe_params_default()) * sizeof(uint64_t);
}

size_t veil_fhe_ct_memory(unsigned width)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    size_t per_block =
        (veil_fhe_big_lwe_dim(p) + 1) * sizeof(uint64_t) + sizeof(struct veil_shortint_ct);
    return sizeof(struct veil_fhe_ct) + veil_radix_blocks_for_width(width) * per_block;
}

/* ----------------------------------------------------------- ciphertexts */

static veil_fhe_ct *ct_new(const struct veil_fhe_params *p, veil_err *err)
{
    veil_fhe_ct *c = calloc(1, sizeof *c);
    if (!c)
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    else
        c->params = p;
    return c;
}

void veil_fhe_ct_free(veil_fhe_ct *ct)
{
    if (!ct)
        return;
    veil_radix_free(&ct->r);
    free(ct);
}

unsigned veil_fhe_ct_width(const veil_fhe_ct *ct)
{
    return ct->r.width;
}

int veil_fhe_encrypt(const veil_fhe_client *ck, unsigned width, uint64_t value, veil_fhe_ct **out,
                     veil_err *err)
{
    *out = NULL;
    veil_fhe_ct *c = ct_new(ck->ck->params, err);
    if (!c)
        return -1;
    if (veil_radix_encrypt(ck->ck, c->params, width, value, &c->r, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int veil_fhe_encrypt_public(const veil_fhe_public *pk, unsigned width, uint64_t value,
                            veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    const struct veil_fhe_params *p = pk->pk->params;
    veil_fhe_ct *c = ct_new(p, err);
    if (!c)
        return -1;
    if (veil_radix_init(&c->r, p, width, err) != 0 ||
        (width < 64 && (value >> width) != 0 &&
         veil_err_set(err, VEIL_E_RANGE, "value %llu does not fit in %u bits",
                      (unsigned long long)value, width))) {
        veil_fhe_ct_free(c);
        return -1;
    }
    /* One compact RLWE encryption carries every block's digit. */
    uint64_t digits[32];
    for (size_t i = 0; i < c->r.n_blocks; i++)
        digits[i] = (value >> (2 * i)) & 3;
    struct veil_fhe_compact_list *list = NULL;
    int rc = veil_fhe_compact_list_encrypt(&list, pk->pk, digits, c->r.n_blocks, err);
    for (size_t i = 0; rc == 0 && i < c->r.n_blocks; i++) {
        rc = veil_fhe_compact_list_expand(list, i, &c->r.blocks[i], err);
        if (width == 1)
            c->r.blocks[i].degree = 1; /* a boolean block holds 0 or 1 */
    }
    veil_fhe_compact_list_free(list);
    if (rc != 0) {
        veil_fhe_ct_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int veil_fhe_compact_encrypt(const veil_fhe_public *pk, unsigned width, const uint64_t *values,
                             size_t n, veil_buf *out, veil_err *err)
{
    const struct veil_fhe_params *p = pk->pk->params;
    struct veil_radix shape;
    if (veil_radix_init(&shape, p, width, err) != 0)
        return -1;
    size_t per_value = shape.n_blocks;
    veil_radix_free(&shape);
    if (n == 0 || n > p->poly_size / per_value)
        return veil_err_set(err, VEIL_E_RANGE, "a compact list holds 1 to %zu values of %u bits",
                            (size_t)(p->poly_size / per_value), width);
    uint64_t *digits = calloc(n * per_value, sizeof *digits);
    if (!digits)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t v = 0; v < n && rc == 0; v++) {
        if (width < 64 && (values[v] >> width) != 0)
            rc = veil_err_set(err, VEIL_E_RANGE, "value %zu does not fit in %u bits", v, width);
        for (size_t b = 0; b < per_value; b++)
            digits[v * per_value + b] = (values[v] >> (2 * b)) & 3;
    }
    struct veil_fhe_compact_list *list = NULL;
    if (rc == 0)
        rc = veil_fhe_compact_list_encrypt(&list, pk->pk, digits, n * per_value, err);
    if (rc == 0)
        rc = veil_fhe_compact_list_save(list, out, err);
    veil_fhe_compact_list_free(list);
    /* The digits are the plaintext telemetry. */
    veil_memzero(digits, n * per_value * sizeof *digits);
    free(digits);
    return rc;
}

int veil_fhe_compact_expand(const uint8_t *data, size_t len, unsigned width, veil_fhe_ct **out,
                            size_t n, veil_err *err)
{
    if (veil_tfhers_detect(data, len)) /* a list from TFHE-rs / node-tfhe */
        return veil_fhe_compact_expand_tfhers(data, len, width, out, n, err);
    memset(out, 0, n * sizeof *out);
    struct veil_fhe_compact_list *list = NULL;
    if (veil_fhe_compact_list_load(data, len, NULL, &list, err) != 0)
        return -1;
    int rc = 0;
    for (size_t v = 0; v < n && rc == 0; v++) {
        veil_fhe_ct *c = ct_new(list->params, err);
        if (!c || veil_radix_init(&c->r, list->params, width, err) != 0) {
            veil_fhe_ct_free(c);
            rc = -1;
            break;
        }
        out[v] = c;
        if (v == 0 && list->count != n * c->r.n_blocks) {
            rc = veil_err_set(err, VEIL_E_MISMATCH,
                              "compact list of %zu blocks is not %zu values of %u bits",
                              list->count, n, width);
            break;
        }
        for (size_t b = 0; b < c->r.n_blocks && rc == 0; b++) {
            rc = veil_fhe_compact_list_expand(list, v * c->r.n_blocks + b, &c->r.blocks[b], err);
            if (width == 1)
                c->r.blocks[b].degree = 1; /* a boolean block holds 0 or 1 */
        }
    }
    veil_fhe_compact_list_free(list);
    if (rc != 0)
        for (size_t v = 0; v < n; v++) {
            veil_fhe_ct_free(out[v]);
            out[v] = NULL;
        }
    return rc;
}

int veil_fhe_trivial(const veil_fhe_server *sk, unsigned width, uint64_t value, veil_fhe_ct **out,
                     veil_err *err)
{
    *out = NULL;
    veil_fhe_ct *c = ct_new(sk->params, err);
    if (!c)
        return -1;
    if (veil_radix_trivial(sk->params, width, value, &c->r, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

static int check_ct_params(const struct veil_fhe_params *want, const veil_fhe_ct *ct, veil_err *err)
{
    if (ct->params != want)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "mixed parameter sets: ciphertext uses %s (id %u), key uses %s (id "
                            "%u)",
                            ct->params->name, ct->params->id, want->name, want->id);
    return 0;
}

int veil_fhe_decrypt(const veil_fhe_client *ck, const veil_fhe_ct *ct, uint64_t *value,
                     veil_err *err)
{
    if (check_ct_params(ck->ck->params, ct, err) != 0)
        return -1;
    *value = veil_radix_decrypt(ck->ck, ct->params, &ct->r);
    return 0;
}

int veil_fhe_ct_serialize(const veil_fhe_ct *ct, veil_buf *out, veil_err *err)
{
    return veil_radix_save(ct->params, &ct->r, out, err);
}

int veil_fhe_ct_deserialize(const uint8_t *data, size_t len, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    veil_fhe_ct *c = calloc(1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (veil_radix_load(data, len, NULL, &c->r, &c->params, err) != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int veil_fhe_ct_save(const veil_fhe_ct *ct, const char *path, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_ct_serialize(ct, &b, err);
    if (rc == 0)
        rc = write_buf(path, &b, 0, err);
    veil_buf_free(&b);
    return rc;
}

int veil_fhe_ct_load(const char *path, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_file_read(path, MAX_SMALL_FILE, &data, &len, err) != 0)
        return -1;
    int rc = 0;
    if (veil_tfhers_detect(data, len)) { /* FheUint / FheBool from TFHE-rs */
        if (veil_fhe_ct_deserialize_tfhers(data, len, out, err) != 0)
            rc = veil_err_wrap(err, "%s", path);
    } else {
        rc = wrong_kind(path, VEIL_FHE_KIND_RADIX, data, len, err);
        if (rc == 0 && veil_fhe_ct_deserialize(data, len, out, err) != 0)
            rc = veil_err_wrap(err, "%s", path);
    }
    free(data);
    return rc;
}

int veil_fhe_ct_digest(const veil_fhe_ct *ct, uint8_t out[VEIL_FHE_DIGEST_SIZE], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = veil_fhe_ct_serialize(ct, &b, err);
    if (rc == 0)
        crypto_generichash(out, VEIL_FHE_DIGEST_SIZE, b.data, b.len, NULL, 0);
    veil_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

static veil_fhe_ct *result_new(veil_fhe_server *sk, veil_err *err)
{
    return ct_new(sk->params, err);
}

static int result_done(int rc, veil_fhe_ct *c, veil_fhe_ct **out)
{
    if (rc != 0) {
        free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int veil_fhe_binop(veil_fhe_server *sk, enum veil_fhe_binop op, const veil_fhe_ct *a,
                   const veil_fhe_ct *b, veil_fhe_ct **out, veil_err *err)
{
    static const enum veil_int_binop map[] = {
        [VEIL_FHE_ADD] = VEIL_INT_ADD, [VEIL_FHE_SUB] = VEIL_INT_SUB, [VEIL_FHE_AND] = VEIL_INT_AND,
        [VEIL_FHE_OR] = VEIL_INT_OR,   [VEIL_FHE_XOR] = VEIL_INT_XOR, [VEIL_FHE_MIN] = VEIL_INT_MIN,
        [VEIL_FHE_MAX] = VEIL_INT_MAX, [VEIL_FHE_EQ] = VEIL_INT_EQ,   [VEIL_FHE_NE] = VEIL_INT_NE,
        [VEIL_FHE_LT] = VEIL_INT_LT,   [VEIL_FHE_LE] = VEIL_INT_LE,   [VEIL_FHE_GT] = VEIL_INT_GT,
        [VEIL_FHE_GE] = VEIL_INT_GE,
    };
    *out = NULL;
    if ((unsigned)op >= VEIL_ARRAY_LEN(map))
        return veil_err_set(err, VEIL_E_INVALID, "unknown operation %d", (int)op);
    if (check_ct_params(sk->params, a, err) != 0 || check_ct_params(sk->params, b, err) != 0)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    if (!c)
        return -1;
    return result_done(veil_int_binop(&sk->ctx, map[op], &a->r, &b->r, &c->r, err), c, out);
}

int veil_fhe_scalar(veil_fhe_server *sk, enum veil_fhe_scalar_op op, const veil_fhe_ct *a,
                    uint64_t k, veil_fhe_ct **out, veil_err *err)
{
    static const enum veil_int_scalarop map[] = {
        [VEIL_FHE_ADD_SCALAR] = VEIL_INT_ADD_SCALAR,
        [VEIL_FHE_SUB_SCALAR] = VEIL_INT_SUB_SCALAR,
        [VEIL_FHE_MUL_SCALAR] = VEIL_INT_MUL_SCALAR,
        [VEIL_FHE_SHL] = VEIL_INT_SHL,
        [VEIL_FHE_SHR] = VEIL_INT_SHR,
        [VEIL_FHE_EQ_SCALAR] = VEIL_INT_EQ_SCALAR,
        [VEIL_FHE_NE_SCALAR] = VEIL_INT_NE_SCALAR,
        [VEIL_FHE_LT_SCALAR] = VEIL_INT_LT_SCALAR,
        [VEIL_FHE_LE_SCALAR] = VEIL_INT_LE_SCALAR,
        [VEIL_FHE_GT_SCALAR] = VEIL_INT_GT_SCALAR,
        [VEIL_FHE_GE_SCALAR] = VEIL_INT_GE_SCALAR,
    };
    *out = NULL;
    if ((unsigned)op >= VEIL_ARRAY_LEN(map))
        return veil_err_set(err, VEIL_E_INVALID, "unknown scalar operation %d", (int)op);
    if (check_ct_params(sk->params, a, err) != 0)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    if (!c)
        return -1;
    return result_done(veil_int_scalarop(&sk->ctx, map[op], &a->r, k, &c->r, err), c, out);
}

static int unop(veil_fhe_server *sk, enum veil_int_unop op, const veil_fhe_ct *a, veil_fhe_ct **out,
                veil_err *err)
{
    *out = NULL;
    if (check_ct_params(sk->params, a, err) != 0)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    if (!c)
        return -1;
    return result_done(veil_int_unop(&sk->ctx, op, &a->r, &c->r, err), c, out);
}

int veil_fhe_neg(veil_fhe_server *sk, const veil_fhe_ct *a, veil_fhe_ct **out, veil_err *err)
{
    return unop(sk, VEIL_INT_NEG, a, out, err);
}

int veil_fhe_not(veil_fhe_server *sk, const veil_fhe_ct *a, veil_fhe_ct **out, veil_err *err)
{
    return unop(sk, VEIL_INT_NOT, a, out, err);
}

int veil_fhe_select(veil_fhe_server *sk, const veil_fhe_ct *cond, const veil_fhe_ct *a,
                    const veil_fhe_ct *b, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    if (check_ct_params(sk->params, cond, err) != 0 || check_ct_params(sk->params, a, err) != 0 ||
        check_ct_params(sk->params, b, err) != 0)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    if (!c)
        return -1;
    return result_done(veil_int_select(&sk->ctx, &cond->r, &a->r, &b->r, &c->r, err), c, out);
}

int veil_fhe_argext(veil_fhe_server *sk, int want_max, const veil_fhe_ct *const *vals, size_t n,
                    veil_fhe_ct **index, veil_fhe_ct **value, veil_err *err)
{
    *index = NULL;
    if (value)
        *value = NULL;
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "argmin/argmax needs at least one input");
    for (size_t i = 0; i < n; i++)
        if (check_ct_params(sk->params, vals[i], err) != 0)
            return -1;
    unsigned index_width = n <= 256 ? 8 : n <= 65536 ? 16 : 32;
    struct veil_radix *r = calloc(n, sizeof *r);
    veil_fhe_ct *idx = result_new(sk, err);
    veil_fhe_ct *val = value ? result_new(sk, err) : NULL;
    int rc = -1;
    if (!r || !idx || (value && !val)) {
        if (!r)
            veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = vals[i]->r; /* shallow views: the radix layer only reads them */
    rc = veil_int_argext(&sk->ctx, want_max, r, n, index_width, &idx->r, val ? &val->r : NULL, err);
out:
    free(r);
    if (rc != 0) {
        free(idx);
        free(val);
        return -1;
    }
    *index = idx;
    if (value)
        *value = val;
    return 0;
}

/* ---------------------------------------------------- scheduling operations */

/* Shallow radix views of n API ciphertexts (the radix layer only reads them). */
static struct veil_radix *radix_views(const veil_fhe_server *sk, const veil_fhe_ct *const *v,
                                      size_t n, veil_err *err)
{
    struct veil_radix *r = calloc(n ? n : 1, sizeof *r);
    if (!r) {
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || check_ct_params(sk->params, v[i], err) != 0) {
            if (!v[i])
                veil_err_set(err, VEIL_E_INVALID, "missing operand %zu", i);
            free(r);
            return NULL;
        }
        r[i] = v[i]->r;
    }
    return r;
}

int veil_fhe_sum_bits_masked(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const veil_fhe_ct *const *masks, size_t n, unsigned shift,
                             unsigned bits, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    struct veil_radix *r = radix_views(sk, vals, n, err);
    if (!r)
        return -1;
    struct veil_radix *m = masks ? radix_views(sk, masks, n, err) : NULL;
    if (masks && !m) {
        free(r);
        return -1;
    }
    veil_fhe_ct *c = result_new(sk, err);
    int rc = c ? veil_int_sum_bits(&sk->ctx, r, m, n, shift, bits, &c->r, err) : -1;
    free(r);
    free(m);
    return c ? result_done(rc, c, out) : -1;
}

int veil_fhe_sum_bits(veil_fhe_server *sk, const veil_fhe_ct *const *vals, size_t n, unsigned shift,
                      unsigned bits, veil_fhe_ct **out, veil_err *err)
{
    return veil_fhe_sum_bits_masked(sk, vals, NULL, n, shift, bits, out, err);
}

int veil_fhe_sum_weighted(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                          const uint64_t *weights, size_t n, unsigned bits, veil_fhe_ct **out,
                          veil_err *err)
{
    *out = NULL;
    if (!weights)
        return veil_err_set(err, VEIL_E_INVALID, "weighted sum without weights");
    struct veil_radix *r = radix_views(sk, vals, n, err);
    if (!r)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    int rc = c ? veil_int_sum_weighted(&sk->ctx, r, weights, n, bits, &c->r, err) : -1;
    free(r);
    return c ? result_done(rc, c, out) : -1;
}

int veil_fhe_flag_top(veil_fhe_server *sk, const veil_fhe_ct *val, const veil_fhe_ct *const *flags,
                      size_t n, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    if (check_ct_params(sk->params, val, err) != 0)
        return -1;
    struct veil_radix *r = radix_views(sk, flags, n, err);
    if (!r)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    int rc = c ? veil_int_flag_top(&sk->ctx, &val->r, r, n, &c->r, err) : -1;
    free(r);
    return c ? result_done(rc, c, out) : -1;
}

static int argmin_labeled_as(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const uint64_t *labels, size_t n, unsigned index_width,
                             veil_fhe_ct **index, veil_fhe_ct **found, bool node_keys,
                             veil_err *err);

int veil_fhe_argmin_labeled(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                            const uint64_t *labels, size_t n, unsigned index_width,
                            veil_fhe_ct **index, veil_fhe_ct **found, veil_err *err)
{
    return argmin_labeled_as(sk, vals, labels, n, index_width, index, found, false, err);
}

int veil_fhe_argmin_node_keys(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                              const uint64_t *labels, size_t n, unsigned index_width,
                              veil_fhe_ct **index, veil_fhe_ct **found, veil_err *err)
{
    return argmin_labeled_as(sk, keys, labels, n, index_width, index, found, true, err);
}

static int argmin_labeled_as(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const uint64_t *labels, size_t n, unsigned index_width,
                             veil_fhe_ct **index, veil_fhe_ct **found, bool node_keys,
                             veil_err *err)
{
    *index = NULL;
    if (found)
        *found = NULL;
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "argmin needs at least one input");
    struct veil_radix *r = radix_views(sk, vals, n, err);
    if (!r)
        return -1;
    veil_fhe_ct *idx = result_new(sk, err);
    veil_fhe_ct *fnd = found && idx ? result_new(sk, err) : NULL;
    int rc = -1;
    if (idx && (!found || fnd))
        rc = node_keys ? veil_int_argmin_node_keys(&sk->ctx, r, labels, n, index_width, &idx->r,
                                                   fnd ? &fnd->r : NULL, err)
                       : veil_int_argmin_labeled(&sk->ctx, r, labels, n, index_width, &idx->r,
                                                 fnd ? &fnd->r : NULL, err);
    free(r);
    if (rc != 0) {
        free(idx);
        free(fnd);
        return -1;
    }
    *index = idx;
    if (found)
        *found = fnd;
    return 0;
}

/* ---- sharded rounds and replicas (fhe.h): on the server's own context, so
 * they share its LUT cache; *pbs is what this call added to its PBS count. */

/* n fresh results, all or none. */
static int results_new(veil_fhe_server *sk, veil_fhe_ct **c, size_t n, veil_err *err)
{
    for (size_t i = 0; i < n; i++) {
        c[i] = result_new(sk, err);
        if (!c[i]) {
            for (size_t j = 0; j < i; j++)
                free(c[j]);
            return -1;
        }
    }
    return 0;
}

static int argmin_shard(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                        const uint64_t *labels, const veil_fhe_ct *const *indices, size_t n,
                        unsigned index_width, veil_fhe_ct **index, veil_fhe_ct **found,
                        veil_fhe_ct **key, uint64_t *pbs, veil_err *err)
{
    *index = *found = *key = NULL;
    if (pbs)
        *pbs = 0;
    if (n == 0)
        return veil_err_set(err, VEIL_E_INVALID, "argmin needs at least one input");
    struct veil_radix *v = radix_views(sk, keys, n, err);
    struct veil_radix *ix = v && indices ? radix_views(sk, indices, n, err) : NULL;
    veil_fhe_ct *c[3] = {NULL, NULL, NULL};
    int rc = -1;
    if (v && (!indices || ix) && results_new(sk, c, 3, err) == 0) {
        uint64_t before = sk->ctx.pbs_count;
        rc = indices ? veil_int_argmin_merge(&sk->ctx, v, ix, n, &c[0]->r, &c[1]->r, &c[2]->r, err)
                     : veil_int_argmin_keyed(&sk->ctx, v, labels, n, index_width, &c[0]->r,
                                             &c[1]->r, &c[2]->r, err);
        if (pbs)
            *pbs = sk->ctx.pbs_count - before;
        if (rc != 0)
            for (int i = 0; i < 3; i++)
                free(c[i]);
    }
    free(v);
    free(ix);
    if (rc != 0)
        return -1;
    *index = c[0];
    *found = c[1];
    *key = c[2];
    return 0;
}

int veil_fhe_argmin_keyed(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                          const uint64_t *labels, size_t n, unsigned index_width,
                          veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **key,
                          uint64_t *pbs, veil_err *err)
{
    return argmin_shard(sk, vals, labels, NULL, n, index_width, index, found, key, pbs, err);
}

int veil_fhe_argmin_merge(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                          const veil_fhe_ct *const *indices, size_t n, veil_fhe_ct **index,
                          veil_fhe_ct **found, veil_fhe_ct **key, uint64_t *pbs, veil_err *err)
{
    if (n == 0) {
        *index = *found = *key = NULL;
        return veil_err_set(err, VEIL_E_INVALID, "merge of no shard");
    }
    return argmin_shard(sk, keys, NULL, indices, n, 0, index, found, key, pbs, err);
}

/* The k-replica calls: `keys` (NULL: none wanted) as a third array of k;
 * indices (NULL: vals labelled by labels) makes it the merge of k-lists. */
struct replicas_call {
    const uint64_t *labels;
    const veil_fhe_ct *const *indices;
    unsigned index_width;
    size_t k;
};

static int replicas_call(veil_fhe_server *sk, const veil_fhe_ct *const *vals, size_t n,
                         const struct replicas_call *in, veil_fhe_ct **index, veil_fhe_ct **found,
                         veil_fhe_ct **keys, uint64_t *pbs, veil_err *err)
{
    size_t k = in->k, outs = keys ? 3 : 2;
    for (size_t r = 0; r < k && r < 64; r++) {
        index[r] = found[r] = NULL;
        if (keys)
            keys[r] = NULL;
    }
    if (pbs)
        *pbs = 0;
    if (n == 0 || k == 0 || k > 64)
        return veil_err_set(err, VEIL_E_INVALID, "replicas: %zu of %zu keys", k, n);
    struct veil_radix *v = radix_views(sk, vals, n, err);
    struct veil_radix *ix = v && in->indices ? radix_views(sk, in->indices, n, err) : NULL;
    veil_fhe_ct *c[192] = {NULL};
    struct veil_radix *r = calloc(outs * k, sizeof *r);
    int rc = -1;
    if (!r)
        veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    else if (v && (!in->indices || ix) && results_new(sk, c, outs * k, err) == 0) {
        uint64_t before = sk->ctx.pbs_count;
        if (ix)
            rc = veil_int_argmin_merge_replicas(&sk->ctx, v, ix, n, k, r, r + k, err);
        else
            rc = veil_int_argmin_replicas(&sk->ctx, v, in->labels, n, in->index_width, k, r, r + k,
                                          keys ? r + 2 * k : NULL, err);
        if (pbs)
            *pbs = sk->ctx.pbs_count - before;
        for (size_t j = 0; j < outs * k; j++) {
            if (rc == 0)
                c[j]->r = r[j];
            else
                free(c[j]);
        }
    }
    free(v);
    free(ix);
    free(r);
    for (size_t j = 0; rc == 0 && j < k; j++) {
        index[j] = c[j];
        found[j] = c[k + j];
        if (keys)
            keys[j] = c[2 * k + j];
    }
    return rc;
}

int veil_fhe_argmin_replicas(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                             const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                             veil_fhe_ct **index, veil_fhe_ct **found, uint64_t *pbs, veil_err *err)
{
    struct replicas_call in = {.labels = labels, .index_width = index_width, .k = k};
    return replicas_call(sk, vals, n, &in, index, found, NULL, pbs, err);
}

int veil_fhe_argmin_replicas_keyed(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                                   const uint64_t *labels, size_t n, unsigned index_width, size_t k,
                                   veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **keys,
                                   uint64_t *pbs, veil_err *err)
{
    struct replicas_call in = {.labels = labels, .index_width = index_width, .k = k};
    return replicas_call(sk, vals, n, &in, index, found, keys, pbs, err);
}

int veil_fhe_argmin_merge_replicas(veil_fhe_server *sk, const veil_fhe_ct *const *keys,
                                   const veil_fhe_ct *const *indices, size_t n, size_t k,
                                   veil_fhe_ct **index, veil_fhe_ct **found, uint64_t *pbs,
                                   veil_err *err)
{
    struct replicas_call in = {.indices = indices, .k = k};
    return replicas_call(sk, keys, n, &in, index, found, NULL, pbs, err);
}

int veil_fhe_truncate(veil_fhe_server *sk, const veil_fhe_ct *a, unsigned width, veil_fhe_ct **out,
                      veil_err *err)
{
    *out = NULL;
    if (check_ct_params(sk->params, a, err) != 0)
        return -1;
    veil_fhe_ct *c = result_new(sk, err);
    if (!c)
        return -1;
    return result_done(veil_int_truncate(&sk->ctx, &a->r, width, &c->r, err), c, out);
}

/* ---------------------------- accessors for tfhers*.c, squash*.c (api_internal.h) */

const struct veil_shortint_client_key *veil_fhe_client_key_of(const veil_fhe_client *ck)
{
    return ck->ck;
}

const struct veil_shortint_server_key *veil_fhe_server_key_of(const veil_fhe_server *sk)
{
    return sk->sk;
}

int veil_fhe_client_wrap(struct veil_shortint_client_key *key, veil_fhe_client **out, veil_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        veil_fhe_client_key_free(key);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    (*out)->ck = key;
    return 0;
}

const struct veil_fhe_public_key *veil_fhe_public_key_of(const veil_fhe_public *pk)
{
    return pk->pk;
}

int veil_fhe_public_wrap(struct veil_fhe_public_key *key, int foreign, veil_fhe_public **out,
                         veil_err *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out) {
        veil_fhe_public_key_free(key);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    (*out)->pk = key;
    (*out)->foreign = foreign;
    return 0;
}

void veil_fhe_server_parts(const veil_fhe_server *sk, const struct veil_shortint_server_key **key,
                           struct veil_threadpool **pool)
{
    *key = sk->sk;
    *pool = sk->pool;
}

const struct veil_radix *veil_fhe_ct_radix(const veil_fhe_ct *ct,
                                           const struct veil_fhe_params **params)
{
    *params = ct->params;
    return &ct->r;
}

int veil_fhe_ct_wrap(const struct veil_fhe_params *p, struct veil_radix *r, veil_fhe_ct **out,
                     veil_err *err)
{
    *out = ct_new(p, err);
    if (!*out) {
        veil_radix_free(r);
        return -1;
    }
    (*out)->r = *r;
    memset(r, 0, sizeof *r);
    return 0;
}
