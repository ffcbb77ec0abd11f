// SPDX-License-Identifier: Apache-2.0
/*
 * test_threshold_decrypt.c - dealing, shares, partial decryptions and combine
 * on squashed ciphertexts encrypted in the squash.h format under a random
 * binary secret: shares reconstruct the secret, only the right identity opens
 * a share, every 4-bit block value and FheUint8/16 values round-trip at
 * n = 4, 7, 13, a holder down or a liar is tolerated (n = 4, t = 1) and the
 * liar named, too few or inconsistent partials are refused (never a wrong
 * value), forged / foreign / equivocating partials are rejected, the wire
 * forms round-trip and their parsers refuse bad input, and the flooding mask
 * has the distribution docs/THRESHOLD.md derives.
 */
#include <math.h>

#include "th_test_util.h"
#include "vtest.h"

static void test_shares_reconstruct_secret(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    uint8_t idx[4] = {1, 2, 3, 4};
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j += 97) {
        th_gr ys[4], got;
        for (unsigned i = 0; i < 4; i++)
            ys[i] = f.share[i]->s[j];
        uint32_t agree = 0;
        CHECK(th_robust_open(idx, ys, 4, 1, &got, &agree) == 0);
        CHECK(th_gr_eq(got, th_gr_const(f.secret.s[j])));
    }
    /* each holder holds the C(n-1, t) = 3 PRSS sets containing it */
    for (unsigned i = 0; i < 4; i++) {
        CHECK_EQ_INT(f.share[i]->nsets, 3);
        CHECK_EQ_INT(veil_th_share_index(f.share[i]), i + 1);
        CHECK_EQ_INT(veil_th_sealed_index(f.sealed[i].data, f.sealed[i].len), i + 1);
    }
    th_fixture_free(&f);
}

static void test_share_needs_its_identity(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    veil_th_share *sh = NULL;
    veil_err err = {0};
    CHECK(veil_th_share_open(f.sealed[0].data, f.sealed[0].len, f.sk[1], &sh, &err) != 0);
    CHECK_CONTAINS(err.msg, "sealed to another identity");
    /* a stranger whose public half is forged into the header cannot open it */
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    veil_buf copy;
    veil_buf_init(&copy);
    veil_buf_put(&copy, f.sealed[0].data, f.sealed[0].len);
    memcpy(copy.data + 6, pk, 32);
    CHECK(veil_th_share_open(copy.data, copy.len, sk, &sh, &err) != 0);
    CHECK_CONTAINS(err.msg, "does not open");
    /* truncated and tampered files */
    CHECK(veil_th_share_open(f.sealed[0].data, f.sealed[0].len - 1, f.sk[0], &sh, &err) != 0);
    memcpy(copy.data, f.sealed[0].data, copy.len);
    copy.data[copy.len - 5] ^= 1;
    CHECK(veil_th_share_open(copy.data, copy.len, f.sk[0], &sh, &err) != 0);
    CHECK(sh == NULL);
    veil_buf_free(&copy);
    th_fixture_free(&f);
}

/* Every holder's partial for ct. */
static void partials_all(struct th_fixture *f, const veil_sq_ct *ct, veil_th_partial *parts)
{
    veil_err err = {0};
    for (unsigned i = 0; i < f->n; i++)
        CHECK(veil_th_partial_decrypt(f->share[i], ct, &parts[i], &err) == 0);
}

static void roundtrip_values(unsigned n, unsigned t, unsigned rounds)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, n, t) == 0);
    veil_th_partial parts[VEIL_TH_MAX_HOLDERS];
    veil_err err = {0};
    /* every 4-bit block value (message and carry) in 16-bit integers */
    for (unsigned base = 0; base < 16; base += 8) {
        unsigned blocks[8];
        for (unsigned b = 0; b < 8; b++)
            blocks[b] = base + b;
        veil_sq_ct ct;
        CHECK(th_test_encrypt(&f.secret, 16, 0, blocks, &ct) == 0);
        partials_all(&f, &ct, parts);
        veil_th_result res;
        CHECK(veil_th_combine(&f.pub, &ct, parts, n, &res, &err) == 0);
        for (unsigned b = 0; b < 8; b++)
            CHECK_EQ_INT(res.block_values[b], base + b);
        CHECK_EQ_U64(res.wrong, 0);
        th_test_ct_free(&ct);
    }
    static const uint32_t widths[] = {1, 8, 16};
    for (unsigned r = 0; r < rounds; r++) {
        uint32_t w = widths[r % 3];
        uint64_t v = veil_random_u64() & ((UINT64_C(1) << w) - 1);
        veil_sq_ct ct;
        CHECK(th_test_encrypt(&f.secret, w, v, NULL, &ct) == 0);
        partials_all(&f, &ct, parts);
        veil_th_result res;
        CHECK(veil_th_combine(&f.pub, &ct, parts, n, &res, &err) == 0);
        CHECK_EQ_U64(res.value, v);
        CHECK_EQ_U64(res.answered, (1u << n) - 1);
        th_test_ct_free(&ct);
    }
    th_fixture_free(&f);
}

static void test_roundtrip_n4(void)
{
    roundtrip_values(4, 1, 12);
}

static void test_roundtrip_n7_n13(void)
{
    roundtrip_values(7, 2, 3);
    roundtrip_values(13, 4, 3);
}

/* The packed encoding (two blocks per squashed block): values recomposed 4
 * bits at a time, and the encoding bound by the digest the partials sign. */
static void test_packed_encoding(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    veil_th_partial parts[4];
    veil_err err = {0};
    static const uint32_t widths[] = {8, 16, 1};
    for (unsigned r = 0; r < 6; r++) {
        const uint32_t w = widths[r % 3];
        const uint64_t v = r == 0 ? 0xa7 : veil_random_u64() & ((UINT64_C(1) << w) - 1);
        veil_sq_ct ct;
        CHECK(th_test_encrypt_packed(&f.secret, w, v, &ct) == 0);
        CHECK_EQ_INT(ct.nblocks, w == 1 ? 1 : w / 4);
        partials_all(&f, &ct, parts);
        veil_th_result res;
        CHECK(veil_th_combine(&f.pub, &ct, parts, 4, &res, &err) == 0);
        CHECK_EQ_U64(res.value, v);
        if (r == 0) {
            CHECK_EQ_INT(res.block_values[0], 7);
            CHECK_EQ_INT(res.block_values[1], 10);
        }
        th_test_ct_free(&ct);
    }
    /* One FheBool block: the same words under the other encoding is another
     * ciphertext (digest), so partials made for one do not open the other. */
    veil_sq_ct ct;
    CHECK(th_test_encrypt_packed(&f.secret, 1, 1, &ct) == 0);
    uint8_t d_packed[VEIL_TH_DIGEST_SIZE], d_blocks[VEIL_TH_DIGEST_SIZE];
    CHECK(veil_th_ct_digest(&ct, d_packed, &err) == 0);
    partials_all(&f, &ct, parts);
    ct.encoding = VEIL_SQ_ENC_BLOCKS;
    CHECK(veil_th_ct_digest(&ct, d_blocks, &err) == 0);
    CHECK(memcmp(d_packed, d_blocks, sizeof d_packed) != 0);
    veil_th_result res;
    CHECK(veil_th_combine(&f.pub, &ct, parts, 4, &res, &err) != 0);
    CHECK_EQ_U64(res.rejected, 15);
    th_test_ct_free(&ct);
    th_fixture_free(&f);
}

/* Holder `liar` computes with a wrong key share (and signs it: a real liar). */
static void make_liar(struct th_fixture *f, unsigned liar)
{
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j += 13)
        f->share[liar - 1]->s[j].c[j % 4] += (veil_u128)1 << (j % 128);
}

static void test_n4_down_and_liar(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    veil_err err = {0};
    veil_th_partial parts[4];
    veil_th_result res;
    veil_sq_ct ct;
    CHECK(th_test_encrypt(&f.secret, 8, 0xa7, NULL, &ct) == 0);
    partials_all(&f, &ct, parts);
    /* holder 2 down: 1, 3, 4 decide */
    veil_th_partial three[3] = {parts[0], parts[2], parts[3]};
    CHECK(veil_th_combine(&f.pub, &ct, three, 3, &res, &err) == 0);
    CHECK_EQ_U64(res.value, 0xa7);
    /* two answers: too few */
    CHECK(veil_th_combine(&f.pub, &ct, parts, 2, &res, &err) != 0);
    CHECK_CONTAINS(err.msg, "too few partials");
    CHECK_CONTAINS(err.msg, "answered: 1,2");
    /* holder 3 lies: corrected and named */
    make_liar(&f, 3);
    CHECK(veil_th_partial_decrypt(f.share[2], &ct, &parts[2], &err) == 0);
    CHECK(veil_th_combine(&f.pub, &ct, parts, 4, &res, &err) == 0);
    CHECK_EQ_U64(res.value, 0xa7);
    CHECK_EQ_U64(res.wrong, 1u << 2);
    /* the liar and two honest holders: refused, never a wrong value */
    veil_th_partial with_liar[3] = {parts[0], parts[1], parts[2]};
    CHECK(veil_th_combine(&f.pub, &ct, with_liar, 3, &res, &err) != 0);
    CHECK_CONTAINS(err.msg, "too few consistent partials");
    CHECK_CONTAINS(err.msg, "answered: 1,2,3");
    th_test_ct_free(&ct);
    th_fixture_free(&f);
}

static void test_n7_two_liars(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 7, 2) == 0);
    make_liar(&f, 2);
    make_liar(&f, 6);
    veil_err err = {0};
    veil_th_partial parts[7];
    veil_th_result res;
    veil_sq_ct ct;
    CHECK(th_test_encrypt(&f.secret, 16, 0xbeef, NULL, &ct) == 0);
    partials_all(&f, &ct, parts);
    CHECK(veil_th_combine(&f.pub, &ct, parts, 7, &res, &err) == 0);
    CHECK_EQ_U64(res.value, 0xbeef);
    CHECK_EQ_U64(res.wrong, (1u << 1) | (1u << 5));
    th_test_ct_free(&ct);
    th_fixture_free(&f);
}

static void test_rejected_partials(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    veil_err err = {0};
    veil_th_partial parts[6];
    veil_th_result res;
    veil_sq_ct ct, other;
    CHECK(th_test_encrypt(&f.secret, 8, 42, NULL, &ct) == 0);
    CHECK(th_test_encrypt(&f.secret, 8, 43, NULL, &other) == 0);
    partials_all(&f, &ct, parts);
    /* holder 1: forged value (signature breaks); holder 2: another ciphertext */
    parts[0].y[0].c[0] += 1;
    CHECK(veil_th_partial_decrypt(f.share[1], &other, &parts[1], &err) == 0);
    CHECK(veil_th_combine(&f.pub, &ct, parts, 4, &res, &err) != 0);
    CHECK_EQ_U64(res.rejected, 3);
    CHECK_CONTAINS(err.msg, "rejected: 1,2");
    CHECK(veil_th_partial_verify(&f.pub, parts[2].digest, 8, 4, &parts[0], &err) != 0);
    CHECK_CONTAINS(err.msg, "bad signature");
    /* an equivocating holder (two different signed partials) is dropped */
    partials_all(&f, &ct, parts);
    CHECK(veil_th_partial_decrypt(f.share[3], &other, &parts[4], &err) == 0);
    memcpy(parts[4].digest, parts[3].digest, 32); /* same ciphertext claimed, resigned below */
    make_liar(&f, 4);
    CHECK(veil_th_partial_decrypt(f.share[3], &ct, &parts[4], &err) == 0);
    parts[5] = parts[0]; /* an identical duplicate is harmless */
    CHECK(veil_th_combine(&f.pub, &ct, parts, 6, &res, &err) == 0);
    CHECK_EQ_U64(res.value, 42);
    CHECK_EQ_U64(res.rejected, 1u << 3);
    CHECK_EQ_U64(res.answered, 7);
    /* a partial from another dealing */
    struct th_fixture g;
    CHECK(th_fixture_init(&g, 4, 1) == 0);
    CHECK(veil_th_partial_verify(&g.pub, parts[0].digest, 8, 4, &parts[0], &err) != 0);
    CHECK_CONTAINS(err.msg, "another dealing");
    th_fixture_free(&g);
    th_test_ct_free(&ct);
    th_test_ct_free(&other);
    th_fixture_free(&f);
}

static void test_wire_forms(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    veil_err err = {0};
    veil_sq_ct ct;
    CHECK(th_test_encrypt(&f.secret, 16, 1234, NULL, &ct) == 0);
    veil_th_partial p, q;
    CHECK(veil_th_partial_decrypt(f.share[0], &ct, &p, &err) == 0);
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_th_partial_serialize(&p, &b, &err) == 0);
    CHECK_EQ_INT(b.len, 4 + 1 + 32 + 1 + 32 + 2 + 8 * 64 + 64);
    CHECK(veil_th_partial_parse(b.data, b.len, &q, &err) == 0);
    CHECK_EQ_MEM(&p, &q, sizeof p);
    CHECK(veil_th_partial_parse(b.data, b.len - 1, &q, &err) != 0);
    CHECK_CONTAINS(err.msg, "truncated");
    veil_buf_put_u8(&b, 0);
    CHECK(veil_th_partial_parse(b.data, b.len, &q, &err) != 0);
    CHECK_CONTAINS(err.msg, "trailing");
    b.data[4 + 1 + 32 + 1 + 32] = 9; /* width 9 */
    CHECK(veil_th_partial_parse(b.data, b.len - 1, &q, &err) != 0);
    veil_buf_reset(&b);
    CHECK(veil_th_public_serialize(&f.pub, &b, &err) == 0);
    veil_th_public pub;
    CHECK(veil_th_public_parse(b.data, b.len, &pub, &err) == 0);
    CHECK_EQ_MEM(pub.id, f.pub.id, 32);
    b.data[5] = 16; /* n = 16 */
    CHECK(veil_th_public_parse(b.data, b.len, &pub, &err) != 0);
    CHECK_CONTAINS(err.msg, "at most 15");
    veil_buf_free(&b);
    CHECK(veil_th_check_params(4, 2, &err) != 0);
    CHECK(veil_th_check_params(15, 6, &err) != 0);
    CHECK_CONTAINS(err.msg, "PRSS sets");
    CHECK(veil_th_check_params(15, 4, &err) == 0);
    th_test_ct_free(&ct);
    th_fixture_free(&f);
}

/* The opened phase minus v 2^123 + e is sum_A r_A, bounded by C(n, t) 2^110,
 * centred, with the variance of a sum of C(n, t) uniforms; and the revealed
 * values for opposite extreme squashed noises (+-(2^70 - 1)) have the same
 * distribution in the bits where the noises differ. */
static void test_flooding_statistics(void)
{
    struct th_fixture f;
    CHECK(th_fixture_init(&f, 4, 1) == 0);
    const unsigned samples = 300, sets = th_binom(4, 1);
    const veil_u128 e_max = ((veil_u128)1 << VEIL_SQ_LOG_NOISE_BOUND) - 1;
    double sum = 0, sum2 = 0, bound = ldexp((double)sets, VEIL_TH_LOG_MASK);
    unsigned hist[2][8] = {{0}};
    uint8_t idx[4] = {1, 2, 3, 4};
    veil_err err = {0};
    for (unsigned k = 0; k < samples; k++) {
        for (unsigned side = 0; side < 2; side++) {
            veil_u128 e = side ? e_max : (veil_u128)0 - e_max;
            veil_sq_block blk;
            th_test_encrypt_block(&f.secret, 5, e, &blk);
            veil_sq_ct ct = {.width = 1, .nblocks = 1, .blocks = &blk};
            veil_th_partial parts[4];
            partials_all(&f, &ct, parts);
            th_gr ys[4], opened;
            for (unsigned i = 0; i < 4; i++)
                ys[i] = parts[i].y[0];
            uint32_t agree = 0;
            CHECK(th_robust_open(idx, ys, 4, 1, &opened, &agree) == 0);
            veil_u128 revealed = opened.c[0] - ((veil_u128)5 << VEIL_SQ_LOG_DELTA);
            double x = (double)(__int128)(revealed - e);
            CHECK(fabs(x) < bound);
            CHECK(fabs((double)(__int128)revealed) < ldexp(1, VEIL_SQ_LOG_DELTA - 1));
            sum += x;
            sum2 += x * x;
            /* bits 69..71 of the revealed noise: without flooding they are
             * those of +-e_max (buckets 1 and 6), with it uniform on both sides */
            hist[side][(unsigned)(revealed >> 69) & 7u]++;
            veil_th_result res;
            CHECK(veil_th_combine(&f.pub, &ct, parts, 4, &res, &err) == 0);
            CHECK_EQ_INT(res.block_values[0], 5);
        }
    }
    double n = 2.0 * samples, mean = sum / n, var = sum2 / n - mean * mean;
    double unit = ldexp(1, VEIL_TH_LOG_MASK), expect_var = sets * unit * unit / 3.0;
    CHECK(fabs(mean) < 4 * sqrt(expect_var / n));
    CHECK(var > 0.8 * expect_var && var < 1.2 * expect_var);
    /* two-sample chi-square over 8 buckets (7 degrees of freedom, p ~ 1e-6 at 35) */
    double chi = 0;
    for (unsigned b = 0; b < 8; b++) {
        double a = hist[0][b], c = hist[1][b];
        if (a + c > 0)
            chi += (a - c) * (a - c) / (a + c);
    }
    CHECK(chi < 35);
    th_fixture_free(&f);
}

VTEST_MAIN(VTEST(test_shares_reconstruct_secret), VTEST(test_share_needs_its_identity),
           VTEST(test_roundtrip_n4), VTEST(test_roundtrip_n7_n13), VTEST(test_packed_encoding),
           VTEST(test_n4_down_and_liar), VTEST(test_n7_two_liars), VTEST(test_rejected_partials),
           VTEST(test_wire_forms), VTEST(test_flooding_statistics))
