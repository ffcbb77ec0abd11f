// SPDX-License-Identifier: Apache-2.0
/*
 * tfhers_list.c - TFHE-rs CompactCiphertextList (unpacked form) in Veil: what
 * node-tfhe's CompactCiphertextList.builder(pk)...build() makes, written from
 * Veil's compact public-key encryption and read into Veil ciphertexts.
 *
 * Layout (TFHE-rs 1.7): one LweCompactCiphertextList - the mask polynomial
 * then one body per block (the data vector), lwe_size, block count, modulus
 * - then the blocks' degree (message_modulus - 1 when unpacked,
 * msg*carry - 1 when two blocks are packed in one), the moduli, the
 * expansion kind, and the integer layer's DataKind per value (Unsigned(block
 * count) or Boolean). A TFHE-rs block i expands to the LWE (X^i * mask,
 * body_i); Veil's compact list expands to (row i of mask' * S, body_i), which
 * is the same ciphertext for mask' = sigma(mask) (tfhers_internal.h).
 */
#include "api_internal.h"
#include "tfhers_internal.h"

#include <stdlib.h>
#include <string.h>

/* One value's kind in a list (DataKind, version 1). */
static void put_data_kind(veil_buf *b, unsigned width)
{
    tfhers_put_u32(b, 1); /* DataKindVersions::V1 */
    if (width == 1) {
        tfhers_put_u32(b, 2); /* Boolean */
        return;
    }
    tfhers_put_u32(b, 0); /* Unsigned(block count) */
    tfhers_put_u64(b, width / 2);
}

static void put_list(veil_buf *out, const struct veil_fhe_compact_list *l, const uint64_t *mask_t,
                     uint64_t degree, unsigned width, size_t n)
{
    const struct veil_fhe_params *p = l->params;
    const size_t m = veil_fhe_big_lwe_dim(p);
    tfhers_put_header(out, TFHERS_NAME_LIST);
    static const uint32_t tags[] = {1, 1, 2, 0}; /* HL V1, integer V1, shortint V2, LWE list */
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        tfhers_put_u32(out, tags[i]);
    tfhers_put_u64(out, m + l->count); /* one mask, then the bodies */
    tfhers_put_raw_words(out, mask_t, m);
    tfhers_put_raw_words(out, l->body, l->count);
    tfhers_put_vu64(out, m + 1);    /* lwe_size */
    tfhers_put_vu64(out, l->count); /* lwe_ciphertext_count */
    tfhers_put_modulus(out);
    tfhers_put_vu64(out, degree); /* msg - 1 unpacked, msg * carry - 1 packed */
    tfhers_put_vu64(out, p->message_modulus);
    tfhers_put_vu64(out, p->carry_modulus);
    tfhers_put_u32(out, 1); /* CompactCiphertextListExpansionKindVersions::V1 */
    tfhers_put_u32(out, 1); /* NoCasting */
    tfhers_put_ap_kind(out);
    tfhers_put_u64(out, n);
    for (size_t i = 0; i < n; i++)
        put_data_kind(out, width);
    tfhers_put_empty_tag(out);
}

static size_t blocks_per_value(unsigned width)
{
    return width == 1 ? 1 : veil_radix_blocks_for_width(width);
}

/* The radix digits of n values, least significant block first, packed two
 * by two (low + msg * high, TFHE-rs's build_packed) when `packed`. *count
 * receives the number of stored blocks. */
static int list_digits(const struct veil_fhe_params *p, unsigned width, const uint64_t *values,
                       size_t n, int packed, uint64_t *digits, size_t *count, veil_err *err)
{
    const size_t per = blocks_per_value(width);
    memset(digits, 0, n * per * sizeof *digits);
    for (size_t v = 0; v < n; v++) {
        if (width < 64 && (values[v] >> width) != 0)
            return veil_err_set(err, VEIL_E_RANGE, "value %zu does not fit in %u bits", v, width);
        for (size_t b = 0; b < per; b++) {
            size_t i = v * per + b;
            uint64_t d = (values[v] >> (2 * b)) & (p->message_modulus - 1);
            digits[packed ? i / 2 : i] += packed && i % 2 ? d * p->message_modulus : d;
        }
    }
    *count = packed ? (n * per + 1) / 2 : n * per;
    return 0;
}

/* The list's blocks: an encryption of zeros (Veil's compact encryption,
 * linear in the plaintext) plus Delta times each stored digit. */
static int compact_encrypt(const veil_fhe_public *pk, unsigned width, const uint64_t *values,
                           size_t n, int packed, veil_buf *out, veil_err *err)
{
    const struct veil_fhe_public_key *k = veil_fhe_public_key_of(pk);
    const struct veil_fhe_params *p = k->params;
    const size_t m = veil_fhe_big_lwe_dim(p), per = blocks_per_value(width);
    if (per == 0)
        return veil_err_set(err, VEIL_E_INVALID, "unsupported width %u (1, 8, 16, 32, 64)", width);
    if (n == 0 || n * per > (packed ? 2 * m : m))
        return veil_err_set(err, VEIL_E_RANGE, "a compact list holds 1 to %zu values of %u bits",
                            (packed ? 2 * m : m) / per, width);
    uint64_t *digits = calloc(n * per, sizeof *digits);
    uint64_t *zeros = calloc(n * per, sizeof *zeros);
    uint64_t *mask_t = calloc(m, sizeof *mask_t);
    size_t count = 0;
    int rc = digits && zeros && mask_t ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = list_digits(p, width, values, n, packed, digits, &count, err);
    struct veil_fhe_compact_list *l = NULL;
    if (rc == 0)
        rc = veil_fhe_compact_list_encrypt(&l, k, zeros, count, err);
    if (rc == 0) {
        for (size_t i = 0; i < count; i++)
            l->body[i] += digits[i] * veil_fhe_delta(p);
        tfhers_sigma(mask_t, l->mask, m);
        put_list(out, l, mask_t,
                 packed ? p->message_modulus * p->carry_modulus - 1 : p->message_modulus - 1, width,
                 n);
        if (!veil_buf_ok(out))
            rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing a TFHE-rs list");
    }
    veil_fhe_compact_list_free(l);
    if (digits)
        veil_memzero(digits, n * per * sizeof *digits); /* plaintext */
    free(digits);
    free(zeros);
    free(mask_t);
    return rc;
}

int veil_fhe_compact_encrypt_tfhers(const veil_fhe_public *pk, unsigned width,
                                    const uint64_t *values, size_t n, veil_buf *out, veil_err *err)
{
    return compact_encrypt(pk, width, values, n, 0, out, err);
}

int veil_fhe_compact_encrypt_tfhers_packed(const veil_fhe_public *pk, unsigned width,
                                           const uint64_t *values, size_t n, veil_buf *out,
                                           veil_err *err)
{
    return compact_encrypt(pk, width, values, n, 1, out, err);
}

/* ----------------------------------------------------------------- read */

/* A parsed list: Veil's form of the ciphertext and each value's width;
 * packed: each list block holds two radix blocks (low + 4 * high). */
struct parsed_list {
    struct veil_fhe_compact_list *list;
    unsigned *widths;
    size_t n;
    int packed;
};

static void parsed_list_free(struct parsed_list *pl)
{
    veil_fhe_compact_list_free(pl->list);
    free(pl->widths);
    memset(pl, 0, sizeof *pl);
}

/* The data vector: one mask (at most one: Veil lists hold up to M blocks)
 * then the bodies. */
static int read_list_data(veil_reader *r, struct parsed_list *pl, const struct veil_fhe_params *p,
                          veil_err *err)
{
    const size_t m = veil_fhe_big_lwe_dim(p);
    uint64_t words = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (compact list)");
    if (words <= m)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs compact list of %llu words has no block",
                            (unsigned long long)words);
    if (words > 2 * m)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "TFHE-rs compact list of %llu words (more than one mask): Veil reads "
                            "at most %zu blocks per list",
                            (unsigned long long)words, m);
    size_t count = (size_t)words - m;
    uint64_t *mask_t = malloc(m * sizeof *mask_t);
    if (!mask_t)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    int rc = veil_fhe_compact_list_alloc(&pl->list, p, count, err);
    if (rc == 0)
        rc = tfhers_read_raw_words(r, mask_t, m, "compact list mask", err);
    if (rc == 0)
        rc = tfhers_read_raw_words(r, pl->list->body, count, "compact list bodies", err);
    if (rc == 0)
        tfhers_sigma(pl->list->mask, mask_t, m);
    free(mask_t);
    return rc;
}

static int read_list_meta(veil_reader *r, struct parsed_list *pl, int allow_packed,
                          const struct veil_fhe_params *p, veil_err *err)
{
    const size_t m = veil_fhe_big_lwe_dim(p);
    uint64_t degree;
    if (tfhers_expect_vu64(r, m + 1, "compact list lwe_size", err) != 0 ||
        tfhers_expect_vu64(r, pl->list->count, "compact list block count", err) != 0 ||
        tfhers_expect_modulus(r, "compact list", err) != 0 ||
        tfhers_read_vu64(r, &degree, "compact list degree", err) != 0)
        return -1;
    pl->packed = degree == p->message_modulus * p->carry_modulus - 1;
    if (pl->packed && !allow_packed)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "packed TFHE-rs compact list (build_packed): unpacking needs the "
                            "server key (veil fhe import -k SERVER_KEY); send an unpacked list "
                            "(build()) otherwise");
    if (!pl->packed && degree != p->message_modulus - 1)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs compact list degree %llu is not %llu",
                            (unsigned long long)degree,
                            (unsigned long long)(p->message_modulus - 1));
    if (tfhers_expect_vu64(r, p->message_modulus, "message_modulus", err) != 0 ||
        tfhers_expect_vu64(r, p->carry_modulus, "carry_modulus", err) != 0)
        return -1;
    return tfhers_read_expansion_kind(r, err);
}

/* One DataKind: its width (1 for a bool). */
static int read_data_kind(veil_reader *r, unsigned *width, veil_err *err)
{
    if (tfhers_expect_u32(r, 1, "list value kind", err) != 0)
        return -1;
    uint32_t kind = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (list value kind)");
    if (kind == 2) {
        *width = 1;
        return 0;
    }
    if (kind == 1 || kind == 3)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "TFHE-rs list holds a %s: Veil reads FheBool and FheUint values",
                            kind == 1 ? "signed integer" : "string");
    if (kind != 0)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs list value kind %u is unknown", kind);
    uint64_t blocks = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (list value kind)");
    return tfhers_width_of_blocks(blocks, width, err);
}

static int read_list_kinds(veil_reader *r, struct parsed_list *pl, veil_err *err)
{
    uint64_t n = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (list value kinds)");
    if (n == 0 || n > pl->list->count)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs list: %llu values for %zu blocks",
                            (unsigned long long)n, pl->list->count);
    pl->widths = calloc((size_t)n, sizeof *pl->widths);
    if (!pl->widths)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    pl->n = (size_t)n;
    size_t blocks = 0;
    for (size_t i = 0; i < pl->n; i++) {
        if (read_data_kind(r, &pl->widths[i], err) != 0)
            return -1;
        blocks += blocks_per_value(pl->widths[i]);
    }
    size_t stored = pl->packed ? (blocks + 1) / 2 : blocks;
    if (stored != pl->list->count)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs list: values need %zu blocks%s, it has %zu",
                            stored, pl->packed ? " (packed two by two)" : "", pl->list->count);
    return 0;
}

static int parse_list(const uint8_t *data, size_t len, int allow_packed, struct parsed_list *pl,
                      veil_err *err)
{
    memset(pl, 0, sizeof *pl);
    const struct veil_fhe_params *p = veil_fhe_params_default();
    veil_reader r;
    if (tfhers_open_object(&r, data, len, VEIL_TFHERS_COMPACT_LIST, VEIL_TFHERS_COMPACT_LIST, NULL,
                           err) != 0)
        return -1;
    static const uint32_t tags[] = {1, 1, 2, 0};
    int rc = 0;
    for (size_t i = 0; i < sizeof tags / sizeof tags[0] && rc == 0; i++)
        rc = tfhers_expect_u32(&r, tags[i], "compact list", err);
    if (rc == 0)
        rc = read_list_data(&r, pl, p, err);
    if (rc == 0)
        rc = read_list_meta(&r, pl, allow_packed, p, err);
    if (rc == 0)
        rc = read_list_kinds(&r, pl, err);
    if (rc == 0)
        rc = tfhers_skip_tag(&r, "list tag", err);
    if (rc == 0)
        rc = tfhers_expect_end(&r, "compact list", err);
    if (rc != 0)
        parsed_list_free(pl);
    return rc;
}

/* Value v (its blocks start at block `first`) as a Veil ciphertext. */
static int expand_value(const struct parsed_list *pl, size_t v, size_t first, veil_fhe_ct **out,
                        veil_err *err)
{
    const struct veil_fhe_params *p = pl->list->params;
    struct veil_radix rad;
    if (veil_radix_init(&rad, p, pl->widths[v], err) != 0)
        return -1;
    for (size_t b = 0; b < rad.n_blocks; b++) {
        if (veil_fhe_compact_list_expand(pl->list, first + b, &rad.blocks[b], err) != 0) {
            veil_radix_free(&rad);
            return -1;
        }
        if (pl->widths[v] == 1)
            rad.blocks[b].degree = 1; /* a boolean block holds 0 or 1 */
    }
    return veil_fhe_ct_wrap(p, &rad, out, err);
}

static int expand_all(const struct parsed_list *pl, veil_fhe_ct **out, veil_err *err)
{
    size_t first = 0;
    for (size_t v = 0; v < pl->n; v++) {
        if (expand_value(pl, v, first, &out[v], err) != 0) {
            for (size_t i = 0; i < v; i++) {
                veil_fhe_ct_free(out[i]);
                out[i] = NULL;
            }
            return -1;
        }
        first += blocks_per_value(pl->widths[v]);
    }
    return 0;
}

int veil_fhe_compact_expand_tfhers(const uint8_t *data, size_t len, unsigned width,
                                   veil_fhe_ct **out, size_t n, veil_err *err)
{
    memset(out, 0, n * sizeof *out);
    struct parsed_list pl;
    if (parse_list(data, len, 0, &pl, err) != 0)
        return -1;
    int rc = 0;
    if (pl.n != n)
        rc = veil_err_set(err, VEIL_E_MISMATCH, "TFHE-rs list holds %zu values, expected %zu", pl.n,
                          n);
    for (size_t v = 0; v < pl.n && rc == 0; v++)
        if (pl.widths[v] != width)
            rc = veil_err_set(err, VEIL_E_MISMATCH,
                              "TFHE-rs list value %zu is %u bits wide, expected %u", v,
                              pl.widths[v], width);
    if (rc == 0)
        rc = expand_all(&pl, out, err);
    parsed_list_free(&pl);
    return rc;
}

int veil_fhe_compact_expand_tfhers_all(const uint8_t *data, size_t len, veil_fhe_ct ***out,
                                       size_t *n, veil_err *err)
{
    *out = NULL;
    *n = 0;
    struct parsed_list pl;
    if (parse_list(data, len, 0, &pl, err) != 0)
        return -1;
    veil_fhe_ct **cts = calloc(pl.n, sizeof *cts);
    int rc = cts ? expand_all(&pl, cts, err) : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0) {
        *out = cts;
        *n = pl.n;
    } else {
        free(cts);
    }
    parsed_list_free(&pl);
    return rc;
}

/* ------------------------------------------- packed lists (with a server key) */

static uint64_t low_digit(uint64_t x, void *arg)
{
    return x % *(const uint64_t *)arg;
}

static uint64_t high_digit(uint64_t x, void *arg)
{
    return x / *(const uint64_t *)arg;
}

static void free_blocks(struct veil_shortint_ct *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        veil_shortint_ct_free(&b[i]);
    free(b);
}

/* The radix blocks of a packed list in order: stored block j holds
 * low + 4 * high and gives blocks 2j (low) and 2j + 1 (high), one KS+PBS each.
 * *out has 2 * count blocks. */
static int unpack_blocks(const struct parsed_list *pl, const veil_fhe_server *sk,
                         struct veil_shortint_ct **out, veil_err *err)
{
    const struct veil_fhe_params *p = pl->list->params;
    const size_t count = pl->list->count;
    const struct veil_shortint_server_key *key;
    struct veil_threadpool *pool;
    veil_fhe_server_parts(sk, &key, &pool);
    struct veil_shortint_ct *packed = calloc(count, sizeof *packed);
    struct veil_shortint_ct *blocks = calloc(2 * count, sizeof *blocks);
    struct veil_shortint_pbs_job *jobs = calloc(2 * count, sizeof *jobs);
    struct veil_shortint_lut low = {0}, high = {0};
    uint64_t msg = p->message_modulus;
    int rc = packed && blocks && jobs ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t j = 0; j < count && rc == 0; j++) {
        rc = veil_shortint_ct_init(&packed[j], p, err);
        if (rc == 0)
            rc = veil_fhe_compact_list_expand(pl->list, j, &packed[j], err);
        packed[j].degree = p->message_modulus * p->carry_modulus - 1;
    }
    for (size_t i = 0; i < 2 * count && rc == 0; i++)
        rc = veil_shortint_ct_init(&blocks[i], p, err);
    if (rc == 0)
        rc = veil_shortint_lut_init(&low, p, low_digit, &msg, err);
    if (rc == 0)
        rc = veil_shortint_lut_init(&high, p, high_digit, &msg, err);
    for (size_t j = 0; j < count && rc == 0; j++) {
        jobs[2 * j] =
            (struct veil_shortint_pbs_job){.in = &packed[j], .lut = &low, .out = &blocks[2 * j]};
        jobs[2 * j + 1] = (struct veil_shortint_pbs_job){
            .in = &packed[j], .lut = &high, .out = &blocks[2 * j + 1]};
    }
    if (rc == 0)
        rc = veil_shortint_apply_jobs(key, jobs, 2 * count, pool, err);
    veil_shortint_lut_free(&low);
    veil_shortint_lut_free(&high);
    free(jobs);
    free_blocks(packed, count);
    if (rc != 0) {
        free_blocks(blocks, 2 * count);
        return -1;
    }
    *out = blocks;
    return 0;
}

/* Values from unpacked blocks (value v's blocks follow value v-1's). */
static int values_from_blocks(const struct parsed_list *pl, const struct veil_shortint_ct *blocks,
                              veil_fhe_ct **out, veil_err *err)
{
    const struct veil_fhe_params *p = pl->list->params;
    size_t first = 0;
    for (size_t v = 0; v < pl->n; v++) {
        struct veil_radix rad;
        if (veil_radix_init(&rad, p, pl->widths[v], err) != 0)
            return -1;
        for (size_t b = 0; b < rad.n_blocks; b++) {
            veil_shortint_ct_copy(&rad.blocks[b], &blocks[first + b], p);
            if (pl->widths[v] == 1)
                rad.blocks[b].degree = 1; /* a boolean block holds 0 or 1 */
        }
        first += rad.n_blocks;
        if (veil_fhe_ct_wrap(p, &rad, &out[v], err) != 0)
            return -1;
    }
    return 0;
}

int veil_fhe_compact_expand_tfhers_sk(veil_fhe_server *sk, const uint8_t *data, size_t len,
                                      veil_fhe_ct ***out, size_t *n, veil_err *err)
{
    *out = NULL;
    *n = 0;
    struct parsed_list pl;
    if (parse_list(data, len, 1, &pl, err) != 0)
        return -1;
    veil_fhe_ct **cts = calloc(pl.n, sizeof *cts);
    struct veil_shortint_ct *blocks = NULL;
    int rc = cts ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0 && pl.packed && !sk)
        rc = veil_err_set(err, VEIL_E_INVALID, "a packed TFHE-rs list needs a server key");
    else if (rc == 0 && !pl.packed)
        rc = expand_all(&pl, cts, err);
    else if (rc == 0 && (rc = unpack_blocks(&pl, sk, &blocks, err)) == 0)
        rc = values_from_blocks(&pl, blocks, cts, err);
    if (blocks)
        free_blocks(blocks, 2 * pl.list->count);
    if (rc == 0) {
        *out = cts;
        *n = pl.n;
    } else {
        for (size_t i = 0; cts && i < pl.n; i++)
            veil_fhe_ct_free(cts[i]);
        free(cts);
    }
    parsed_list_free(&pl);
    return rc;
}

/* ------------------------------------------ decryption with the client key */

/* Stored block j's digits: its message (unpacked) or low and high (packed). */
static int stored_digits(const struct parsed_list *pl, const struct veil_shortint_client_key *ck,
                         uint64_t *digits, size_t cap, veil_err *err)
{
    const struct veil_fhe_params *p = pl->list->params;
    struct veil_shortint_ct ct;
    if (veil_shortint_ct_init(&ct, p, err) != 0)
        return -1;
    int rc = 0;
    for (size_t j = 0; j < pl->list->count && rc == 0; j++) {
        rc = veil_fhe_compact_list_expand(pl->list, j, &ct, err);
        uint64_t x = veil_shortint_decrypt(ck, &ct) % (p->message_modulus * p->carry_modulus);
        if (pl->packed && 2 * j + 1 < cap) {
            digits[2 * j] = x % p->message_modulus;
            digits[2 * j + 1] = x / p->message_modulus;
        } else if (pl->packed) {
            digits[2 * j] = x % p->message_modulus;
        } else {
            digits[j] = x % p->message_modulus;
        }
    }
    veil_memzero(ct.data, (veil_fhe_big_lwe_dim(p) + 1) * sizeof *ct.data);
    veil_shortint_ct_free(&ct);
    return rc;
}

int veil_fhe_compact_decrypt_tfhers(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                                    uint64_t **values, unsigned **widths, size_t *n, veil_err *err)
{
    *values = NULL;
    *widths = NULL;
    *n = 0;
    struct parsed_list pl;
    if (parse_list(data, len, 1, &pl, err) != 0)
        return -1;
    size_t blocks = 0;
    for (size_t v = 0; v < pl.n; v++)
        blocks += blocks_per_value(pl.widths[v]);
    uint64_t *digits = calloc(blocks, sizeof *digits);
    uint64_t *vals = calloc(pl.n, sizeof *vals);
    int rc = digits && vals ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = stored_digits(&pl, veil_fhe_client_key_of(ck), digits, blocks, err);
    for (size_t v = 0, first = 0; v < pl.n && rc == 0; v++) {
        size_t per = blocks_per_value(pl.widths[v]);
        for (size_t b = per; b-- > 0;)
            vals[v] = (vals[v] << 2) | digits[first + b];
        first += per;
    }
    if (digits)
        veil_memzero(digits, blocks * sizeof *digits);
    free(digits);
    if (rc == 0) {
        *values = vals;
        *widths = pl.widths;
        *n = pl.n;
        pl.widths = NULL;
    } else {
        free(vals);
    }
    parsed_list_free(&pl);
    return rc;
}
