// SPDX-License-Identifier: Apache-2.0
/* Codecs: RFC 4648 test vectors, base58btc vectors (incl. a libp2p peer ID),
 * uvarint vectors from the multiformats spec, and malformed inputs. */
#include <veil/base.h>

#include "vtest.h"

static void test_hex(void)
{
    char out[64];
    uint8_t bin[16];
    veil_err err = {0};
    CHECK_EQ_INT(veil_hex_encode(out, sizeof out, "\x00\xff\x10", 3), 6);
    CHECK_EQ_STR(out, "00ff10");
    CHECK_EQ_INT(veil_hex_decode(bin, sizeof bin, "00FF10", 6, false, &err), 3);
    CHECK_EQ_MEM(bin, "\x00\xff\x10", 3);
    CHECK_EQ_INT(veil_hex_decode(bin, sizeof bin, "0xabcd", 6, true, &err), 2);
    CHECK_EQ_INT(veil_hex_decode(bin, sizeof bin, "0xabcd", 6, false, &err), -1);
    CHECK_EQ_INT(veil_hex_decode(bin, sizeof bin, "abc", 3, false, &err), -1);
    CHECK_CONTAINS(err.msg, "odd");
    CHECK_EQ_INT(veil_hex_decode(bin, sizeof bin, "zz", 2, false, &err), -1);
    CHECK_CONTAINS(err.msg, "invalid character");
    CHECK_EQ_INT(veil_hex_decode(bin, 1, "abcd", 4, false, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    CHECK_EQ_INT(veil_hex_encode(out, 6, "\x00\xff\x10", 3), -1); /* no room for NUL */
}

/* RFC 4648 section 10 vectors. */
static const char *const rfc_in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const rfc_b32[] = {"",         "MY======", "MZXQ====", "MZXW6===",
                                      "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======"};
static const char *const rfc_b64url_nopad[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE",
                                               "Zm9vYmFy"};

static void test_base32(void)
{
    char out[64];
    uint8_t bin[64];
    veil_err err = {0};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(rfc_in); i++) {
        size_t n = strlen(rfc_in[i]);
        CHECK(veil_base32_encode(out, sizeof out, rfc_in[i], n, false, true) >= 0);
        CHECK_EQ_STR(out, rfc_b32[i]);
        long got = veil_base32_decode(bin, sizeof bin, rfc_b32[i], strlen(rfc_b32[i]), &err);
        CHECK_EQ_INT(got, (long)n);
        CHECK_EQ_MEM(bin, rfc_in[i], n);
        /* Unpadded lower case (multibase 'b'). */
        long m = veil_base32_encode(out, sizeof out, rfc_in[i], n, true, false);
        CHECK(m >= 0);
        CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, out, (size_t)m, &err), (long)n);
        CHECK_EQ_MEM(bin, rfc_in[i], n);
    }
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "MY=====", 7, &err), -1); /* short pad */
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "MZ======", 8, &err), -1); /* trailing bits */
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "M1======", 8, &err), -1); /* bad char */
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "MzXQ", 4, &err), -1);     /* mixed case */
    CHECK_CONTAINS(err.msg, "mixed case");
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "MZX", 3, &err), -1); /* impossible len */
    CHECK_EQ_INT(veil_base32_decode(bin, sizeof bin, "MZXW6=", 6, &err), -1);
}

static void test_base58(void)
{
    char out[128];
    uint8_t bin[64];
    veil_err err = {0};
    CHECK_EQ_INT(veil_crypto_init(&err), 0);
    CHECK_EQ_INT(veil_base58_encode(out, sizeof out, "hello world", 11), 15);
    CHECK_EQ_STR(out, "StV1DL6CwTryKyV");
    CHECK(veil_base58_encode(out, sizeof out, "\x00\x00\x28\x7f\xb4\xcd", 6) > 0);
    CHECK_EQ_STR(out, "11233QC4");
    CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, "11233QC4", 8, &err), 6);
    CHECK_EQ_MEM(bin, "\x00\x00\x28\x7f\xb4\xcd", 6);
    CHECK_EQ_INT(veil_base58_encode(out, sizeof out, "", 0), 0);
    /* A libp2p Ed25519 peer ID: identity multihash 00 24 || 08 01 12 20 || key. */
    const char *peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    long n = veil_base58_decode(bin, sizeof bin, peer, strlen(peer), &err);
    CHECK_EQ_INT(n, 38);
    CHECK_EQ_MEM(bin, "\x00\x24\x08\x01\x12\x20", 6);
    CHECK_EQ_INT(veil_base58_encode(out, sizeof out, bin, (size_t)n), (long)strlen(peer));
    CHECK_EQ_STR(out, peer);
    /* 0, O, I and l are not in the alphabet. */
    CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, "12D30", 5, &err), -1);
    CHECK_CONTAINS(err.msg, "invalid character '0'");
    CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, "abOc", 4, &err), -1);
    CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, "Il", 2, &err), -1);
    CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, "", 0, &err), -1);
    CHECK_EQ_INT(veil_base58_decode(bin, 4, peer, strlen(peer), &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    /* Round trips of random data, leading zeros included. */
    for (int t = 0; t < 200; t++) {
        uint8_t in[40];
        size_t len = veil_random_uniform(sizeof in + 1);
        veil_random_bytes(in, len);
        if (len > 2 && t % 3 == 0)
            in[0] = in[1] = 0;
        long e = veil_base58_encode(out, sizeof out, in, len);
        CHECK(e >= 0);
        if (len == 0)
            continue;
        CHECK_EQ_INT(veil_base58_decode(bin, sizeof bin, out, (size_t)e, &err), (long)len);
        CHECK_EQ_MEM(bin, in, len);
    }
}

static void test_base64url(void)
{
    char out[64];
    uint8_t bin[64];
    veil_err err = {0};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(rfc_in); i++) {
        size_t n = strlen(rfc_in[i]);
        CHECK(veil_base64url_encode(out, sizeof out, rfc_in[i], n, false) >= 0);
        CHECK_EQ_STR(out, rfc_b64url_nopad[i]);
        CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, out, strlen(out), &err), (long)n);
        CHECK_EQ_MEM(bin, rfc_in[i], n);
        CHECK(veil_base64url_encode(out, sizeof out, rfc_in[i], n, true) >= 0);
        CHECK_EQ_INT(strlen(out) % 4, 0);
        CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, out, strlen(out), &err), (long)n);
    }
    CHECK_EQ_INT(veil_base64url_encode(out, sizeof out, "\xfb\xff", 2, false), 3);
    CHECK_EQ_STR(out, "-_8");
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "+/8", 3, &err), -1); /* std alphabet */
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "Zh", 2, &err), -1);  /* trailing bits */
    CHECK_CONTAINS(err.msg, "trailing bits");
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "Z", 1, &err), -1);
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "Zg=", 3, &err), -1);
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "Zg===", 5, &err), -1);
    CHECK_EQ_INT(veil_base64url_decode(bin, sizeof bin, "Zm8==", 5, &err), -1);
}

static void test_uvarint(void)
{
    /* multiformats/unsigned-varint examples. */
    static const struct {
        uint64_t v;
        const char *bytes;
        size_t n;
    } vec[] = {
        {1, "\x01", 1},         {127, "\x7f", 1},           {128, "\x80\x01", 2},
        {255, "\xff\x01", 2},   {300, "\xac\x02", 2},       {16384, "\x80\x80\x01", 3},
        {0, "\x00", 1},         {(1ull << 63) - 1, "\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9},
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(vec); i++) {
        uint8_t out[10];
        uint64_t v;
        CHECK_EQ_INT(veil_uvarint_encode(out, vec[i].v), vec[i].n);
        CHECK_EQ_MEM(out, vec[i].bytes, vec[i].n);
        CHECK_EQ_INT(veil_uvarint_decode((const uint8_t *)vec[i].bytes, vec[i].n, &v),
                     (int)vec[i].n);
        CHECK_EQ_U64(v, vec[i].v);
        /* Truncated: needs more bytes. */
        CHECK_EQ_INT(veil_uvarint_decode((const uint8_t *)vec[i].bytes, vec[i].n - 1, &v), 0);
    }
    uint64_t v;
    /* Overlong: a 10th byte (values >= 2^63) and non-minimal encodings. */
    CHECK_EQ_INT(veil_uvarint_decode((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
                                     10, &v),
                 -1);
    CHECK_EQ_INT(veil_uvarint_decode((const uint8_t *)"\x81\x00", 2, &v), -1);
    CHECK_EQ_INT(veil_uvarint_decode((const uint8_t *)"\x80\x80\x00", 3, &v), -1);
}

VTEST_MAIN(VTEST(test_hex), VTEST(test_base32), VTEST(test_base58), VTEST(test_base64url),
           VTEST(test_uvarint))
