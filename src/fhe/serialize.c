// SPDX-License-Identifier: Apache-2.0
/*
 * serialize.c - the TFHE container format and the save/load functions of
 * every key and ciphertext (see serialize.h). Every loader parses through
 * veil_reader and checks each length against the parameter set before use.
 */
#include "serialize.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

const char *veil_fhe_kind_name(uint16_t kind)
{
    switch (kind) {
    case VEIL_FHE_KIND_CLIENT_KEY:
        return "client key";
    case VEIL_FHE_KIND_SERVER_KEY:
        return "server key";
    case VEIL_FHE_KIND_PUBLIC_KEY:
        return "public key";
    case VEIL_FHE_KIND_COMPACT_LIST:
        return "compact ciphertext list";
    case VEIL_FHE_KIND_SHORTINT:
        return "shortint ciphertext";
    case VEIL_FHE_KIND_RADIX:
        return "integer ciphertext";
    case VEIL_FHE_KIND_SQUASH_KEY:
        return "squashing key";
    case VEIL_FHE_KIND_SQUASHED:
        return "squashed ciphertext";
    default:
        return "unknown object";
    }
}

size_t veil_fhe_container_begin(veil_buf *b, uint16_t kind, uint32_t param_id)
{
    size_t start = b->len;
    veil_buf_put(b, VEIL_FHE_MAGIC, 8); /* includes the NUL */
    veil_buf_put_u16le(b, VEIL_FHE_FORMAT_VERSION);
    veil_buf_put_u16le(b, kind);
    veil_buf_put_u32le(b, param_id);
    veil_buf_put_u64le(b, 0); /* payload length, patched by _end */
    return start;
}

int veil_fhe_container_end(veil_buf *b, size_t start, veil_err *err)
{
    if (!veil_buf_ok(b) || b->len < start + VEIL_FHE_HEADER_LEN)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing an FHE object");
    uint64_t payload = b->len - start - VEIL_FHE_HEADER_LEN;
    uint8_t *lenp = b->data + start + 16;
    for (int i = 0; i < 8; i++)
        lenp[i] = (uint8_t)(payload >> (8 * i));
    uint8_t digest[VEIL_FHE_DIGEST_LEN];
    crypto_generichash(digest, sizeof digest, b->data + start, b->len - start, NULL, 0);
    veil_buf_put(b, digest, sizeof digest);
    if (!veil_buf_ok(b))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing an FHE object");
    return 0;
}

int veil_fhe_container_peek(const uint8_t *data, size_t len, uint16_t *kind, uint32_t *param_id,
                            veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    const uint8_t *magic = veil_read_borrow(&r, 8);
    uint16_t version = veil_read_u16le(&r);
    uint16_t k = veil_read_u16le(&r);
    uint32_t id = veil_read_u32le(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE,
                            "FHE object truncated: %zu bytes is shorter than "
                            "its header",
                            len);
    if (memcmp(magic, VEIL_FHE_MAGIC, 8) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "not a Veil FHE object (bad magic)");
    if (version != VEIL_FHE_FORMAT_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "unsupported FHE format version %u (want %u)",
                            version, VEIL_FHE_FORMAT_VERSION);
    *kind = k;
    *param_id = id;
    return 0;
}

int veil_fhe_container_open(const uint8_t *data, size_t len, uint16_t expect_kind,
                            const struct veil_fhe_params *expect, veil_reader *payload,
                            const struct veil_fhe_params **params, veil_err *err)
{
    uint16_t kind;
    uint32_t id;
    if (veil_fhe_container_peek(data, len, &kind, &id, err) < 0)
        return -1;
    if (kind != expect_kind)
        return veil_err_set(err, VEIL_E_MISMATCH, "expected a %s, found a %s (kind %u)",
                            veil_fhe_kind_name(expect_kind), veil_fhe_kind_name(kind), kind);
    const struct veil_fhe_params *p = veil_fhe_params_by_id(id);
    if (!p)
        return veil_err_set(err, VEIL_E_MISMATCH, "%s uses unknown FHE parameter set id %u",
                            veil_fhe_kind_name(kind), id);
    if (expect && expect->id != id)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "%s uses FHE parameter set %u (%s), expected %u (%s)",
                            veil_fhe_kind_name(kind), id, p->name, expect->id, expect->name);
    veil_reader r;
    veil_reader_init(&r, data, len);
    veil_reader_skip(&r, 16);
    uint64_t payload_len = veil_read_u64le(&r);
    if (!veil_reader_ok(&r) || len < VEIL_FHE_HEADER_LEN + VEIL_FHE_DIGEST_LEN)
        return veil_err_set(err, VEIL_E_RANGE, "%s truncated: %zu bytes", veil_fhe_kind_name(kind),
                            len);
    size_t have = len - VEIL_FHE_HEADER_LEN - VEIL_FHE_DIGEST_LEN;
    if (payload_len > have)
        return veil_err_set(err, VEIL_E_RANGE, "%s truncated: payload says %llu bytes, %zu present",
                            veil_fhe_kind_name(kind), (unsigned long long)payload_len, have);
    if (payload_len < have)
        return veil_err_set(err, VEIL_E_RANGE, "%s has %zu unexpected trailing bytes",
                            veil_fhe_kind_name(kind), have - (size_t)payload_len);
    uint8_t digest[VEIL_FHE_DIGEST_LEN];
    crypto_generichash(digest, sizeof digest, data, len - VEIL_FHE_DIGEST_LEN, NULL, 0);
    if (!veil_memeq_ct(digest, data + len - VEIL_FHE_DIGEST_LEN, VEIL_FHE_DIGEST_LEN))
        return veil_err_set(err, VEIL_E_CRYPTO, "%s is corrupted (digest mismatch)",
                            veil_fhe_kind_name(kind));
    veil_reader_init(payload, data + VEIL_FHE_HEADER_LEN, (size_t)payload_len);
    if (params)
        *params = p;
    return 0;
}

/* The payload must be exactly `want` bytes long. */
static int expect_payload(const veil_reader *r, size_t want, uint16_t kind, veil_err *err)
{
    size_t have = veil_reader_remaining(r);
    if (have != want)
        return veil_err_set(err, VEIL_E_RANGE, "%s payload is %zu bytes, expected %zu",
                            veil_fhe_kind_name(kind), have, want);
    return 0;
}

static void put_words(veil_buf *b, const uint64_t *w, size_t n)
{
    uint8_t *dst = veil_buf_extend(b, n * 8);
    if (!dst)
        return;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++)
            dst[8 * i + (size_t)j] = (uint8_t)(w[i] >> (8 * j));
}

static void read_words(veil_reader *r, uint64_t *w, size_t n)
{
    const uint8_t *src = veil_read_borrow(r, n * 8);
    if (!src)
        return;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = (v << 8) | src[8 * i + (size_t)j];
        w[i] = v;
    }
}

/* ---------------------------------------------------------------- blocks */

void veil_fhe_put_shortint(veil_buf *b, const struct veil_fhe_params *p,
                           const struct veil_shortint_ct *ct)
{
    veil_buf_put_u64le(b, ct->degree);
    veil_buf_put_u32le(b, ct->noise_level);
    put_words(b, ct->data, veil_fhe_big_lwe_dim(p) + 1);
}

int veil_fhe_read_shortint(veil_reader *r, const struct veil_fhe_params *p,
                           struct veil_shortint_ct *ct, veil_err *err)
{
    uint64_t degree = veil_read_u64le(r);
    uint32_t noise = veil_read_u32le(r);
    if (!veil_reader_ok(r) || veil_reader_remaining(r) < (veil_fhe_big_lwe_dim(p) + 1) * 8)
        return veil_err_set(err, VEIL_E_RANGE, "shortint block truncated");
    if (degree >= p->message_modulus * p->carry_modulus)
        return veil_err_set(err, VEIL_E_RANGE, "shortint block degree %llu out of range",
                            (unsigned long long)degree);
    if (noise > p->max_noise_level)
        return veil_err_set(err, VEIL_E_RANGE, "shortint block noise level %u above %u", noise,
                            p->max_noise_level);
    read_words(r, ct->data, veil_fhe_big_lwe_dim(p) + 1);
    ct->degree = degree;
    ct->noise_level = noise;
    return 0;
}

int veil_fhe_shortint_save(const struct veil_fhe_params *p, const struct veil_shortint_ct *ct,
                           veil_buf *out, veil_err *err)
{
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_SHORTINT, p->id);
    veil_fhe_put_shortint(out, p, ct);
    return veil_fhe_container_end(out, start, err);
}

int veil_fhe_shortint_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                           struct veil_shortint_ct *ct, const struct veil_fhe_params **params_out,
                           veil_err *err)
{
    veil_reader r;
    const struct veil_fhe_params *p;
    ct->data = NULL;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_SHORTINT, expect, &r, &p, err) < 0)
        return -1;
    if (expect_payload(&r, 12 + (veil_fhe_big_lwe_dim(p) + 1) * 8, VEIL_FHE_KIND_SHORTINT, err) < 0)
        return -1;
    if (veil_shortint_ct_init(ct, p, err) < 0)
        return -1;
    if (veil_fhe_read_shortint(&r, p, ct, err) < 0) {
        veil_shortint_ct_free(ct);
        return -1;
    }
    if (params_out)
        *params_out = p;
    return 0;
}

/* ---------------------------------------------------------------- client key */

int veil_fhe_client_key_save(const struct veil_shortint_client_key *ck, veil_buf *out,
                             veil_err *err)
{
    const struct veil_fhe_params *p = ck->params;
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_CLIENT_KEY, p->id);
    const size_t big = veil_fhe_big_lwe_dim(p);
    uint8_t *dst = veil_buf_extend(out, p->lwe_dim + big);
    if (dst) {
        for (size_t i = 0; i < p->lwe_dim; i++)
            dst[i] = (uint8_t)ck->small_key[i];
        for (size_t i = 0; i < big; i++)
            dst[p->lwe_dim + i] = (uint8_t)ck->big_key[i];
    }
    return veil_fhe_container_end(out, start, err);
}

int veil_fhe_client_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_shortint_client_key **out, veil_err *err)
{
    veil_reader r;
    const struct veil_fhe_params *p;
    *out = NULL;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_CLIENT_KEY, expect, &r, &p, err) < 0)
        return -1;
    const size_t big = veil_fhe_big_lwe_dim(p);
    if (expect_payload(&r, p->lwe_dim + big, VEIL_FHE_KIND_CLIENT_KEY, err) < 0)
        return -1;
    const uint8_t *src = veil_read_borrow(&r, p->lwe_dim + big);
    for (size_t i = 0; i < p->lwe_dim + big; i++)
        if (src[i] > 1)
            return veil_err_set(err, VEIL_E_PARSE, "client key coefficient %zu is %u, not 0 or 1",
                                i, src[i]);
    struct veil_shortint_client_key *ck;
    if (veil_fhe_client_key_alloc(&ck, p, err) < 0)
        return -1;
    for (size_t i = 0; i < p->lwe_dim; i++)
        ck->small_key[i] = src[i];
    for (size_t i = 0; i < big; i++)
        ck->big_key[i] = src[p->lwe_dim + i];
    *out = ck;
    return 0;
}

/* ---------------------------------------------------------------- server key */

int veil_fhe_server_key_save(const struct veil_shortint_server_key *sk, veil_buf *out,
                             veil_err *err)
{
    const struct veil_fhe_params *p = sk->params;
    const size_t ksk_rows = veil_fhe_server_key_ksk_rows(p);
    const size_t bsk_words = veil_fhe_server_key_bsk_body_words(p);
    if (veil_buf_reserve(out, VEIL_FHE_HEADER_LEN + 32 + (ksk_rows + bsk_words) * 8 +
                                  VEIL_FHE_DIGEST_LEN) < 0)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing the server key");
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_SERVER_KEY, p->id);
    veil_buf_put(out, sk->mask_seed, VEIL_FHE_SEED_LEN);
    put_words(out, sk->ksk_bodies, ksk_rows);
    put_words(out, sk->bsk_bodies, bsk_words);
    return veil_fhe_container_end(out, start, err);
}

int veil_fhe_server_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_threadpool *pool, struct veil_shortint_server_key **out,
                             veil_err *err)
{
    veil_reader r;
    const struct veil_fhe_params *p;
    *out = NULL;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_SERVER_KEY, expect, &r, &p, err) < 0)
        return -1;
    const size_t ksk_rows = veil_fhe_server_key_ksk_rows(p);
    const size_t bsk_words = veil_fhe_server_key_bsk_body_words(p);
    if (expect_payload(&r, VEIL_FHE_SEED_LEN + (ksk_rows + bsk_words) * 8, VEIL_FHE_KIND_SERVER_KEY,
                       err) < 0)
        return -1;
    struct veil_shortint_server_key *sk;
    if (veil_fhe_server_key_alloc(&sk, p, err) < 0)
        return -1;
    veil_read_bytes(&r, sk->mask_seed, VEIL_FHE_SEED_LEN);
    read_words(&r, sk->ksk_bodies, ksk_rows);
    read_words(&r, sk->bsk_bodies, bsk_words);
    if (!veil_reader_ok(&r)) {
        veil_fhe_server_key_free(sk);
        return veil_err_set(err, VEIL_E_RANGE, "server key payload truncated");
    }
    if (veil_fhe_server_key_expand(sk, pool, err) < 0) {
        veil_fhe_server_key_free(sk);
        return -1;
    }
    *out = sk;
    return 0;
}

/* ---------------------------------------------------------------- public key */

int veil_fhe_public_key_save(const struct veil_fhe_public_key *pk, veil_buf *out, veil_err *err)
{
    const struct veil_fhe_params *p = pk->params;
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_PUBLIC_KEY, p->id);
    veil_buf_put(out, pk->mask_seed, VEIL_FHE_SEED_LEN);
    put_words(out, pk->b, veil_fhe_big_lwe_dim(p));
    return veil_fhe_container_end(out, start, err);
}

int veil_fhe_public_key_load(const uint8_t *data, size_t len, const struct veil_fhe_params *expect,
                             struct veil_fhe_public_key **out, veil_err *err)
{
    veil_reader r;
    const struct veil_fhe_params *p;
    *out = NULL;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_PUBLIC_KEY, expect, &r, &p, err) < 0)
        return -1;
    const size_t m = veil_fhe_big_lwe_dim(p);
    if (expect_payload(&r, VEIL_FHE_SEED_LEN + m * 8, VEIL_FHE_KIND_PUBLIC_KEY, err) < 0)
        return -1;
    struct veil_fhe_public_key *pk;
    if (veil_fhe_public_key_alloc(&pk, p, err) < 0)
        return -1;
    veil_read_bytes(&r, pk->mask_seed, VEIL_FHE_SEED_LEN);
    read_words(&r, pk->b, m);
    veil_fhe_public_key_expand(pk);
    *out = pk;
    return 0;
}

/* ---------------------------------------------------------------- compact list */

int veil_fhe_compact_list_save(const struct veil_fhe_compact_list *list, veil_buf *out,
                               veil_err *err)
{
    const struct veil_fhe_params *p = list->params;
    size_t start = veil_fhe_container_begin(out, VEIL_FHE_KIND_COMPACT_LIST, p->id);
    veil_buf_put_u32le(out, (uint32_t)list->count);
    put_words(out, list->mask, veil_fhe_big_lwe_dim(p));
    put_words(out, list->body, list->count);
    return veil_fhe_container_end(out, start, err);
}

int veil_fhe_compact_list_load(const uint8_t *data, size_t len,
                               const struct veil_fhe_params *expect,
                               struct veil_fhe_compact_list **out, veil_err *err)
{
    veil_reader r;
    const struct veil_fhe_params *p;
    *out = NULL;
    if (veil_fhe_container_open(data, len, VEIL_FHE_KIND_COMPACT_LIST, expect, &r, &p, err) < 0)
        return -1;
    const size_t m = veil_fhe_big_lwe_dim(p);
    uint32_t count = veil_read_u32le(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "compact list payload truncated");
    if (count == 0 || count > m)
        return veil_err_set(err, VEIL_E_RANGE, "compact list count %u out of range 1..%zu", count,
                            m);
    if (expect_payload(&r, (m + count) * 8, VEIL_FHE_KIND_COMPACT_LIST, err) < 0)
        return -1;
    struct veil_fhe_compact_list *list;
    if (veil_fhe_compact_list_alloc(&list, p, count, err) < 0)
        return -1;
    read_words(&r, list->mask, m);
    read_words(&r, list->body, count);
    *out = list;
    return 0;
}
