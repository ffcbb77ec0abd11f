// SPDX-License-Identifier: Apache-2.0
/*
 * tfhers_wire.c - the byte level of TFHE-rs's safe_serialize format: the
 * header, bincode integers, strings and vectors, the versioned newtypes and
 * enums that recur in every object (moduli, atomic pattern, noise
 * distributions, tags) and one shortint block. Every read goes through
 * veil_reader and fails with a message naming the field (tfhers_internal.h).
 */
#include "tfhers_internal.h"

#include <string.h>

#define HEADER_VERSION     "0.5"
#define VERSIONING_VERSION "0.1"
#define TAG_MAX            4096

/* ------------------------------------------------------------------ write */

void tfhers_put_u32(veil_buf *b, uint32_t v)
{
    veil_buf_put_u32le(b, v);
}

void tfhers_put_u64(veil_buf *b, uint64_t v)
{
    veil_buf_put_u64le(b, v);
}

static void put_str(veil_buf *b, const char *s)
{
    size_t n = strlen(s);
    tfhers_put_u64(b, n);
    veil_buf_put(b, s, n);
}

void tfhers_put_header(veil_buf *b, const char *type_name)
{
    put_str(b, HEADER_VERSION);
    tfhers_put_u32(b, 0); /* SerializationVersioningMode::Versioned */
    put_str(b, VERSIONING_VERSION);
    put_str(b, type_name);
}

void tfhers_put_vu64(veil_buf *b, uint64_t v)
{
    tfhers_put_u32(b, 0);
    tfhers_put_u64(b, v);
}

void tfhers_put_modulus(veil_buf *b)
{
    tfhers_put_u32(b, 0); /* SerializableCiphertextModulusVersions::V0 */
    tfhers_put_u64(b, 0); /* modulus: u128 0 = native */
    tfhers_put_u64(b, 0);
    tfhers_put_u64(b, 64); /* scalar_bits */
}

void tfhers_put_ap_kind(veil_buf *b)
{
    tfhers_put_u32(b, 0); /* AtomicPatternKindVersions::V0 */
    tfhers_put_u32(b, 0); /* Standard */
    tfhers_put_u32(b, 0); /* PBSOrderVersions::V0 */
    tfhers_put_u32(b, 0); /* KeyswitchBootstrap */
}

void tfhers_put_tuniform(veil_buf *b, uint32_t bound_log2)
{
    tfhers_put_u32(b, 0); /* DynamicDistributionVersions::V0 */
    tfhers_put_u32(b, 1); /* TUniform (0 is Gaussian) */
    tfhers_put_u32(b, 0); /* TUniformVersions::V0 */
    tfhers_put_u32(b, bound_log2);
}

void tfhers_put_empty_tag(veil_buf *b)
{
    tfhers_put_u32(b, 0);
    tfhers_put_u64(b, 0);
}

void tfhers_put_words(veil_buf *b, const uint64_t *w, size_t n)
{
    tfhers_put_u64(b, n);
    tfhers_put_raw_words(b, w, n);
}

void tfhers_put_raw_words(veil_buf *b, const uint64_t *w, size_t n)
{
    uint8_t *dst = veil_buf_extend(b, n * 8);
    if (!dst)
        return;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 8; j++)
            dst[8 * i + (size_t)j] = (uint8_t)(w[i] >> (8 * j));
}

/* shortint::Ciphertext V1: LweCiphertext (data mask-then-body, modulus),
 * degree, noise level, message and carry moduli, atomic pattern. */
void tfhers_put_block(veil_buf *b, const struct veil_fhe_params *p,
                      const struct veil_shortint_ct *ct)
{
    tfhers_put_u32(b, 1); /* CiphertextVersions::V1 */
    tfhers_put_u32(b, 0); /* LweCiphertextVersions::V0 */
    tfhers_put_words(b, ct->data, veil_fhe_big_lwe_dim(p) + 1);
    tfhers_put_modulus(b);
    tfhers_put_vu64(b, ct->degree);
    tfhers_put_vu64(b, ct->noise_level);
    tfhers_put_vu64(b, p->message_modulus);
    tfhers_put_vu64(b, p->carry_modulus);
    tfhers_put_ap_kind(b);
}

/* ------------------------------------------------------------------- read */

static int truncated(const char *what, veil_err *err)
{
    return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (in %s)", what);
}

/* A bincode string of at most max bytes, borrowed. */
static int read_str(veil_reader *r, size_t max, const char **s, size_t *n, const char *what,
                    veil_err *err)
{
    uint64_t len = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (len > max)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs %s: string of %llu bytes (at most %zu)",
                            what, (unsigned long long)len, max);
    *s = (const char *)veil_read_borrow(r, (size_t)len);
    if (!*s)
        return truncated(what, err);
    *n = (size_t)len;
    return 0;
}

static int str_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

int tfhers_read_header(veil_reader *r, const char **name, size_t *name_len, veil_err *err)
{
    const char *s;
    size_t n;
    if (read_str(r, 16, &s, &n, "header version", err) != 0)
        return -1;
    if (!str_is(s, n, HEADER_VERSION))
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "TFHE-rs serialization header version %.*s is not supported (Veil "
                            "reads version " HEADER_VERSION ", written by TFHE-rs 1.x)",
                            (int)n, s);
    uint32_t mode = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated("header", err);
    if (mode > 1)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs header: versioning mode %u is unknown",
                            mode);
    if (read_str(r, 16, &s, &n, "header", err) != 0)
        return -1;
    if (mode == 1)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "unversioned TFHE-rs serialization (written by TFHE-rs %.*s) is not "
                            "supported: write it with safe_serialize (versioned)",
                            (int)n, s);
    if (!str_is(s, n, VERSIONING_VERSION))
        return veil_err_set(
            err, VEIL_E_UNSUPPORTED,
            "TFHE-rs versioning scheme %.*s is not supported (want " VERSIONING_VERSION ")", (int)n,
            s);
    return read_str(r, TFHERS_NAME_MAX, name, name_len, "type name", err);
}

int tfhers_expect_u32(veil_reader *r, uint32_t want, const char *what, veil_err *err)
{
    uint32_t v = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (v != want)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "TFHE-rs %s: found variant/version %u, Veil reads %u (the TFHE-rs 1.7 "
                            "layout)",
                            what, v, want);
    return 0;
}

int tfhers_read_vu64(veil_reader *r, uint64_t *v, const char *what, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    *v = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    return 0;
}

int tfhers_expect_vu64(veil_reader *r, uint64_t want, const char *what, veil_err *err)
{
    uint64_t v;
    if (tfhers_read_vu64(r, &v, what, err) != 0)
        return -1;
    if (v != want)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs parameters: %s is %llu, Veil's parameter set has %llu", what,
                            (unsigned long long)v, (unsigned long long)want);
    return 0;
}

int tfhers_expect_modulus(veil_reader *r, const char *what, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    uint64_t lo = veil_read_u64le(r), hi = veil_read_u64le(r), bits = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (lo != 0 || hi != 0 || bits != 64)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs %s: ciphertext modulus is not the native 2^64 (modulus "
                            "%llx:%llx, %llu-bit words)",
                            what, (unsigned long long)hi, (unsigned long long)lo,
                            (unsigned long long)bits);
    return 0;
}

int tfhers_expect_ap_kind(veil_reader *r, const char *what, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    uint32_t kind = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (kind != 0)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs %s: atomic pattern %u is not Standard (KeySwitch32 and "
                            "others are not Veil's parameter set)",
                            what, kind);
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    uint32_t order = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (order != 0)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs %s: PBS order is bootstrap-then-keyswitch; Veil's parameter "
                            "set keyswitches first",
                            what);
    return 0;
}

int tfhers_expect_tuniform(veil_reader *r, uint32_t bound_log2, const char *what, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    uint32_t kind = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (kind != 1)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs parameters: %s is not a TUniform distribution", what);
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    uint32_t b = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (b != bound_log2)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs parameters: %s is TUniform(2^%u), Veil's parameter set has "
                            "TUniform(2^%u)",
                            what, b, bound_log2);
    return 0;
}

int tfhers_read_option(veil_reader *r, int *some, const char *what, veil_err *err)
{
    uint8_t v = veil_read_u8(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (v > 1)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs %s: option marker %u is not 0 or 1", what,
                            v);
    *some = v;
    return 0;
}

int tfhers_skip_tag(veil_reader *r, const char *what, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, what, err) != 0)
        return -1;
    const char *s;
    size_t n;
    return read_str(r, TAG_MAX, &s, &n, what, err);
}

int tfhers_read_words(veil_reader *r, uint64_t *out, size_t n, const char *what, veil_err *err)
{
    uint64_t len = veil_read_u64le(r);
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (len != n)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs %s: %llu words, Veil's parameter set "
                            "has %zu",
                            what, (unsigned long long)len, n);
    return tfhers_read_raw_words(r, out, n, what, err);
}

int tfhers_read_raw_words(veil_reader *r, uint64_t *out, size_t n, const char *what, veil_err *err)
{
    const uint8_t *src = veil_read_borrow(r, n * 8);
    if (!src)
        return truncated(what, err);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = (v << 8) | src[8 * i + (size_t)j];
        out[i] = v;
    }
    return 0;
}

int tfhers_read_binary_key(veil_reader *r, uint64_t *out, size_t n, const char *what, veil_err *err)
{
    if (tfhers_read_words(r, out, n, what, err) != 0)
        return -1;
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= out[i] >> 1; /* no branch on secret bits */
    if (bad)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs %s is not a binary secret key", what);
    return 0;
}

int tfhers_read_block(veil_reader *r, const struct veil_fhe_params *p, struct veil_shortint_ct *ct,
                      uint64_t max_degree, veil_err *err)
{
    uint64_t degree, noise;
    if (tfhers_expect_u32(r, 1, "shortint ciphertext", err) != 0 ||
        tfhers_expect_u32(r, 0, "LWE ciphertext", err) != 0 ||
        tfhers_read_words(r, ct->data, veil_fhe_big_lwe_dim(p) + 1, "LWE ciphertext", err) != 0 ||
        tfhers_expect_modulus(r, "LWE ciphertext", err) != 0 ||
        tfhers_read_vu64(r, &degree, "block degree", err) != 0 ||
        tfhers_read_vu64(r, &noise, "block noise level", err) != 0 ||
        tfhers_expect_vu64(r, p->message_modulus, "message modulus", err) != 0 ||
        tfhers_expect_vu64(r, p->carry_modulus, "carry modulus", err) != 0 ||
        tfhers_expect_ap_kind(r, "block", err) != 0)
        return -1;
    if (degree > max_degree)
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs block degree %llu above %llu",
                            (unsigned long long)degree, (unsigned long long)max_degree);
    if (noise > p->max_noise_level)
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs block noise level %llu above %u",
                            (unsigned long long)noise, p->max_noise_level);
    ct->degree = degree;
    ct->noise_level = (uint32_t)noise;
    return 0;
}

int tfhers_expect_end(const veil_reader *r, const char *what, veil_err *err)
{
    if (!veil_reader_ok(r))
        return truncated(what, err);
    if (!veil_reader_at_end(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs %s: %zu unexpected trailing bytes", what,
                            veil_reader_remaining(r));
    return 0;
}

/* --------------------------------------------------------- coefficient maps */

void tfhers_sigma(uint64_t *out, const uint64_t *in, size_t m)
{
    out[0] = in[0];
    for (size_t j = 1; j < m; j++)
        out[j] = (uint64_t)0 - in[m - j];
}

/* -X * sigma(in): (X q)[0] = -q[M-1], (X q)[j] = q[j-1]; negated. With
 * sigma(in)[0] = in[0] and sigma(in)[j] = -in[M-j]: out[0] = sigma[M-1] =
 * -in[1], out[1] = -in[0], out[j] = in[M-j+1] for j >= 2. */
void tfhers_neg_x_sigma(uint64_t *out, const uint64_t *in, size_t m)
{
    out[0] = (uint64_t)0 - in[1];
    out[1] = (uint64_t)0 - in[0];
    for (size_t j = 2; j < m; j++)
        out[j] = in[m - j + 1];
}
