// SPDX-License-Identifier: Apache-2.0
/*
 * test_fhe_integer_loader.c - the radix ciphertext format (fast: no bootstrapping):
 * round trips for every width through the public API, digests, and rejection of
 * truncated, oversized, corrupted, wrong-kind, wrong-parameter and semantically
 * invalid (bad width, block count, degree) ciphertexts with specific errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>

#include "integer.h"
#include "keys.h"
#include "params.h"
#include "serialize.h"
#include "vtest.h"

static veil_fhe_client *ck;

static void setup(void)
{
    veil_err err = {0};
    if (!ck && veil_fhe_keygen(&ck, NULL, NULL, 1, &err) != 0) {
        fprintf(stderr, "keygen: %s\n", err.msg);
        exit(1);
    }
}

static void test_round_trip_all_widths(void)
{
    setup();
    static const unsigned widths[] = {1, 8, 16, 32, 64};
    static const uint64_t values[] = {1, 0xa5, 0xbeef, 0xdeadbeef, 0xfedcba9876543210ull};
    for (size_t i = 0; i < 5; i++) {
        veil_err err = {0};
        veil_fhe_ct *ct = NULL, *back = NULL;
        CHECK(veil_fhe_encrypt(ck, widths[i], values[i], &ct, &err) == 0);
        CHECK_EQ_INT(veil_fhe_ct_width(ct), widths[i]);
        veil_buf b;
        veil_buf_init(&b);
        CHECK(veil_fhe_ct_serialize(ct, &b, &err) == 0);
        CHECK(veil_fhe_ct_deserialize(b.data, b.len, &back, &err) == 0);
        uint64_t v = 0;
        CHECK(back && veil_fhe_decrypt(ck, back, &v, &err) == 0);
        CHECK_EQ_U64(v, values[i]);
        /* the digest is the BLAKE2b-256 of the serialization: equal for the copy */
        uint8_t d1[32], d2[32];
        CHECK(veil_fhe_ct_digest(ct, d1, &err) == 0);
        CHECK(back && veil_fhe_ct_digest(back, d2, &err) == 0);
        CHECK_EQ_MEM(d1, d2, 32);
        veil_buf_free(&b);
        veil_fhe_ct_free(ct);
        veil_fhe_ct_free(back);
    }
}

static void test_encrypt_rejects_bad_input(void)
{
    setup();
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    CHECK(veil_fhe_encrypt(ck, 8, 256, &ct, &err) != 0);
    CHECK_CONTAINS(err.msg, "does not fit");
    CHECK(veil_fhe_encrypt(ck, 1, 2, &ct, &err) != 0);
    CHECK(veil_fhe_encrypt(ck, 12, 1, &ct, &err) != 0);
    CHECK_CONTAINS(err.msg, "width");
    CHECK(ct == NULL);
}

/* A serialized FheUint8 to corrupt. */
static void make_u8(veil_buf *b, uint64_t v)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    veil_buf_init(b);
    if (veil_fhe_encrypt(ck, 8, v, &ct, &err) != 0 || veil_fhe_ct_serialize(ct, b, &err) != 0)
        fprintf(stderr, "make_u8: %s\n", err.msg);
    veil_fhe_ct_free(ct);
}

static int load_fails(const uint8_t *data, size_t len, const char *needle)
{
    veil_err err = {0};
    veil_fhe_ct *ct = NULL;
    int rc = veil_fhe_ct_deserialize(data, len, &ct, &err);
    veil_fhe_ct_free(ct);
    if (rc == 0)
        return 0;
    if (needle && !strstr(err.msg, needle)) {
        fprintf(stderr, "error '%s' lacks '%s'\n", err.msg, needle);
        return 0;
    }
    return 1;
}

static void test_truncated_and_oversized(void)
{
    setup();
    veil_buf b;
    make_u8(&b, 77);
    static const size_t cuts[] = {0, 1, 7, 8, 23, 24, 25, 40, 1000};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(cuts); i++)
        CHECK(load_fails(b.data, cuts[i], NULL));
    CHECK(load_fails(b.data, b.len - 1, "truncated"));
    CHECK(load_fails(b.data, b.len / 2, "truncated"));
    uint8_t *big = malloc(b.len + 1);
    memcpy(big, b.data, b.len);
    big[b.len] = 0;
    CHECK(load_fails(big, b.len + 1, "trailing"));
    free(big);
    veil_buf_free(&b);
}

static void test_corrupted_bytes(void)
{
    setup();
    veil_buf b;
    make_u8(&b, 200);
    /* flip one bit at positions across header, payload and digest */
    for (size_t pos = 0; pos < b.len; pos += b.len / 37 + 1) {
        b.data[pos] ^= 0x10;
        CHECK(load_fails(b.data, b.len, NULL));
        b.data[pos] ^= 0x10;
    }
    b.data[b.len - 1] ^= 1; /* digest */
    CHECK(load_fails(b.data, b.len, "corrupted"));
    b.data[b.len - 1] ^= 1;
    b.data[0] ^= 1; /* magic */
    CHECK(load_fails(b.data, b.len, NULL));
    b.data[0] ^= 1;
    veil_fhe_ct *ct = NULL;
    veil_err err = {0};
    CHECK(veil_fhe_ct_deserialize(b.data, b.len, &ct, &err) == 0); /* restored: loads */
    veil_fhe_ct_free(ct);
    veil_buf_free(&b);
}

/* Builds a container with a valid digest but a chosen radix payload. */
static void build(veil_buf *b, uint16_t kind, uint32_t param_id, uint32_t width, uint32_t n_blocks,
                  uint64_t degree, uint32_t noise, size_t real_blocks)
{
    const struct veil_fhe_params *p = veil_fhe_params_default();
    struct veil_shortint_ct blk;
    veil_err err = {0};
    veil_shortint_ct_init(&blk, p, &err);
    veil_shortint_trivial(p, 1, &blk);
    blk.degree = degree;
    blk.noise_level = noise;
    veil_buf_init(b);
    size_t start = veil_fhe_container_begin(b, kind, param_id);
    veil_buf_put_u32le(b, width);
    veil_buf_put_u32le(b, n_blocks);
    for (size_t i = 0; i < real_blocks; i++)
        veil_fhe_put_shortint(b, p, &blk);
    veil_fhe_container_end(b, start, &err);
    veil_shortint_ct_free(&blk);
}

static void test_semantic_rejections(void)
{
    const uint32_t id = veil_fhe_params_default()->id;
    veil_buf b;
    build(&b, VEIL_FHE_KIND_RADIX, id, 8, 4, 3, 1, 4); /* well-formed */
    CHECK(!load_fails(b.data, b.len, NULL));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 12, 4, 3, 1, 4);
    CHECK(load_fails(b.data, b.len, "unsupported width"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 8, 5, 3, 1, 5);
    CHECK(load_fails(b.data, b.len, "blocks for a 8-bit"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 16, 0xffffffffu, 3, 1, 0);
    CHECK(load_fails(b.data, b.len, "blocks"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 8, 4, 3, 1, 3); /* one block short */
    CHECK(load_fails(b.data, b.len, "truncated"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 8, 4, 7, 1, 4); /* carries not cleaned */
    CHECK(load_fails(b.data, b.len, "degree"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 1, 1, 2, 1, 1); /* a bool of degree 2 */
    CHECK(load_fails(b.data, b.len, "degree"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, id, 8, 4, 3, 99, 4);
    CHECK(load_fails(b.data, b.len, "noise"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_RADIX, 4242, 8, 4, 3, 1, 4); /* unknown parameter set */
    CHECK(load_fails(b.data, b.len, "parameter set"));
    veil_buf_free(&b);
    build(&b, VEIL_FHE_KIND_SHORTINT, id, 8, 4, 3, 1, 4); /* another kind of object */
    CHECK(load_fails(b.data, b.len, "expected a"));
    veil_buf_free(&b);
}

static void test_files(void)
{
    setup();
    char dir[] = "/tmp/veil-fhe-int-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256], keypath[256];
    snprintf(path, sizeof path, "%s/x.ct", dir);
    snprintf(keypath, sizeof keypath, "%s/client.key", dir);
    veil_err err = {0};
    veil_fhe_ct *ct = NULL, *back = NULL;
    CHECK(veil_fhe_encrypt(ck, 16, 4242, &ct, &err) == 0);
    CHECK(veil_fhe_ct_save(ct, path, &err) == 0);
    CHECK(veil_fhe_ct_load(path, &back, &err) == 0);
    uint64_t v = 0;
    CHECK(back && veil_fhe_decrypt(ck, back, &v, &err) == 0);
    CHECK_EQ_U64(v, 4242);
    enum veil_fhe_file_kind kind;
    CHECK(veil_fhe_file_kind(path, &kind, &err) == 0 && kind == VEIL_FHE_FILE_CIPHERTEXT);
    CHECK(veil_fhe_client_save(ck, keypath, &err) == 0);
    CHECK(veil_fhe_file_kind(keypath, &kind, &err) == 0 && kind == VEIL_FHE_FILE_CLIENT_KEY);
    veil_fhe_ct *wrong = NULL;
    CHECK(veil_fhe_ct_load(keypath, &wrong, &err) != 0); /* a key is not a ciphertext */
    CHECK_CONTAINS(err.msg, "client key");
    veil_fhe_client *ck2 = NULL;
    CHECK(veil_fhe_client_load(path, &ck2, &err) != 0); /* nor the other way round */
    CHECK(veil_fhe_client_load(keypath, &ck2, &err) == 0);
    veil_fhe_client_free(ck2);
    veil_fhe_ct_free(ct);
    veil_fhe_ct_free(back);
    remove(path);
    remove(keypath);
    remove(dir);
}

VTEST_MAIN(VTEST(test_round_trip_all_widths), VTEST(test_encrypt_rejects_bad_input),
           VTEST(test_truncated_and_oversized), VTEST(test_corrupted_bytes),
           VTEST(test_semantic_rejections), VTEST(test_files))
