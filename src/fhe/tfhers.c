// SPDX-License-Identifier: Apache-2.0
/*
 * tfhers.c - TFHE-rs (Zama) objects in Veil (include/veil/tfhers.h): header
 * detection, the client key, the compact public key and FheBool / FheUint
 * ciphertexts, read and written in TFHE-rs 1.7's versioned safe_serialize
 * layout (bytes: tfhers_wire.c; compact lists: tfhers_list.c).
 *
 * What maps directly: TFHE-rs and Veil use the same secret keys (the GLWE key
 * read as the big LWE key, the small LWE key), the same LWE layout (mask
 * words then the body, phase = b - <a, s>), the same encoding (a padding bit,
 * m * 2^59 for 2+2-bit blocks) and radix blocks least significant first, so
 * keys and ciphertexts convert word for word. What differs is the compact
 * public key's convolution convention (TFHE-rs multiplies by the reversed
 * key), converted by the automorphism X -> X^-1 (tfhers_internal.h).
 */
#include "api_internal.h"
#include "tfhers_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* log2_p_fail exactly as TFHE-rs writes it for the default set (informative
 * only: the reader does not compare it). */
#define TFHERS_LOG2_P_FAIL_BITS UINT64_C(0xc06032978d4fdf3b)
#define OPRF_SOME               1

static const struct veil_fhe_params *params(void)
{
    return veil_fhe_params_default();
}

/* -------------------------------------------------------------- detection */

bool veil_tfhers_detect(const uint8_t *data, size_t len)
{
    if (len < 9)
        return false;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | data[i];
    if (n == 0 || n > 16 || len < 8 + n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((data[8 + i] >= '0' && data[8 + i] <= '9') || data[8 + i] == '.'))
            return false;
    return true;
}

static enum veil_tfhers_type type_of(const char *name, size_t n)
{
    static const struct {
        const char *name;
        enum veil_tfhers_type type;
    } names[] = {
        {TFHERS_NAME_CLIENT_KEY, VEIL_TFHERS_CLIENT_KEY},
        {TFHERS_NAME_PUBLIC_KEY, VEIL_TFHERS_PUBLIC_KEY},
        {TFHERS_NAME_FHEBOOL, VEIL_TFHERS_FHEBOOL},
        {TFHERS_NAME_FHEUINT, VEIL_TFHERS_FHEUINT},
        {TFHERS_NAME_LIST, VEIL_TFHERS_COMPACT_LIST},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (n == strlen(names[i].name) && memcmp(name, names[i].name, n) == 0)
            return names[i].type;
    return VEIL_TFHERS_OTHER;
}

const char *veil_tfhers_type_name(enum veil_tfhers_type type)
{
    switch (type) {
    case VEIL_TFHERS_CLIENT_KEY:
        return "TFHE-rs client key";
    case VEIL_TFHERS_PUBLIC_KEY:
        return "TFHE-rs compact public key";
    case VEIL_TFHERS_FHEBOOL:
        return "TFHE-rs FheBool";
    case VEIL_TFHERS_FHEUINT:
        return "TFHE-rs FheUint";
    case VEIL_TFHERS_COMPACT_LIST:
        return "TFHE-rs compact ciphertext list";
    default:
        return "TFHE-rs object of another type";
    }
}

int veil_tfhers_peek(const uint8_t *data, size_t len, enum veil_tfhers_type *type, veil_err *err)
{
    if (!veil_tfhers_detect(data, len))
        return veil_err_set(err, VEIL_E_PARSE, "not a TFHE-rs safe_serialize object");
    veil_reader r;
    veil_reader_init(&r, data, len);
    const char *name;
    size_t n;
    if (tfhers_read_header(&r, &name, &n, err) != 0)
        return -1;
    *type = type_of(name, n);
    return 0;
}

int veil_tfhers_file_type(const char *path, enum veil_tfhers_type *type, veil_err *err)
{
    uint8_t head[256];
    FILE *f = fopen(path, "rb");
    if (!f)
        return veil_err_set(err, VEIL_E_IO, "cannot open %s", path);
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (veil_tfhers_peek(head, n, type, err) != 0)
        return veil_err_wrap(err, "%s", path);
    return 0;
}

int tfhers_open_object(veil_reader *r, const uint8_t *data, size_t len, enum veil_tfhers_type want,
                       enum veil_tfhers_type alt, enum veil_tfhers_type *got, veil_err *err)
{
    if (len > TFHERS_MAX_BYTES)
        return veil_err_set(err, VEIL_E_LIMIT, "TFHE-rs object of %zu bytes (at most %u)", len,
                            TFHERS_MAX_BYTES);
    enum veil_tfhers_type t;
    if (veil_tfhers_peek(data, len, &t, err) != 0)
        return -1;
    if (t != want && t != alt)
        return veil_err_set(err, VEIL_E_INVALID, "this is a %s, not a %s", veil_tfhers_type_name(t),
                            veil_tfhers_type_name(want));
    veil_reader_init(r, data, len);
    const char *name;
    size_t n;
    if (tfhers_read_header(r, &name, &n, err) != 0)
        return -1;
    if (got)
        *got = t;
    return 0;
}

/* ------------------------------------------------------------- parameters */

/* ClassicPBSParameters (PBSParameters::PBS, version 2) of Veil's set. */
static void put_pbs_params(veil_buf *b, const struct veil_fhe_params *p)
{
    tfhers_put_u32(b, 0); /* PBSParametersVersions::V0 */
    tfhers_put_u32(b, 0); /* PBSParameters::PBS */
    tfhers_put_u32(b, 2); /* ClassicPBSParametersVersions::V2 */
    tfhers_put_vu64(b, p->lwe_dim);
    tfhers_put_vu64(b, p->glwe_dim);
    tfhers_put_vu64(b, p->poly_size);
    tfhers_put_tuniform(b, p->lwe_noise_log2);
    tfhers_put_tuniform(b, p->glwe_noise_log2);
    tfhers_put_vu64(b, p->pbs_base_log);
    tfhers_put_vu64(b, p->pbs_level);
    tfhers_put_vu64(b, p->ks_base_log);
    tfhers_put_vu64(b, p->ks_level);
    tfhers_put_vu64(b, p->message_modulus);
    tfhers_put_vu64(b, p->carry_modulus);
    tfhers_put_vu64(b, p->max_noise_level);
    tfhers_put_u64(b, TFHERS_LOG2_P_FAIL_BITS);
    tfhers_put_modulus(b);
    tfhers_put_u32(b, 0); /* EncryptionKeyChoiceVersions::V0 */
    tfhers_put_u32(b, 0); /* Big */
    tfhers_put_u32(b, 0); /* ModulusSwitchTypeVersions::V0 */
    tfhers_put_u32(b, 2); /* CenteredMeanNoiseReduction */
}

int tfhers_expect_variant(veil_reader *r, uint32_t want, const char *what, veil_err *err)
{
    uint32_t v = veil_read_u32le(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (in %s)", what);
    if (v != want)
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "TFHE-rs parameters: %s is variant %u, Veil's parameter set has %u",
                            what, v, want);
    return 0;
}

static int read_pbs_params(veil_reader *r, const struct veil_fhe_params *p, veil_err *err)
{
    if (tfhers_expect_u32(r, 0, "PBS parameters", err) != 0 ||
        tfhers_expect_variant(r, 0, "PBS kind (multi-bit is not supported)", err) != 0 ||
        tfhers_expect_u32(r, 2, "classic PBS parameters", err) != 0 ||
        tfhers_expect_vu64(r, p->lwe_dim, "lwe_dimension", err) != 0 ||
        tfhers_expect_vu64(r, p->glwe_dim, "glwe_dimension", err) != 0 ||
        tfhers_expect_vu64(r, p->poly_size, "polynomial_size", err) != 0 ||
        tfhers_expect_tuniform(r, p->lwe_noise_log2, "lwe_noise_distribution", err) != 0 ||
        tfhers_expect_tuniform(r, p->glwe_noise_log2, "glwe_noise_distribution", err) != 0 ||
        tfhers_expect_vu64(r, p->pbs_base_log, "pbs_base_log", err) != 0 ||
        tfhers_expect_vu64(r, p->pbs_level, "pbs_level", err) != 0 ||
        tfhers_expect_vu64(r, p->ks_base_log, "ks_base_log", err) != 0 ||
        tfhers_expect_vu64(r, p->ks_level, "ks_level", err) != 0 ||
        tfhers_expect_vu64(r, p->message_modulus, "message_modulus", err) != 0 ||
        tfhers_expect_vu64(r, p->carry_modulus, "carry_modulus", err) != 0 ||
        tfhers_expect_vu64(r, p->max_noise_level, "max_noise_level", err) != 0)
        return -1;
    (void)veil_read_u64le(r); /* log2_p_fail: informative */
    if (tfhers_expect_modulus(r, "parameters", err) != 0 ||
        tfhers_expect_u32(r, 0, "encryption key choice", err) != 0 ||
        tfhers_expect_variant(r, 0, "encryption_key_choice (Big)", err) != 0 ||
        tfhers_expect_u32(r, 0, "modulus switch type", err) != 0 ||
        tfhers_expect_variant(
            r, 2, "modulus_switch_noise_reduction_params (CenteredMeanNoiseReduction)", err) != 0)
        return -1;
    return 0;
}

/* CompactPublicKeyEncryptionParameters (version 1) of a key under the big
 * key: what TFHE-rs derives from the default block parameters. */
static void put_cpk_params(veil_buf *b, const struct veil_fhe_params *p)
{
    tfhers_put_u32(b, 1); /* CompactPublicKeyEncryptionParametersVersions::V1 */
    tfhers_put_vu64(b, veil_fhe_big_lwe_dim(p));
    tfhers_put_tuniform(b, p->glwe_noise_log2);
    tfhers_put_vu64(b, p->message_modulus);
    tfhers_put_vu64(b, p->carry_modulus);
    tfhers_put_modulus(b);
    tfhers_put_u32(b, 1); /* CompactCiphertextListExpansionKindVersions::V1 */
    tfhers_put_u32(b, 1); /* NoCasting */
    tfhers_put_ap_kind(b);
    tfhers_put_u32(b, 0); /* SupportedCompactPkeZkSchemeVersions::V0 */
    tfhers_put_u32(b, 0); /* ZkNotSupported */
}

/* NoCasting(Standard(KS_PBS)): blocks come out under the big key, usable
 * without a keyswitch. */
int tfhers_read_expansion_kind(veil_reader *r, veil_err *err)
{
    if (tfhers_expect_u32(r, 1, "expansion kind", err) != 0 ||
        tfhers_expect_variant(r, 1,
                              "expansion kind (NoCasting; lists that need a casting key come from "
                              "dedicated compact-key parameters)",
                              err) != 0)
        return -1;
    return tfhers_expect_ap_kind(r, "expansion kind", err);
}

static int read_cpk_params(veil_reader *r, const struct veil_fhe_params *p, veil_err *err)
{
    if (tfhers_expect_u32(r, 1, "compact public key parameters", err) != 0 ||
        tfhers_expect_vu64(r, veil_fhe_big_lwe_dim(p), "encryption_lwe_dimension", err) != 0 ||
        tfhers_expect_tuniform(r, p->glwe_noise_log2, "encryption_noise_distribution", err) != 0 ||
        tfhers_expect_vu64(r, p->message_modulus, "message_modulus", err) != 0 ||
        tfhers_expect_vu64(r, p->carry_modulus, "carry_modulus", err) != 0 ||
        tfhers_expect_modulus(r, "compact public key parameters", err) != 0 ||
        tfhers_read_expansion_kind(r, err) != 0 || tfhers_expect_u32(r, 0, "zk scheme", err) != 0)
        return -1;
    uint32_t zk = veil_read_u32le(r); /* the proof scheme does not change the key */
    if (!veil_reader_ok(r) || zk > 2)
        return veil_err_set(err, VEIL_E_PARSE, "TFHE-rs compact public key: bad zk scheme");
    return 0;
}

/* ------------------------------------------------------------- client key */

/* Bytes a serialized client key takes at most: its three key vectors (big,
 * small, OPRF) and a margin for the header, version tags and parameters. */
static size_t client_key_bound(const struct veil_fhe_params *p)
{
    return 8 * ((size_t)veil_fhe_big_lwe_dim(p) + 2 * (size_t)p->lwe_dim) + 4096;
}

int veil_fhe_client_serialize_tfhers(const veil_fhe_client *ck, veil_buf *out, veil_err *err)
{
    const struct veil_shortint_client_key *k = veil_fhe_client_key_of(ck);
    const struct veil_fhe_params *p = k->params;
    /* TFHE-rs 1.7 keys carry a dedicated OPRF secret key: a fresh one here. */
    uint64_t *oprf = calloc(p->lwe_dim, sizeof *oprf);
    uint8_t *bits = malloc(p->lwe_dim);
    if (!oprf || !bits) {
        free(oprf);
        free(bits);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_random_bytes(bits, p->lwe_dim);
    for (size_t i = 0; i < p->lwe_dim; i++)
        oprf[i] = bits[i] & 1;
    /* One allocation for the whole key: growing the buffer as words are
     * appended would leave key bytes behind in freed blocks. */
    const uint8_t *reserved = veil_buf_reserve(out, client_key_bound(p)) == 0 ? out->data : NULL;
    tfhers_put_header(out, TFHERS_NAME_CLIENT_KEY);
    static const uint32_t tags[] = {1, 8, 0, 1, 0, 0, 0, 0}; /* ClientKey V1 .. GlweSecretKey V0 */
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        tfhers_put_u32(out, tags[i]);
    tfhers_put_words(out, k->big_key, veil_fhe_big_lwe_dim(p));
    tfhers_put_vu64(out, p->poly_size);
    tfhers_put_u32(out, 0); /* LweSecretKeyVersions::V0 */
    tfhers_put_words(out, k->small_key, p->lwe_dim);
    put_pbs_params(out, p);
    /* wopbs, dedicated compact key, compression, noise squashing (+ its
     * compression), re-randomization: none; then Some(OPRF key). */
    for (int i = 0; i < 6; i++)
        veil_buf_put_u8(out, 0);
    veil_buf_put_u8(out, OPRF_SOME);
    for (int i = 0; i < 5; i++) /* OPRF key versions, Standard, LweSecretKey V0 */
        tfhers_put_u32(out, 0);
    tfhers_put_words(out, oprf, p->lwe_dim);
    tfhers_put_empty_tag(out);
    veil_memzero(oprf, p->lwe_dim * sizeof *oprf);
    veil_memzero(bits, p->lwe_dim);
    free(oprf);
    free(bits);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing a TFHE-rs client key");
    if (out->data != reserved)
        return veil_err_set(err, VEIL_E_INTERNAL, "a TFHE-rs client key outgrew its buffer");
    return 0;
}

/* The Option fields after the parameters: only TFHE-rs's default
 * configuration (no extra keys; the OPRF key is read and dropped). */
static int read_client_options(veil_reader *r, const struct veil_fhe_params *p, uint64_t *scratch,
                               veil_err *err)
{
    static const char *const extra[] = {
        "WoPBS parameters",    "dedicated compact private key",   "compression key",
        "noise-squashing key", "noise-squashing compression key", "re-randomization parameters",
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        int some;
        if (tfhers_read_option(r, &some, extra[i], err) != 0)
            return -1;
        if (some)
            return veil_err_set(err, VEIL_E_UNSUPPORTED,
                                "TFHE-rs client key carries a %s: only the default configuration "
                                "(ConfigBuilder::default()) is supported",
                                extra[i]);
    }
    int oprf;
    if (tfhers_read_option(r, &oprf, "OPRF key", err) != 0)
        return -1;
    if (oprf) {
        if (tfhers_expect_u32(r, 0, "OPRF key", err) != 0 ||
            tfhers_expect_u32(r, 0, "OPRF key", err) != 0 ||
            tfhers_expect_u32(r, 0, "OPRF key", err) != 0 ||
            tfhers_expect_variant(r, 0, "OPRF key atomic pattern (Standard)", err) != 0 ||
            tfhers_expect_u32(r, 0, "OPRF LWE key", err) != 0 ||
            tfhers_read_binary_key(r, scratch, p->lwe_dim, "OPRF LWE key", err) != 0)
            return -1;
    }
    return tfhers_skip_tag(r, "client key tag", err);
}

static int read_client_key(veil_reader *r, struct veil_shortint_client_key *k, veil_err *err)
{
    const struct veil_fhe_params *p = k->params;
    static const struct {
        uint32_t v;
        const char *what;
    } tags[] = {
        {1, "ClientKey"},          {8, "integer client key"},        {0, "integer ClientKey"},
        {1, "shortint ClientKey"}, {0, "atomic pattern client key"},
    };
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (tfhers_expect_u32(r, tags[i].v, tags[i].what, err) != 0)
            return -1;
    if (tfhers_expect_variant(
            r, 0, "client key atomic pattern (Standard; KeySwitch32 is not supported)", err) != 0 ||
        tfhers_expect_u32(r, 0, "standard client key", err) != 0 ||
        tfhers_expect_u32(r, 0, "GLWE secret key", err) != 0 ||
        tfhers_read_binary_key(r, k->big_key, veil_fhe_big_lwe_dim(p), "GLWE secret key", err) !=
            0 ||
        tfhers_expect_vu64(r, p->poly_size, "GLWE key polynomial_size", err) != 0 ||
        tfhers_expect_u32(r, 0, "LWE secret key", err) != 0 ||
        tfhers_read_binary_key(r, k->small_key, p->lwe_dim, "LWE secret key", err) != 0 ||
        read_pbs_params(r, p, err) != 0)
        return -1;
    return 0;
}

int veil_fhe_client_deserialize_tfhers(const uint8_t *data, size_t len, veil_fhe_client **out,
                                       veil_err *err)
{
    *out = NULL;
    const struct veil_fhe_params *p = params();
    veil_reader r;
    if (tfhers_open_object(&r, data, len, VEIL_TFHERS_CLIENT_KEY, VEIL_TFHERS_CLIENT_KEY, NULL,
                           err) != 0)
        return -1;
    struct veil_shortint_client_key *k = NULL;
    if (veil_fhe_client_key_alloc(&k, p, err) != 0)
        return -1;
    uint64_t *scratch = calloc(p->lwe_dim, sizeof *scratch);
    int rc = scratch ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (rc == 0)
        rc = read_client_key(&r, k, err);
    if (rc == 0)
        rc = read_client_options(&r, p, scratch, err);
    if (rc == 0)
        rc = tfhers_expect_end(&r, "client key", err);
    if (scratch)
        veil_memzero(scratch, p->lwe_dim * sizeof *scratch);
    free(scratch);
    if (rc != 0) {
        veil_fhe_client_key_free(k);
        return -1;
    }
    return veil_fhe_client_wrap(k, out, err);
}

/* ------------------------------------------------------------- public key */

int veil_fhe_public_serialize_tfhers(const veil_fhe_public *pk, veil_buf *out, veil_err *err)
{
    const struct veil_fhe_public_key *k = veil_fhe_public_key_of(pk);
    const struct veil_fhe_params *p = k->params;
    const size_t m = veil_fhe_big_lwe_dim(p);
    uint64_t *w = malloc(2 * m * sizeof *w);
    if (!w)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    tfhers_neg_x_sigma(w, k->a, m);
    tfhers_sigma(w + m, k->b, m);
    tfhers_put_header(out, TFHERS_NAME_PUBLIC_KEY);
    /* HL V1, its integer key V0, integer V0, shortint V1, LWE key V0, GLWE V0 */
    static const uint32_t tags[] = {1, 0, 0, 1, 0, 0};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        tfhers_put_u32(out, tags[i]);
    tfhers_put_words(out, w, 2 * m); /* mask then body */
    tfhers_put_vu64(out, m);         /* the GLWE's polynomial size is M */
    tfhers_put_modulus(out);
    put_cpk_params(out, p);
    tfhers_put_empty_tag(out);
    free(w);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing a TFHE-rs public key");
    return 0;
}

static int read_public_key(veil_reader *r, const struct veil_fhe_params *p, uint64_t *w,
                           veil_err *err)
{
    const size_t m = veil_fhe_big_lwe_dim(p);
    static const uint32_t tags[] = {1, 0, 0, 1, 0, 0};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (tfhers_expect_u32(r, tags[i], "compact public key", err) != 0)
            return -1;
    if (tfhers_read_words(r, w, 2 * m, "compact public key", err) != 0 ||
        tfhers_expect_vu64(r, m, "compact public key size", err) != 0 ||
        tfhers_expect_modulus(r, "compact public key", err) != 0 ||
        read_cpk_params(r, p, err) != 0 || tfhers_skip_tag(r, "public key tag", err) != 0)
        return -1;
    return tfhers_expect_end(r, "compact public key", err);
}

int veil_fhe_public_deserialize_tfhers(const uint8_t *data, size_t len, veil_fhe_public **out,
                                       veil_err *err)
{
    *out = NULL;
    const struct veil_fhe_params *p = params();
    const size_t m = veil_fhe_big_lwe_dim(p);
    veil_reader r;
    if (tfhers_open_object(&r, data, len, VEIL_TFHERS_PUBLIC_KEY, VEIL_TFHERS_PUBLIC_KEY, NULL,
                           err) != 0)
        return -1;
    uint64_t *w = malloc(2 * m * sizeof *w);
    if (!w)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    struct veil_fhe_public_key *k = NULL;
    int rc = read_public_key(&r, p, w, err);
    if (rc == 0)
        rc = veil_fhe_public_key_alloc(&k, p, err);
    if (rc == 0) {
        tfhers_neg_x_sigma(k->a, w, m);
        tfhers_sigma(k->b, w + m, m);
    }
    free(w);
    if (rc != 0)
        return -1;
    return veil_fhe_public_wrap(k, 1, out, err);
}

/* ------------------------------------------------------------ ciphertexts */

int veil_fhe_ct_serialize_tfhers(const veil_fhe_ct *ct, veil_buf *out, veil_err *err)
{
    const struct veil_fhe_params *p;
    const struct veil_radix *r = veil_fhe_ct_radix(ct, &p);
    const int boolean = r->width == 1;
    tfhers_put_header(out, boolean ? TFHERS_NAME_FHEBOOL : TFHERS_NAME_FHEUINT);
    tfhers_put_u32(out, 2); /* FheUintVersions::V2 / FheBoolVersions::V2 */
    tfhers_put_u32(out, 0); /* the CPU ciphertext's versioned form, V0 */
    tfhers_put_u32(out, 0); /* BaseRadixCiphertext / BooleanBlock V0 */
    if (!boolean)
        tfhers_put_u64(out, r->n_blocks);
    for (size_t i = 0; i < r->n_blocks; i++)
        tfhers_put_block(out, p, &r->blocks[i]);
    tfhers_put_empty_tag(out); /* tag */
    tfhers_put_empty_tag(out); /* re-randomization metadata */
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory serializing a TFHE-rs ciphertext");
    return 0;
}

/* The width an FheUint of nblocks blocks has, if Veil supports it. */
int tfhers_width_of_blocks(uint64_t nblocks, unsigned *width, veil_err *err)
{
    if (nblocks != 4 && nblocks != 8 && nblocks != 16 && nblocks != 32)
        return veil_err_set(err, VEIL_E_UNSUPPORTED,
                            "TFHE-rs integer of %llu blocks (%llu bits): Veil supports FheUint8, "
                            "16, 32 and 64",
                            (unsigned long long)nblocks, (unsigned long long)nblocks * 2);
    *width = (unsigned)nblocks * 2;
    return 0;
}

static int read_ct_body(veil_reader *r, const struct veil_fhe_params *p, int boolean,
                        struct veil_radix *rad, veil_err *err)
{
    if (tfhers_expect_u32(r, 2, boolean ? "FheBool" : "FheUint", err) != 0 ||
        tfhers_expect_u32(r, 0, "radix ciphertext", err) != 0 ||
        tfhers_expect_u32(r, 0, "radix ciphertext", err) != 0)
        return -1;
    unsigned width = 1;
    if (!boolean) {
        uint64_t nblocks = veil_read_u64le(r);
        if (!veil_reader_ok(r))
            return veil_err_set(err, VEIL_E_RANGE, "TFHE-rs object truncated (block count)");
        if (tfhers_width_of_blocks(nblocks, &width, err) != 0)
            return -1;
    }
    if (veil_radix_init(rad, p, width, err) != 0)
        return -1;
    /* Veil computes on clean blocks (carries propagated), as TFHE-rs's
     * high-level API leaves them. */
    const uint64_t max_degree = boolean ? 1 : p->message_modulus - 1;
    for (size_t i = 0; i < rad->n_blocks; i++)
        if (tfhers_read_block(r, p, &rad->blocks[i], max_degree, err) != 0)
            return -1;
    if (tfhers_skip_tag(r, "ciphertext tag", err) != 0 ||
        tfhers_skip_tag(r, "re-randomization metadata", err) != 0)
        return -1;
    return tfhers_expect_end(r, "ciphertext", err);
}

int veil_fhe_ct_deserialize_tfhers(const uint8_t *data, size_t len, veil_fhe_ct **out,
                                   veil_err *err)
{
    *out = NULL;
    const struct veil_fhe_params *p = params();
    veil_reader r;
    enum veil_tfhers_type t;
    if (tfhers_open_object(&r, data, len, VEIL_TFHERS_FHEUINT, VEIL_TFHERS_FHEBOOL, &t, err) != 0)
        return -1;
    struct veil_radix rad;
    memset(&rad, 0, sizeof rad);
    if (read_ct_body(&r, p, t == VEIL_TFHERS_FHEBOOL, &rad, err) != 0) {
        veil_radix_free(&rad);
        return -1;
    }
    return veil_fhe_ct_wrap(p, &rad, out, err);
}
