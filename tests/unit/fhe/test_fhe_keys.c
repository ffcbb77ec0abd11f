// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_keys.c - fast tests of keys.c, the linear shortint operations and
 * serialize.c: client-key determinism, shortint encryption and linear ops,
 * compact public-key encryption round trips (exact decryption, noise well
 * under Delta/2), save/load round trips and every loader's rejection of
 * truncated, oversized, wrong-kind, wrong-parameter and corrupted input.
 * (The server key takes too long for a sanitizer run: see test_fhe_pbs.)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keys.h"
#include "serialize.h"
#include "shortint.h"
#include "vtest.h"

static const struct veil_fhe_params *P;
static struct veil_shortint_client_key *ck;

static void setup(void)
{
    if (ck)
        return;
    P = veil_fhe_params_default();
    uint8_t seed[32] = {42};
    CHECK(veil_fhe_client_key_generate(&ck, P, seed, NULL) == 0);
}

static void test_client_key_determinism(void)
{
    setup();
    uint8_t seed[32] = {42};
    struct veil_shortint_client_key *again = NULL, *other = NULL;
    CHECK(veil_fhe_client_key_generate(&again, P, seed, NULL) == 0);
    CHECK(veil_fhe_client_key_generate(&other, P, NULL, NULL) == 0);
    CHECK_EQ_MEM(again->small_key, ck->small_key, P->lwe_dim * 8);
    CHECK_EQ_MEM(again->big_key, ck->big_key, veil_fhe_big_lwe_dim(P) * 8);
    CHECK(memcmp(other->big_key, ck->big_key, veil_fhe_big_lwe_dim(P) * 8) != 0);
    veil_fhe_client_key_free(again);
    veil_fhe_client_key_free(other);
}

static void test_shortint_linear(void)
{
    setup();
    struct veil_shortint_ct a, b, c;
    CHECK(veil_shortint_ct_init(&a, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&b, P, NULL) == 0);
    CHECK(veil_shortint_ct_init(&c, P, NULL) == 0);
    for (uint64_t x = 0; x < 4; x++)
        for (uint64_t y = 0; y < 4; y++) {
            CHECK(veil_shortint_encrypt(ck, x, &a, NULL) == 0);
            CHECK(veil_shortint_encrypt(ck, y, &b, NULL) == 0);
            CHECK_EQ_U64(a.degree, 3);
            veil_shortint_ct_copy(&c, &a, P);
            veil_shortint_add_assign(P, &c, &b);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), x + y);
            CHECK_EQ_U64(c.degree, 6);
            CHECK_EQ_INT(c.noise_level, 2);
            veil_shortint_ct_copy(&c, &a, P);
            veil_shortint_sub_assign(P, &c, &b);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), x - y + 4);
            CHECK_EQ_U64(c.degree, 7);
            veil_shortint_ct_copy(&c, &a, P);
            veil_shortint_scalar_mul_assign(P, &c, 3);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), 3 * x);
            veil_shortint_scalar_add_assign(P, &c, 2);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), 3 * x + 2);
            veil_shortint_ct_copy(&c, &b, P);
            veil_shortint_neg_assign(P, &c);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), 4 - y);
            CHECK_EQ_U64(c.degree, 4);
            veil_shortint_pack_pair(P, &c, &a, &b);
            CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), 4 * x + y);
            CHECK_EQ_U64(c.degree, 15);
        }
    veil_shortint_trivial(P, 9, &c);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &c), 9);
    CHECK_EQ_INT(c.noise_level, 0);
    veil_shortint_ct_free(&a);
    veil_shortint_ct_free(&b);
    veil_shortint_ct_free(&c);
}

static uint64_t f_plus3(uint64_t x, void *arg)
{
    (void)arg;
    return x + 3;
}

static void test_lut_layout(void)
{
    /* The accumulator's coefficient p holds f(box containing p + half box). */
    struct veil_shortint_lut lut;
    CHECK(veil_shortint_lut_init(&lut, P, f_plus3, NULL, NULL) == 0);
    CHECK_EQ_U64(lut.degree, 15);
    const uint64_t *body = lut.acc + P->glwe_dim * P->poly_size;
    const uint64_t delta = veil_fhe_delta(P);
    CHECK_EQ_U64(body[0], 3 * delta);
    CHECK_EQ_U64(body[63], 3 * delta);
    CHECK_EQ_U64(body[64], 4 * delta);
    CHECK_EQ_U64(body[2047 - 64], ((15 + 3) % 16) * delta);
    CHECK_EQ_U64(body[2047], (uint64_t)0 - 3 * delta); /* wrapped: -f(0) */
    for (size_t i = 0; i < P->poly_size; i++)
        CHECK_EQ_U64(lut.acc[i], 0);
    veil_shortint_lut_free(&lut);
}

static void test_public_key_round_trip(void)
{
    setup();
    struct veil_fhe_public_key *pk = NULL;
    CHECK(veil_fhe_public_key_generate(&pk, ck, NULL, NULL) == 0);
    const size_t m = veil_fhe_big_lwe_dim(P);
    uint64_t *values = malloc(m * sizeof *values);
    for (size_t i = 0; i < m; i++)
        values[i] = (i * 7 + 1) % 4;
    const size_t counts[] = {1, 3, 100, m};
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    double worst = 0;
    for (size_t c = 0; c < 4; c++) {
        for (int rep = 0; rep < 2; rep++) {
            struct veil_fhe_compact_list *list = NULL;
            CHECK(veil_fhe_compact_list_encrypt(&list, pk, values, counts[c], NULL) == 0);
            int ok = 1;
            for (size_t i = 0; i < counts[c]; i++) {
                CHECK(veil_fhe_compact_list_expand(list, i, &ct, NULL) == 0);
                ok &= veil_shortint_decrypt(ck, &ct) == values[i];
                double e = fabs((double)veil_fhe_noise_of(ck, &ct, values[i]));
                if (e > worst)
                    worst = e;
            }
            CHECK(ok);
            CHECK_EQ_U64(ct.degree, 3);
            veil_err err = {0};
            CHECK(veil_fhe_compact_list_expand(list, counts[c], &ct, &err) < 0);
            veil_fhe_compact_list_free(list);
        }
    }
    fprintf(stderr, "compact list worst noise 2^%.1f (Delta/2 = 2^58)\n", log2(worst));
    CHECK(worst < ldexp(1.0, 30));
    /* Sums of expanded blocks still decrypt (the server's linear ops). */
    struct veil_fhe_compact_list *list = NULL;
    uint64_t two[2] = {3, 2};
    CHECK(veil_fhe_compact_list_encrypt(&list, pk, two, 2, NULL) == 0);
    struct veil_shortint_ct other;
    CHECK(veil_shortint_ct_init(&other, P, NULL) == 0);
    CHECK(veil_fhe_compact_list_expand(list, 0, &ct, NULL) == 0);
    CHECK(veil_fhe_compact_list_expand(list, 1, &other, NULL) == 0);
    veil_shortint_add_assign(P, &ct, &other);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &ct), 5);
    veil_fhe_compact_list_free(list);
    veil_shortint_ct_free(&other);
    /* Out-of-range values and counts fail. */
    veil_err err = {0};
    uint64_t bad = 4;
    CHECK(veil_fhe_compact_list_encrypt(&list, pk, &bad, 1, &err) < 0);
    CHECK(veil_fhe_compact_list_encrypt(&list, pk, values, m + 1, &err) < 0);
    CHECK(veil_fhe_compact_list_encrypt(&list, pk, values, 0, &err) < 0);
    free(values);
    veil_shortint_ct_free(&ct);
    veil_fhe_public_key_free(pk);
}

/* Recomputes the trailing digest after a deliberate edit, so the loader's
 * structural checks (not the digest) must catch it. */
static void reseal(uint8_t *data, size_t len)
{
    crypto_generichash(data + len - 32, 32, data, len - 32, NULL, 0);
}

typedef int (*loader_fn)(const uint8_t *data, size_t len, veil_err *err);

static int load_ck(const uint8_t *d, size_t n, veil_err *err)
{
    struct veil_shortint_client_key *k = NULL;
    int rc = veil_fhe_client_key_load(d, n, NULL, &k, err);
    veil_fhe_client_key_free(k);
    return rc;
}
static int load_pk(const uint8_t *d, size_t n, veil_err *err)
{
    struct veil_fhe_public_key *k = NULL;
    int rc = veil_fhe_public_key_load(d, n, NULL, &k, err);
    veil_fhe_public_key_free(k);
    return rc;
}
static int load_list(const uint8_t *d, size_t n, veil_err *err)
{
    struct veil_fhe_compact_list *l = NULL;
    int rc = veil_fhe_compact_list_load(d, n, NULL, &l, err);
    veil_fhe_compact_list_free(l);
    return rc;
}
static int load_block(const uint8_t *d, size_t n, veil_err *err)
{
    struct veil_shortint_ct ct;
    int rc = veil_fhe_shortint_load(d, n, NULL, &ct, NULL, err);
    if (rc == 0)
        veil_shortint_ct_free(&ct);
    return rc;
}
static int load_sk(const uint8_t *d, size_t n, veil_err *err)
{
    struct veil_shortint_server_key *k = NULL;
    int rc = veil_fhe_server_key_load(d, n, NULL, NULL, &k, err);
    veil_fhe_server_key_free(k);
    return rc;
}

/* Every way of breaking a valid container must fail with the right message. */
static void check_rejections(const veil_buf *good, loader_fn load, uint16_t kind)
{
    veil_err err = {0};
    const size_t len = good->len;
    uint8_t *d = malloc(len + 16);
    CHECK(load(good->data, len, &err) == 0);
    /* truncated: header only, mid-payload, missing a digest byte */
    memcpy(d, good->data, len);
    CHECK(load(d, 10, &err) < 0);
    CHECK_CONTAINS(err.msg, "truncated");
    CHECK(load(d, len / 2, &err) < 0);
    CHECK_CONTAINS(err.msg, "truncated");
    CHECK(load(d, len - 1, &err) < 0);
    CHECK_CONTAINS(err.msg, "truncated");
    /* oversized: trailing bytes */
    memset(d + len, 0, 16);
    CHECK(load(d, len + 16, &err) < 0);
    CHECK_CONTAINS(err.msg, "trailing");
    /* corrupted payload byte and corrupted digest */
    d[VEIL_FHE_HEADER_LEN + 5] ^= 0x40;
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "corrupted");
    memcpy(d, good->data, len);
    d[len - 1] ^= 1;
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "corrupted");
    /* bad magic, version */
    memcpy(d, good->data, len);
    d[0] = 'X';
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "magic");
    memcpy(d, good->data, len);
    d[8] = 9;
    reseal(d, len);
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "version");
    /* wrong kind */
    memcpy(d, good->data, len);
    d[10] = (uint8_t)(kind == VEIL_FHE_KIND_SHORTINT ? VEIL_FHE_KIND_CLIENT_KEY
                                                     : VEIL_FHE_KIND_SHORTINT);
    reseal(d, len);
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "expected a");
    /* unknown parameter set */
    memcpy(d, good->data, len);
    d[12] = 0x77;
    reseal(d, len);
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "parameter set");
    /* payload length field lies (bigger / smaller than what follows) */
    memcpy(d, good->data, len);
    d[16] += 8;
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "truncated");
    memcpy(d, good->data, len);
    d[16] -= 8;
    CHECK(load(d, len, &err) < 0);
    CHECK_CONTAINS(err.msg, "trailing");
    /* payload one word short or long, with a valid digest and length */
    {
        veil_buf b;
        veil_buf_init(&b);
        size_t start = veil_fhe_container_begin(&b, kind, P->id);
        veil_buf_put(&b, good->data + VEIL_FHE_HEADER_LEN, len - VEIL_FHE_HEADER_LEN - 32 - 8);
        CHECK(veil_fhe_container_end(&b, start, &err) == 0);
        CHECK(load(b.data, b.len, &err) < 0);
        veil_buf_reset(&b);
        start = veil_fhe_container_begin(&b, kind, P->id);
        veil_buf_put(&b, good->data + VEIL_FHE_HEADER_LEN, len - VEIL_FHE_HEADER_LEN - 32);
        veil_buf_put_u64le(&b, 0);
        CHECK(veil_fhe_container_end(&b, start, &err) == 0);
        CHECK(load(b.data, b.len, &err) < 0);
        veil_buf_free(&b);
    }
    CHECK(load(NULL, 0, &err) < 0);
    free(d);
}

static void test_serialize_round_trips(void)
{
    setup();
    veil_err err = {0};
    veil_buf b;
    veil_buf_init(&b);

    /* client key */
    CHECK(veil_fhe_client_key_save(ck, &b, &err) == 0);
    struct veil_shortint_client_key *ck2 = NULL;
    CHECK(veil_fhe_client_key_load(b.data, b.len, P, &ck2, &err) == 0);
    CHECK_EQ_MEM(ck2->small_key, ck->small_key, P->lwe_dim * 8);
    CHECK_EQ_MEM(ck2->big_key, ck->big_key, veil_fhe_big_lwe_dim(P) * 8);
    veil_fhe_client_key_free(ck2);
    check_rejections(&b, load_ck, VEIL_FHE_KIND_CLIENT_KEY);
    /* a key coefficient that is not a bit */
    b.data[VEIL_FHE_HEADER_LEN + 3] = 2;
    reseal(b.data, b.len);
    CHECK(load_ck(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "not 0 or 1");
    veil_buf_reset(&b);

    /* public key + compact list */
    struct veil_fhe_public_key *pk = NULL, *pk2 = NULL;
    uint8_t seed[32] = {5};
    CHECK(veil_fhe_public_key_generate(&pk, ck, seed, &err) == 0);
    CHECK(veil_fhe_public_key_save(pk, &b, &err) == 0);
    CHECK_EQ_U64(b.len, VEIL_FHE_HEADER_LEN + 32 + 2048 * 8 + 32);
    CHECK(veil_fhe_public_key_load(b.data, b.len, P, &pk2, &err) == 0);
    CHECK_EQ_MEM(pk2->a, pk->a, 2048 * 8);
    CHECK_EQ_MEM(pk2->b, pk->b, 2048 * 8);
    check_rejections(&b, load_pk, VEIL_FHE_KIND_PUBLIC_KEY);
    veil_buf_reset(&b);

    uint64_t vals[5] = {0, 1, 2, 3, 1};
    struct veil_fhe_compact_list *list = NULL, *list2 = NULL;
    CHECK(veil_fhe_compact_list_encrypt(&list, pk2, vals, 5, &err) == 0);
    CHECK(veil_fhe_compact_list_save(list, &b, &err) == 0);
    CHECK_EQ_U64(b.len, VEIL_FHE_HEADER_LEN + 4 + (2048 + 5) * 8 + 32);
    CHECK(veil_fhe_compact_list_load(b.data, b.len, P, &list2, &err) == 0);
    struct veil_shortint_ct ct;
    CHECK(veil_shortint_ct_init(&ct, P, NULL) == 0);
    for (size_t i = 0; i < 5; i++) {
        CHECK(veil_fhe_compact_list_expand(list2, i, &ct, &err) == 0);
        CHECK_EQ_U64(veil_shortint_decrypt(ck, &ct), vals[i]);
    }
    check_rejections(&b, load_list, VEIL_FHE_KIND_COMPACT_LIST);
    /* count 0 and count above N */
    b.data[VEIL_FHE_HEADER_LEN] = 0;
    reseal(b.data, b.len);
    CHECK(load_list(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "count");
    b.data[VEIL_FHE_HEADER_LEN + 2] = 1;
    reseal(b.data, b.len);
    CHECK(load_list(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "count");
    veil_buf_reset(&b);
    veil_fhe_compact_list_free(list);
    veil_fhe_compact_list_free(list2);
    veil_fhe_public_key_free(pk);
    veil_fhe_public_key_free(pk2);

    /* one block */
    CHECK(veil_shortint_encrypt(ck, 11, &ct, &err) == 0);
    CHECK(veil_fhe_shortint_save(P, &ct, &b, &err) == 0);
    struct veil_shortint_ct back;
    const struct veil_fhe_params *bp = NULL;
    CHECK(veil_fhe_shortint_load(b.data, b.len, P, &back, &bp, &err) == 0);
    CHECK(bp == P);
    CHECK_EQ_MEM(back.data, ct.data, (veil_fhe_big_lwe_dim(P) + 1) * 8);
    CHECK_EQ_U64(back.degree, ct.degree);
    CHECK_EQ_U64(veil_shortint_decrypt(ck, &back), 11);
    veil_shortint_ct_free(&back);
    check_rejections(&b, load_block, VEIL_FHE_KIND_SHORTINT);
    b.data[VEIL_FHE_HEADER_LEN] = 16; /* degree out of range */
    reseal(b.data, b.len);
    CHECK(load_block(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "degree");
    b.data[VEIL_FHE_HEADER_LEN] = 3;
    b.data[VEIL_FHE_HEADER_LEN + 8] = 6; /* noise level above 5 */
    reseal(b.data, b.len);
    CHECK(load_block(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "noise level");
    uint16_t kind = 0;
    uint32_t id = 0;
    CHECK(veil_fhe_container_peek(b.data, b.len, &kind, &id, &err) == 0);
    CHECK_EQ_INT(kind, VEIL_FHE_KIND_SHORTINT);
    CHECK_EQ_INT(id, P->id);
    veil_buf_reset(&b);

    /* a server-key container that is structurally wrong never reaches key
     * expansion (the full key is tested in test_fhe_pbs) */
    size_t start = veil_fhe_container_begin(&b, VEIL_FHE_KIND_SERVER_KEY, P->id);
    veil_buf_put(&b, "short", 5);
    CHECK(veil_fhe_container_end(&b, start, &err) == 0);
    CHECK(load_sk(b.data, b.len, &err) < 0);
    CHECK_CONTAINS(err.msg, "payload is 5 bytes");

    veil_shortint_ct_free(&ct);
    veil_buf_free(&b);
}

VTEST_MAIN(VTEST(test_client_key_determinism), VTEST(test_shortint_linear), VTEST(test_lut_layout),
           VTEST(test_public_key_round_trip), VTEST(test_serialize_round_trips))
