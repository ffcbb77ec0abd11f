// SPDX-License-Identifier: Apache-2.0
/*
 * test_product_peer.c - the signed overlay peer record
 * (src/net/overlay_peer.c): IPv4 and IPv6 endpoints round-trip; a record
 * signed by another key, a flipped bit anywhere, a truncated or extended
 * record, and a record whose family byte disagrees with its length are
 * refused; encoding with a key that is not the identity's is refused.
 */
#include <string.h>

#include <sodium.h>

#include <veil/overlay_peer.h>

#include "vtest.h"

static void make(struct veil_overlay_peer_record *r, uint8_t sk[64], const char *ep)
{
    memset(r, 0, sizeof *r);
    crypto_sign_keypair(r->identity, sk);
    strcpy(r->ipv4, "10.77.3.9");
    strcpy(r->endpoint_ip, ep);
    r->endpoint_port = 51820;
    r->issued_ms = 1765000000123ull;
}

static void test_round_trip(void)
{
    const char *eps[] = {"10.99.0.2", "fd00:99::2"};
    for (int i = 0; i < 2; i++) {
        struct veil_overlay_peer_record r, back;
        uint8_t sk[64];
        veil_buf b;
        veil_err err = {0};
        make(&r, sk, eps[i]);
        veil_buf_init(&b);
        CHECK(veil_overlay_peer_record_encode(&r, sk, &b, &err) == 0);
        CHECK_EQ_INT((int)b.len, i ? VEIL_PEER_RECORD_V6_LEN : VEIL_PEER_RECORD_V4_LEN);
        CHECK(veil_overlay_peer_record_decode(b.data, b.len, &back, &err) == 0);
        CHECK_EQ_MEM(back.identity, r.identity, 32);
        CHECK_EQ_STR(back.ipv4, "10.77.3.9");
        CHECK_EQ_STR(back.endpoint_ip, eps[i]);
        CHECK_EQ_INT(back.endpoint_port, 51820);
        CHECK_EQ_U64(back.issued_ms, r.issued_ms);
        veil_buf_free(&b);
    }
}

static void test_refusals(void)
{
    struct veil_overlay_peer_record r, back, other;
    uint8_t sk[64], osk[64];
    veil_buf b;
    veil_err err = {0};
    make(&r, sk, "10.99.0.2");
    make(&other, osk, "10.99.0.3");
    veil_buf_init(&b);
    CHECK(veil_overlay_peer_record_encode(&r, osk, &b, &err) != 0);
    CHECK_CONTAINS(err.msg, "not the identity's");
    CHECK(veil_overlay_peer_record_encode(&r, sk, &b, &err) == 0);
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x10;
        CHECK(veil_overlay_peer_record_decode(b.data, b.len, &back, &err) != 0);
        b.data[i] ^= 0x10;
    }
    CHECK(veil_overlay_peer_record_decode(b.data, b.len - 1, &back, &err) != 0);
    uint8_t longer[VEIL_PEER_RECORD_V6_LEN] = {0};
    memcpy(longer, b.data, b.len);
    CHECK(veil_overlay_peer_record_decode(longer, sizeof longer, &back, &err) != 0);
    /* another identity's key substituted: the signature no longer matches */
    memcpy(b.data + 4, other.identity, 32);
    CHECK(veil_overlay_peer_record_decode(b.data, b.len, &back, &err) != 0);
    CHECK_CONTAINS(err.msg, "bad signature");
    strcpy(r.ipv4, "10.77.3");
    CHECK(veil_overlay_peer_record_encode(&r, sk, &b, &err) != 0);
    veil_buf_free(&b);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    static const struct vtest_case cases[] = {VTEST(test_round_trip), VTEST(test_refusals)};
    return vtest_run(cases, 2, argc, argv);
}
