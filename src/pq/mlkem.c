// SPDX-License-Identifier: Apache-2.0
/*
 * mlkem.c - ML-KEM-768 (FIPS 203): K-PKE (algorithms 13-15), the KEM's
 * internal algorithms (16-18) and the checked public entry points of
 * include/veil/pq.h (algorithms 19-21 with the input checks of section 7).
 *
 * Byte layouts (k = 3): ek = ByteEncode12(t_hat) || rho (1184);
 * dk = ByteEncode12(s_hat) || ek || H(ek) || z (2400);
 * c = ByteEncode10(Compress10(u)) || ByteEncode4(Compress4(v)) (1088).
 *
 * Secrets (s, e, y, e1, e2, m, r, K, the re-encryption) live in one work
 * structure per call, wiped before return on every path. The re-encryption
 * comparison in decapsulation and the choice between K' and the rejection
 * key are branch-free.
 */
#include <string.h>

#include <veil/pq.h>

#include "mlkem_internal.h"

#define PKE_BYTES (MLKEM_K * MLKEM_POLY_BYTES)      /* 1152 */
#define CT_U_BYTES (MLKEM_K * 32 * MLKEM_DU)         /* 960 */
#define DK_EK_OFF PKE_BYTES                          /* ek inside dk */
#define DK_H_OFF (PKE_BYTES + VEIL_MLKEM768_EK_BYTES) /* H(ek) inside dk */
#define DK_Z_OFF (DK_H_OFF + 32)                     /* z inside dk */

_Static_assert(PKE_BYTES + 32 == VEIL_MLKEM768_EK_BYTES, "ek size");
_Static_assert(DK_Z_OFF + 32 == VEIL_MLKEM768_DK_BYTES, "dk size");
_Static_assert(CT_U_BYTES + 32 * MLKEM_DV == VEIL_MLKEM768_CT_BYTES, "ct size");

/* A_hat[i][j] = SampleNTT(rho || j || i). */
static void gen_matrix(struct mlkem_hash *h, mlkem_poly a[MLKEM_K][MLKEM_K], const uint8_t rho[32])
{
    for (unsigned i = 0; i < MLKEM_K; i++)
        for (unsigned j = 0; j < MLKEM_K; j++)
            mlkem_sample_ntt(h, &a[i][j], rho, (uint8_t)j, (uint8_t)i);
}

/* out = sum_j row[j] * v[j] in the NTT domain (row given by stride). */
static void dot(mlkem_poly *out, const mlkem_poly *const row[MLKEM_K], const mlkem_poly v[MLKEM_K])
{
    memset(out, 0, sizeof *out);
    for (unsigned j = 0; j < MLKEM_K; j++)
        mlkem_basemul_acc(out, row[j], &v[j]);
}

struct keygen_work {
    uint8_t rho[32], sigma[32];
    mlkem_poly a[MLKEM_K][MLKEM_K], s[MLKEM_K], e[MLKEM_K], t[MLKEM_K];
};

/* K-PKE.KeyGen(d): ek_pke and dk_pke. */
static void pke_keygen(struct mlkem_hash *h, struct keygen_work *w,
                       uint8_t ek[VEIL_MLKEM768_EK_BYTES], uint8_t dk_pke[PKE_BYTES],
                       const uint8_t d[32])
{
    const uint8_t k = MLKEM_K;
    mlkem_G(h, w->rho, w->sigma, d, 32, &k, 1);
    gen_matrix(h, w->a, w->rho);
    for (unsigned i = 0; i < MLKEM_K; i++) {
        mlkem_sample_cbd2(h, &w->s[i], w->sigma, (uint8_t)i);
        mlkem_sample_cbd2(h, &w->e[i], w->sigma, (uint8_t)(MLKEM_K + i));
        mlkem_ntt(&w->s[i]);
        mlkem_ntt(&w->e[i]);
    }
    for (unsigned i = 0; i < MLKEM_K; i++) {
        const mlkem_poly *row[MLKEM_K] = {&w->a[i][0], &w->a[i][1], &w->a[i][2]};
        dot(&w->t[i], row, w->s);
        mlkem_poly_add(&w->t[i], &w->e[i]);
        mlkem_encode(ek + i * MLKEM_POLY_BYTES, &w->t[i], 12);
        mlkem_encode(dk_pke + i * MLKEM_POLY_BYTES, &w->s[i], 12);
    }
    memcpy(ek + PKE_BYTES, w->rho, 32);
}

struct encrypt_work {
    mlkem_poly a[MLKEM_K][MLKEM_K], t[MLKEM_K], y[MLKEM_K], u[MLKEM_K], e, v, mu;
};

/* K-PKE.Encrypt(ek, m, r) into c. */
static void pke_encrypt(struct mlkem_hash *h, struct encrypt_work *w,
                        uint8_t c[VEIL_MLKEM768_CT_BYTES], const uint8_t ek[VEIL_MLKEM768_EK_BYTES],
                        const uint8_t m[32], const uint8_t r[32])
{
    for (unsigned i = 0; i < MLKEM_K; i++)
        mlkem_decode(&w->t[i], ek + i * MLKEM_POLY_BYTES, 12);
    gen_matrix(h, w->a, ek + PKE_BYTES);
    for (unsigned i = 0; i < MLKEM_K; i++) {
        mlkem_sample_cbd2(h, &w->y[i], r, (uint8_t)i);
        mlkem_ntt(&w->y[i]);
    }
    for (unsigned i = 0; i < MLKEM_K; i++) {
        const mlkem_poly *col[MLKEM_K] = {&w->a[0][i], &w->a[1][i], &w->a[2][i]};
        dot(&w->u[i], col, w->y);
        mlkem_invntt(&w->u[i]);
        mlkem_sample_cbd2(h, &w->e, r, (uint8_t)(MLKEM_K + i));
        mlkem_poly_add(&w->u[i], &w->e);
        mlkem_compress(&w->u[i], MLKEM_DU);
        mlkem_encode(c + i * 32 * MLKEM_DU, &w->u[i], MLKEM_DU);
    }
    const mlkem_poly *trow[MLKEM_K] = {&w->t[0], &w->t[1], &w->t[2]};
    dot(&w->v, trow, w->y);
    mlkem_invntt(&w->v);
    mlkem_sample_cbd2(h, &w->e, r, (uint8_t)(2 * MLKEM_K));
    mlkem_poly_add(&w->v, &w->e);
    mlkem_decode(&w->mu, m, 1);
    mlkem_decompress(&w->mu, 1);
    mlkem_poly_add(&w->v, &w->mu);
    mlkem_compress(&w->v, MLKEM_DV);
    mlkem_encode(c + CT_U_BYTES, &w->v, MLKEM_DV);
}

struct decrypt_work {
    mlkem_poly u[MLKEM_K], s[MLKEM_K], v, w;
};

/* K-PKE.Decrypt(dk_pke, c) into m. */
static void pke_decrypt(struct decrypt_work *w, uint8_t m[32], const uint8_t dk_pke[PKE_BYTES],
                        const uint8_t c[VEIL_MLKEM768_CT_BYTES])
{
    for (unsigned i = 0; i < MLKEM_K; i++) {
        mlkem_decode(&w->u[i], c + i * 32 * MLKEM_DU, MLKEM_DU);
        mlkem_decompress(&w->u[i], MLKEM_DU);
        mlkem_ntt(&w->u[i]);
        mlkem_decode(&w->s[i], dk_pke + i * MLKEM_POLY_BYTES, 12);
    }
    const mlkem_poly *srow[MLKEM_K] = {&w->s[0], &w->s[1], &w->s[2]};
    dot(&w->w, srow, w->u);
    mlkem_invntt(&w->w);
    mlkem_decode(&w->v, c + CT_U_BYTES, MLKEM_DV);
    mlkem_decompress(&w->v, MLKEM_DV);
    mlkem_poly_sub(&w->v, &w->w);
    mlkem_compress(&w->v, 1);
    mlkem_encode(m, &w->v, 1);
}

static int hash_begin(struct mlkem_hash *h, veil_err *err)
{
    if (mlkem_hash_init(h) != 0)
        return veil_err_set(err, VEIL_E_NOMEM, "ML-KEM: cannot allocate an OpenSSL digest context");
    return 0;
}

/* Frees h; -1 with a message if any hash call failed. */
static int hash_end(struct mlkem_hash *h, veil_err *err)
{
    bool failed = h->failed;
    mlkem_hash_free(h);
    if (failed)
        return veil_err_set(err, VEIL_E_CRYPTO, "ML-KEM: SHA3/SHAKE through OpenSSL failed");
    return 0;
}

int veil_mlkem768_check_ek(const uint8_t ek[VEIL_MLKEM768_EK_BYTES], veil_err *err)
{
    mlkem_poly f;
    uint32_t bad = 0;
    for (unsigned i = 0; i < MLKEM_K; i++)
        bad |= mlkem_decode12_check(&f, ek + i * MLKEM_POLY_BYTES);
    if (bad)
        return veil_err_set(err, VEIL_E_CRYPTO,
                            "ML-KEM-768 encapsulation key fails the modulus check "
                            "(a coefficient is not below q)");
    return 0;
}

int veil_mlkem768_check_dk(const uint8_t dk[VEIL_MLKEM768_DK_BYTES], veil_err *err)
{
    struct mlkem_hash h;
    uint8_t hek[32];
    if (hash_begin(&h, err) != 0)
        return -1;
    mlkem_H(&h, hek, dk + DK_EK_OFF, VEIL_MLKEM768_EK_BYTES, NULL, 0);
    if (hash_end(&h, err) != 0)
        return -1;
    if (!veil_memeq_ct(hek, dk + DK_H_OFF, 32))
        return veil_err_set(err, VEIL_E_CRYPTO,
                            "ML-KEM-768 decapsulation key fails the hash check "
                            "(H(ek) does not match the key's embedded hash)");
    return 0;
}

int veil_mlkem768_keygen_derand(uint8_t ek[VEIL_MLKEM768_EK_BYTES],
                                uint8_t dk[VEIL_MLKEM768_DK_BYTES],
                                const uint8_t seed[VEIL_MLKEM768_SEED_BYTES], veil_err *err)
{
    struct mlkem_hash h;
    struct keygen_work w;
    if (hash_begin(&h, err) != 0)
        return -1;
    pke_keygen(&h, &w, ek, dk, seed);
    memcpy(dk + DK_EK_OFF, ek, VEIL_MLKEM768_EK_BYTES);
    mlkem_H(&h, dk + DK_H_OFF, ek, VEIL_MLKEM768_EK_BYTES, NULL, 0);
    memcpy(dk + DK_Z_OFF, seed + 32, 32);
    veil_memzero(&w, sizeof w);
    if (hash_end(&h, err) != 0) {
        veil_memzero(dk, VEIL_MLKEM768_DK_BYTES);
        return -1;
    }
    return 0;
}

int veil_mlkem768_keygen(uint8_t ek[VEIL_MLKEM768_EK_BYTES], uint8_t dk[VEIL_MLKEM768_DK_BYTES],
                         veil_err *err)
{
    uint8_t seed[VEIL_MLKEM768_SEED_BYTES];
    veil_random_bytes(seed, sizeof seed);
    int rc = veil_mlkem768_keygen_derand(ek, dk, seed, err);
    veil_memzero(seed, sizeof seed);
    return rc;
}

int veil_mlkem768_encaps_derand(uint8_t ct[VEIL_MLKEM768_CT_BYTES],
                                uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                                const uint8_t ek[VEIL_MLKEM768_EK_BYTES],
                                const uint8_t m[VEIL_MLKEM768_MSG_BYTES], veil_err *err)
{
    struct mlkem_hash h;
    struct encrypt_work w;
    uint8_t hek[32], r[32];
    if (veil_mlkem768_check_ek(ek, err) != 0 || hash_begin(&h, err) != 0)
        return -1;
    mlkem_H(&h, hek, ek, VEIL_MLKEM768_EK_BYTES, NULL, 0);
    mlkem_G(&h, ss, r, m, VEIL_MLKEM768_MSG_BYTES, hek, 32);
    pke_encrypt(&h, &w, ct, ek, m, r);
    veil_memzero(&w, sizeof w);
    veil_memzero(r, sizeof r);
    if (hash_end(&h, err) != 0) {
        veil_memzero(ss, VEIL_MLKEM768_SS_BYTES);
        return -1;
    }
    return 0;
}

int veil_mlkem768_encaps(uint8_t ct[VEIL_MLKEM768_CT_BYTES], uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                         const uint8_t ek[VEIL_MLKEM768_EK_BYTES], veil_err *err)
{
    uint8_t m[VEIL_MLKEM768_MSG_BYTES];
    veil_random_bytes(m, sizeof m);
    int rc = veil_mlkem768_encaps_derand(ct, ss, ek, m, err);
    veil_memzero(m, sizeof m);
    return rc;
}

struct decaps_work {
    struct decrypt_work dec;
    struct encrypt_work enc;
    uint8_t m[32], k[32], r[32], kbar[32], c2[VEIL_MLKEM768_CT_BYTES];
};

/* 0xff when a and b are equal, 0 otherwise, without a branch. */
static uint8_t ct_eq_mask(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint32_t)(a[i] ^ b[i]);
    return (uint8_t)((diff - 1) >> 8); /* diff in [0, 255]: 0 -> 0xff.., else 0 */
}

int veil_mlkem768_decaps(uint8_t ss[VEIL_MLKEM768_SS_BYTES],
                         const uint8_t ct[VEIL_MLKEM768_CT_BYTES],
                         const uint8_t dk[VEIL_MLKEM768_DK_BYTES], veil_err *err)
{
    struct mlkem_hash h;
    struct decaps_work w;
    if (veil_mlkem768_check_dk(dk, err) != 0 || hash_begin(&h, err) != 0)
        return -1;
    pke_decrypt(&w.dec, w.m, dk, ct);
    mlkem_G(&h, w.k, w.r, w.m, 32, dk + DK_H_OFF, 32);
    mlkem_J(&h, w.kbar, dk + DK_Z_OFF, 32, ct, VEIL_MLKEM768_CT_BYTES);
    pke_encrypt(&h, &w.enc, w.c2, dk + DK_EK_OFF, w.m, w.r);
    uint8_t keep = ct_eq_mask(ct, w.c2, VEIL_MLKEM768_CT_BYTES);
    for (unsigned i = 0; i < VEIL_MLKEM768_SS_BYTES; i++)
        ss[i] = (uint8_t)((w.k[i] & keep) | (w.kbar[i] & (uint8_t)~keep));
    veil_memzero(&w, sizeof w);
    if (hash_end(&h, err) != 0) {
        veil_memzero(ss, VEIL_MLKEM768_SS_BYTES);
        return -1;
    }
    return 0;
}

int veil_mlkem768_parse(enum veil_mlkem768_blob kind, const uint8_t *in, size_t len, uint8_t *out,
                        size_t out_cap, veil_err *err)
{
    static const struct {
        size_t len;
        const char *name;
    } kinds[] = {
        [VEIL_MLKEM768_BLOB_EK] = {VEIL_MLKEM768_EK_BYTES, "encapsulation key"},
        [VEIL_MLKEM768_BLOB_DK] = {VEIL_MLKEM768_DK_BYTES, "decapsulation key"},
        [VEIL_MLKEM768_BLOB_CT] = {VEIL_MLKEM768_CT_BYTES, "ciphertext"},
    };
    if ((unsigned)kind >= VEIL_ARRAY_LEN(kinds))
        return veil_err_set(err, VEIL_E_INVALID, "ML-KEM-768: unknown blob kind %d", (int)kind);
    if (len != kinds[kind].len)
        return veil_err_set(err, VEIL_E_RANGE, "ML-KEM-768 %s must be %zu bytes, not %zu",
                            kinds[kind].name, kinds[kind].len, len);
    if (out_cap < len)
        return veil_err_set(err, VEIL_E_RANGE, "ML-KEM-768 %s: output buffer too small",
                            kinds[kind].name);
    if (kind == VEIL_MLKEM768_BLOB_EK && veil_mlkem768_check_ek(in, err) != 0)
        return -1;
    if (kind == VEIL_MLKEM768_BLOB_DK && veil_mlkem768_check_dk(in, err) != 0)
        return -1;
    memcpy(out, in, len);
    return 0;
}
