// SPDX-License-Identifier: Apache-2.0
/*
 * test_p2p_codec.c (p2p core) - codecs and state machines of the libp2p
 * stack without sockets: peer-ID and multiaddr vectors (cross-checked with
 * js-libp2p), length-prefixed framing, multistream lines split and
 * coalesced, yamux headers, and a Noise XX handshake between two in-process
 * peers including a peer that lies about its key.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "p2p_internal.h"
#include "vtest.h"

/* libp2p/specs peer-ids test vector; text forms produced by js-libp2p. */
static const char SEED_HEX[] = "7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d";
static const char PUB_HEX[] = "1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
static const char PEER_B58[] = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
static const char PEER_CID[] = "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6";

static void vector_key(veil_p2p_keypair *kp)
{
    uint8_t seed[32];
    veil_hex_decode(seed, sizeof seed, SEED_HEX, 64, false, NULL);
    veil_p2p_keypair_from_seed(kp, seed, NULL);
}

static void test_peer_id_vectors(void)
{
    veil_p2p_keypair kp;
    vector_key(&kp);
    char hex[65];
    veil_hex_encode(hex, sizeof hex, kp.public_key, 32);
    CHECK_EQ_STR(hex, PUB_HEX);
    veil_p2p_peer_id id, parsed, parsed_cid;
    veil_p2p_peer_id_from_ed25519(kp.public_key, &id);
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    CHECK(veil_p2p_peer_id_to_text(&id, text, sizeof text) > 0);
    CHECK_EQ_STR(text, PEER_B58);
    CHECK(veil_p2p_peer_id_to_cid_text(&id, text, sizeof text) > 0);
    CHECK_EQ_STR(text, PEER_CID);
    CHECK_EQ_INT(veil_p2p_peer_id_parse(PEER_B58, &parsed, NULL), 0);
    CHECK(veil_p2p_peer_id_equal(&id, &parsed));
    CHECK_EQ_INT(veil_p2p_peer_id_parse(PEER_CID, &parsed_cid, NULL), 0);
    CHECK(veil_p2p_peer_id_equal(&id, &parsed_cid));
    uint8_t pk[32];
    CHECK_EQ_INT(veil_p2p_peer_id_ed25519_key(&id, pk, NULL), 0);
    CHECK_EQ_MEM(pk, kp.public_key, 32);

    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_peer_id_parse("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0",
                                        &parsed, &err),
                 -1);
    CHECK_EQ_INT(veil_p2p_peer_id_parse("", &parsed, &err), -1);
    CHECK_EQ_INT(veil_p2p_peer_id_parse("xyz", &parsed, &err), -1);
    /* a sha2-256 multihash of the wrong length */
    uint8_t bad[] = {0x12, 0x10, 1, 2, 3};
    CHECK_EQ_INT(veil_p2p_peer_id_from_bytes(bad, sizeof bad, &parsed, &err), -1);
    /* unknown hash code */
    uint8_t bad2[] = {0x13, 0x01, 0};
    CHECK_EQ_INT(veil_p2p_peer_id_from_bytes(bad2, sizeof bad2, &parsed, &err), -1);
    /* a CID with the wrong codec (dag-pb 0x70) */
    CHECK_EQ_INT(veil_p2p_peer_id_parse(
                     "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", &parsed, &err),
                 -1);
    /* Qm (sha2-256) form of an RSA-era peer */
    CHECK_EQ_INT(
        veil_p2p_peer_id_parse("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", &parsed, NULL), 0);
    CHECK_EQ_INT(parsed.len, 34);
    CHECK_EQ_INT(veil_p2p_peer_id_ed25519_key(&parsed, pk, &err), -1);
}

static void test_pubkey_and_signature(void)
{
    veil_p2p_keypair kp;
    vector_key(&kp);
    uint8_t pb[VEIL_P2P_ED25519_PUBKEY_PB_LEN], sig[64];
    veil_p2p_pubkey_encode_ed25519(kp.public_key, pb);
    veil_p2p_keypair_sign(&kp, "hello", 5, sig);
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pb, sizeof pb, "hello", 5, sig, 64, NULL), 0);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pb, sizeof pb, "hellO", 5, sig, 64, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    pb[1] = 2; /* secp256k1, but 32 bytes are no secp256k1 key */
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pb, sizeof pb, "hello", 5, sig, 64, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PARSE);
}

/* Remote key types: js-libp2p signatures of "hello" (secp256k1, RSA 2048)
 * and an OpenSSL-made P-256 key in PKIX form (ECDSA as go-libp2p encodes it). */
static void check_vector(const char *pk_hex, const char *sig_hex)
{
    uint8_t pk[1024], sig[512];
    long pl = veil_hex_decode(pk, sizeof pk, pk_hex, strlen(pk_hex), false, NULL);
    long sl = veil_hex_decode(sig, sizeof sig, sig_hex, strlen(sig_hex), false, NULL);
    CHECK(pl > 0 && sl > 0);
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pk, (size_t)pl, "hello", 5, sig, (size_t)sl, NULL), 0);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pk, (size_t)pl, "hellO", 5, sig, (size_t)sl, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    veil_p2p_peer_id id;
    CHECK_EQ_INT(veil_p2p_peer_id_from_pubkey_pb(pk, (size_t)pl, &id, NULL), 0);
}

static void test_other_key_types(void)
{
    check_vector(
        "0802122103183334e4db33809a9ca74fbf7990c6e3f089f5af4b51bb836ed84e7ccba102db",
        "30440220596b86e64e70010dca5bbac89db389e23daafcf9e44b97f43a42bb5474a2e7a302200b7f96e9cc81"
        "30d6fe9d5733fece264d68c3b276358054e040cf855e1f7b7e94");
    check_vector(
        "080012a60230820122300d06092a864886f70d01010105000382010f003082010a0282010100bb650dfc0f10"
        "0892ce72146389d330331f59fdccd8549ee42b5f07c3d9329c2b75e778ba807568b85948759fef87dc3a3fd9"
        "cb873d7540fe71df51ee88ee1569b2b1bb4a048ce82249aa29cb3b6448590e3b25f205d3c36c90de0d5f768c"
        "a4678797ead1ff9df6e8cbce718da06bdfb4baa0bba5f239fe1af482632d9f65c4bebd820fde6cc8d03131d1"
        "6c96aa8fbb88a2a324ed354e790314ad85f9a655095644362865f2ebff2e73e5138d6c2a655237e201de2acc"
        "6a31317a29da1b462e153b48fda698d1d3b880a29a291c555c7b5f0b670fe408d825ee26fa47fecc863fd73c"
        "49e90bfb702be9b5ab7872677a9c6547a3e644f704787096c42e498f83c10203010001",
        "a939478d1f8d01ae18619b8c24407e07a79d614555dffabf9a6ad3e65f7ee6e4a16475bc1fe08eab018e8244"
        "51b2e61807b8f3a7d4e3dd5d03a32e15c990414323b6bc0a2baef4ec6c369961a2918089f90d5eb81cb1b85d"
        "39ad9266e101e341521994c931b8a51a70d1c860342cd8796fb16f15a2d758d2cc49c48570e875b94675c01c"
        "c9ed97d7775fb11817820258c4dbd7861210833a69d2e47ecb8c7ed4b9620d738fd9448d3512077467502522"
        "41539874937aaee7c277fc5c6899ce6c29ace8029cbeb8b606eb6c7bef0bbd62f61aaf159ed9c6199e241dbb"
        "bd505aae14b51a1983c87064cca177e865167fad571a4d8d20aaf924f9fc17debae4c788");
    /* ECDSA P-256, PKIX */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    CHECK(ec != NULL);
    uint8_t *der = NULL;
    int dl = i2d_PUBKEY(ec, &der);
    CHECK(dl > 0);
    veil_buf pb;
    veil_buf_init(&pb);
    veil_buf_put_u8(&pb, 0x08);
    veil_buf_put_u8(&pb, 0x03);
    veil_buf_put_u8(&pb, 0x12);
    veil_buf_put_uvarint(&pb, (uint64_t)dl);
    veil_buf_put(&pb, der, (size_t)dl);
    uint8_t sig[128];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    CHECK(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, ec) == 1);
    CHECK(EVP_DigestSign(md, sig, &sl, (const uint8_t *)"hello", 5) == 1);
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pb.data, pb.len, "hello", 5, sig, sl, NULL), 0);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_pubkey_verify(pb.data, pb.len, "hellO", 5, sig, sl, &err), -1);
    /* an ECDSA-typed RSA key is refused */
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    EVP_PKEY_free(ec);
    veil_buf_free(&pb);
    /* unknown key type */
    uint8_t unk[] = {0x08, 0x09, 0x12, 0x01, 0x00};
    CHECK_EQ_INT(veil_p2p_pubkey_verify(unk, sizeof unk, "x", 1, unk, 1, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
}

static void test_keyfile(void)
{
    char dir[] = "/tmp/veil-p2p-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/node.key", dir);
    veil_p2p_keypair kp, back;
    CHECK_EQ_INT(veil_p2p_keypair_generate(&kp, NULL), 0);
    CHECK_EQ_INT(veil_p2p_keypair_save(&kp, path, NULL), 0);
    CHECK_EQ_INT(veil_p2p_keypair_load(&back, path, NULL), 0);
    CHECK_EQ_MEM(kp.secret_key, back.secret_key, 64);
    /* the js-libp2p private key protobuf of the vector */
    uint8_t js[68];
    veil_hex_decode(js, sizeof js,
                    "080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8"
                    "fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
                    136, false, NULL);
    CHECK_EQ_INT(veil_key_file_write(path, js, sizeof js, NULL), 0);
    CHECK_EQ_INT(veil_p2p_keypair_load(&back, path, NULL), 0);
    char hex[65];
    veil_hex_encode(hex, sizeof hex, back.public_key, 32);
    CHECK_EQ_STR(hex, PUB_HEX);
    js[40] ^= 1; /* public half no longer matches */
    CHECK_EQ_INT(veil_key_file_write(path, js, sizeof js, NULL), 0);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_keypair_load(&back, path, &err), -1);
    CHECK_EQ_INT(veil_key_file_write(path, "junk", 4, NULL), 0);
    CHECK_EQ_INT(veil_p2p_keypair_load(&back, path, &err), -1);
    remove(path);
    rmdir(dir);
}

static void roundtrip(const char *text, const char *hex)
{
    veil_p2p_multiaddr ma, back;
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_multiaddr_parse(text, &ma, &err), 0);
    char h[600];
    veil_hex_encode(h, sizeof h, ma.bytes, ma.len);
    CHECK_EQ_STR(h, hex);
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(ma.bytes, ma.len, &back, &err), 0);
    char t[VEIL_P2P_MULTIADDR_TEXT_MAX];
    CHECK_EQ_INT(veil_p2p_multiaddr_to_text(&back, t, sizeof t, &err), 0);
    CHECK_EQ_STR(t, text);
}

static void test_multiaddr_vectors(void)
{
    /* binary forms produced by js @multiformats/multiaddr */
    roundtrip("/ip4/127.0.0.1/tcp/4001", "047f000001060fa1");
    roundtrip("/ip6/::1/tcp/0", "2900000000000000000000000000000001060000");
    roundtrip("/ip6/2001:db8::1/tcp/65535", "2920010db800000000000000000000000106ffff");
    roundtrip("/dns4/example.com/tcp/443/p2p/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
              "360b6578616d706c652e636f6d0601bba503260024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b3"
              "4b871c3cacf6010f0e42d474fce27e");

    veil_p2p_multiaddr ma, stripped, with;
    veil_p2p_peer_id id, want;
    CHECK_EQ_INT(veil_p2p_multiaddr_parse("/ip4/10.0.0.1/tcp/9/p2p/"
                                          "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
                                          &ma, NULL),
                 0);
    veil_p2p_peer_id_parse(PEER_B58, &want, NULL);
    CHECK_EQ_INT(veil_p2p_multiaddr_peer_id(&ma, &id, NULL), 0);
    CHECK(veil_p2p_peer_id_equal(&id, &want));
    veil_p2p_multiaddr_strip_peer(&ma, &stripped);
    CHECK_EQ_INT(stripped.len, 8);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_multiaddr_peer_id(&stripped, &id, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
    CHECK_EQ_INT(veil_p2p_multiaddr_with_peer(&stripped, &want, &with, NULL), 0);
    CHECK(veil_p2p_multiaddr_equal(&with, &ma));
    char host[300];
    uint16_t port;
    int family;
    CHECK_EQ_INT(veil_p2p_multiaddr_tcp_target(&ma, host, sizeof host, &port, &family, NULL), 0);
    CHECK_EQ_STR(host, "10.0.0.1");
    CHECK_EQ_INT(port, 9);
    CHECK_EQ_INT(family, AF_INET);
    /* ipfs alias */
    CHECK_EQ_INT(veil_p2p_multiaddr_parse(
                     "/ipfs/12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq", &ma, NULL),
                 0);

    static const char *const bad[] = {"",
                                      "ip4/1.2.3.4",
                                      "/ip4",
                                      "/ip4/1.2.3",
                                      "/ip4/1.2.3.4/tcp",
                                      "/ip4/1.2.3.4/tcp/65536",
                                      "/ip4/1.2.3.4/tcp/-1",
                                      "/ip4/1.2.3.4/tcp/01",
                                      "/ip6/1.2.3.4",
                                      "/udp/53",
                                      "/ip4/1.2.3.4/",
                                      "/p2p/notapeer",
                                      "/dns4/a b/tcp/1",
                                      "/"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        int rc = veil_p2p_multiaddr_parse(bad[i], &ma, &err);
        CHECK_EQ_INT(rc, -1);
        if (rc == 0)
            fprintf(stderr, "accepted bad multiaddr '%s'\n", bad[i]);
    }
    /* binary: truncated, unknown code, oversize dns length */
    uint8_t b1[] = {0x04, 0x7f, 0x00};
    uint8_t b2[] = {0x99, 0x01};
    uint8_t b3[] = {0x36, 0x7f, 'a'};
    uint8_t b4[] = {0x06, 0x00};
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(b1, sizeof b1, &ma, &err), -1);
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(b2, sizeof b2, &ma, &err), -1);
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(b3, sizeof b3, &ma, &err), -1);
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(b4, sizeof b4, &ma, &err), -1);
    CHECK_EQ_INT(veil_p2p_multiaddr_from_bytes(b1, 0, &ma, &err), -1);
}

struct drain_seen {
    size_t count, bytes;
    size_t stop_at; /* fail on this message (1-based), 0 = never */
};

static int drain_count(void *arg, const uint8_t *msg, size_t len, veil_err *err)
{
    struct drain_seen *seen = arg;
    (void)msg;
    seen->count++;
    seen->bytes += len;
    if (seen->count == seen->stop_at)
        return veil_err_set(err, VEIL_E_PROTOCOL, "handler refused message %zu", seen->count);
    return 0;
}

/* drain: coalesced and split frames reach the handler whole and in order; a
 * handler error or an oversize frame stops it with that error. */
static void test_lp_reader_drain(void)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_p2p_lp_put(&b, "one", 3);
    veil_p2p_lp_put(&b, "", 0);
    veil_p2p_lp_put(&b, "three", 5);
    veil_p2p_lp_reader r;
    veil_p2p_lp_reader_init(&r, 16);
    struct drain_seen seen = {0};
    veil_err err = {0};
    /* Everything but the last byte, then the last byte. */
    CHECK_EQ_INT(veil_p2p_lp_reader_drain(&r, b.data, b.len - 1, drain_count, &seen, &err), 0);
    CHECK_EQ_INT(seen.count, 2);
    CHECK_EQ_INT(veil_p2p_lp_reader_drain(&r, b.data + b.len - 1, 1, drain_count, &seen, &err), 0);
    CHECK_EQ_INT(seen.count, 3);
    CHECK_EQ_INT(seen.bytes, 8);
    CHECK(veil_p2p_lp_reader_empty(&r));

    struct drain_seen stop = {.stop_at = 2};
    CHECK_EQ_INT(veil_p2p_lp_reader_drain(&r, b.data, b.len, drain_count, &stop, &err), -1);
    CHECK_EQ_INT(stop.count, 2);
    CHECK_CONTAINS(err.msg, "handler refused message 2");
    veil_p2p_lp_reader_free(&r);

    uint8_t big[20] = {0};
    veil_buf_reset(&b);
    veil_p2p_lp_put(&b, big, sizeof big);
    veil_p2p_lp_reader_init(&r, 16);
    struct drain_seen none = {0};
    CHECK_EQ_INT(veil_p2p_lp_reader_drain(&r, b.data, b.len, drain_count, &none, &err), -1);
    CHECK_EQ_INT(none.count, 0);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    veil_p2p_lp_reader_free(&r);
    veil_buf_free(&b);
}

static void test_lp_reader(void)
{
    veil_p2p_lp_reader r;
    veil_p2p_lp_reader_init(&r, 300);
    veil_buf b;
    veil_buf_init(&b);
    uint8_t big[200];
    memset(big, 7, sizeof big);
    veil_p2p_lp_put(&b, "abc", 3);
    veil_p2p_lp_put(&b, big, sizeof big);
    veil_p2p_lp_put(&b, "", 0);
    /* byte by byte (split reads) */
    const uint8_t *msg;
    size_t len;
    int got = 0;
    for (size_t i = 0; i < b.len; i++) {
        CHECK_EQ_INT(veil_p2p_lp_reader_feed(&r, b.data + i, 1, NULL), 0);
        int rc;
        while ((rc = veil_p2p_lp_reader_next(&r, &msg, &len, NULL)) == 1) {
            if (got == 0)
                CHECK(len == 3 && memcmp(msg, "abc", 3) == 0);
            if (got == 1)
                CHECK(len == 200 && msg[199] == 7);
            if (got == 2)
                CHECK_EQ_INT(len, 0);
            got++;
        }
        CHECK_EQ_INT(rc, 0);
    }
    CHECK_EQ_INT(got, 3);
    CHECK(veil_p2p_lp_reader_empty(&r));
    /* all at once (coalesced) */
    CHECK_EQ_INT(veil_p2p_lp_reader_feed(&r, b.data, b.len, NULL), 0);
    got = 0;
    while (veil_p2p_lp_reader_next(&r, &msg, &len, NULL) == 1)
        got++;
    CHECK_EQ_INT(got, 3);
    /* oversize and malformed prefixes */
    veil_err err = {0};
    uint8_t over[] = {0xad, 0x02}; /* 301 */
    CHECK_EQ_INT(veil_p2p_lp_reader_feed(&r, over, 2, NULL), 0);
    CHECK_EQ_INT(veil_p2p_lp_reader_next(&r, &msg, &len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_RANGE);
    veil_p2p_lp_reader_free(&r);
    veil_p2p_lp_reader_init(&r, 300);
    uint8_t nonmin[] = {0x80, 0x00};
    veil_p2p_lp_reader_feed(&r, nonmin, 2, NULL);
    CHECK_EQ_INT(veil_p2p_lp_reader_next(&r, &msg, &len, &err), -1);
    veil_p2p_lp_reader_free(&r);
    veil_buf_free(&b);
}

static void test_multistream_lines(void)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_mss_put_line(&b, VEIL_MSS_HEADER);
    veil_mss_put_line(&b, "/noise");
    /* "/multistream/1.0.0\n" is 19 bytes: prefix 0x13 */
    CHECK_EQ_INT(b.data[0], 0x13);
    CHECK_EQ_INT(b.data[19], '\n');
    char line[VEIL_MSS_MAX_LINE];
    size_t used = 0;
    /* split: every prefix of the first line needs more data */
    for (size_t i = 0; i < 20; i++)
        CHECK_EQ_INT(veil_mss_parse_line(b.data, i, line, &used, NULL), 0);
    /* coalesced: both lines in one buffer */
    CHECK_EQ_INT(veil_mss_parse_line(b.data, b.len, line, &used, NULL), 1);
    CHECK_EQ_STR(line, VEIL_MSS_HEADER);
    CHECK_EQ_INT(used, 20);
    size_t used2 = 0;
    CHECK_EQ_INT(veil_mss_parse_line(b.data + used, b.len - used, line, &used2, NULL), 1);
    CHECK_EQ_STR(line, "/noise");
    CHECK_EQ_INT(used + used2, b.len);
    /* no newline, oversize, NUL inside */
    veil_err err = {0};
    uint8_t nonl[] = {3, 'a', 'b', 'c'};
    CHECK_EQ_INT(veil_mss_parse_line(nonl, sizeof nonl, line, &used, &err), -1);
    uint8_t over[] = {0x81, 0x08}; /* 1025 */
    CHECK_EQ_INT(veil_mss_parse_line(over, sizeof over, line, &used, &err), -1);
    uint8_t nul[] = {3, 'a', 0, '\n'};
    CHECK_EQ_INT(veil_mss_parse_line(nul, sizeof nul, line, &used, &err), -1);
    uint8_t empty[] = {0};
    CHECK_EQ_INT(veil_mss_parse_line(empty, sizeof empty, line, &used, &err), -1);
    veil_buf_free(&b);
}

static void test_yamux_header(void)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_yamux_put_header(&b, VEIL_YAMUX_WINDOW_UPDATE, VEIL_YAMUX_SYN, 3, 262144);
    const uint8_t want[] = {0, 1, 0, 1, 0, 0, 0, 3, 0, 4, 0, 0};
    CHECK_EQ_INT(b.len, 12);
    CHECK_EQ_MEM(b.data, want, 12);
    veil_yamux_header h;
    CHECK_EQ_INT(veil_yamux_parse_header(b.data, &h, NULL), 0);
    CHECK_EQ_INT(h.type, VEIL_YAMUX_WINDOW_UPDATE);
    CHECK_EQ_INT(h.flags, VEIL_YAMUX_SYN);
    CHECK_EQ_INT(h.stream_id, 3);
    CHECK_EQ_U64(h.length, 262144);
    veil_err err = {0};
    uint8_t bad[12];
    memcpy(bad, want, 12);
    bad[0] = 1; /* version */
    CHECK_EQ_INT(veil_yamux_parse_header(bad, &h, &err), -1);
    memcpy(bad, want, 12);
    bad[1] = 4; /* type */
    CHECK_EQ_INT(veil_yamux_parse_header(bad, &h, &err), -1);
    memcpy(bad, want, 12);
    bad[2] = 0x80; /* flags */
    CHECK_EQ_INT(veil_yamux_parse_header(bad, &h, &err), -1);
    memcpy(bad, want, 12);
    bad[1] = 2; /* ping on a stream */
    CHECK_EQ_INT(veil_yamux_parse_header(bad, &h, &err), -1);
    memcpy(bad, want, 12);
    bad[7] = 0; /* data/window on stream 0 */
    CHECK_EQ_INT(veil_yamux_parse_header(bad, &h, &err), -1);
    veil_buf_free(&b);
}

/* Runs a Noise XX handshake between two in-memory peers. Returns 0 if both
 * completed. */
static int handshake(veil_noise_hs *i, veil_noise_hs *r, veil_err *err)
{
    veil_noise_hs *order[3] = {i, r, i};
    veil_noise_hs *other[3] = {r, i, r};
    for (int m = 0; m < 3; m++) {
        veil_buf b;
        veil_buf_init(&b);
        if (veil_noise_hs_write(order[m], &b, err) != 0 ||
            veil_noise_hs_read(other[m], b.data, b.len, err) != 0) {
            veil_buf_free(&b);
            return -1;
        }
        veil_buf_free(&b);
    }
    return 0;
}

static void test_noise(void)
{
    veil_p2p_keypair ka, kb;
    veil_p2p_keypair_generate(&ka, NULL);
    veil_p2p_keypair_generate(&kb, NULL);
    veil_noise_hs i, r;
    veil_noise_hs_init(&i, true, &ka);
    veil_noise_hs_init(&r, false, &kb);
    CHECK(veil_noise_hs_our_turn(&i));
    CHECK(!veil_noise_hs_our_turn(&r));
    veil_err err = {0};
    CHECK_EQ_INT(handshake(&i, &r, &err), 0);
    CHECK(veil_noise_hs_done(&i) && veil_noise_hs_done(&r));
    veil_p2p_peer_id ida, idb;
    veil_p2p_peer_id_from_ed25519(ka.public_key, &ida);
    veil_p2p_peer_id_from_ed25519(kb.public_key, &idb);
    CHECK(veil_p2p_peer_id_equal(&i.remote_id, &idb));
    CHECK(veil_p2p_peer_id_equal(&r.remote_id, &ida));
    veil_noise_cipher itx, irx, rtx, rrx;
    veil_noise_hs_split(&i, &itx, &irx);
    veil_noise_hs_split(&r, &rtx, &rrx);
    CHECK_EQ_MEM(itx.k, rrx.k, 32);
    CHECK_EQ_MEM(irx.k, rtx.k, 32);
    /* transport frames both ways, max size, tamper */
    static uint8_t big[VEIL_NOISE_MAX_PLAINTEXT];
    memset(big, 0x5a, sizeof big);
    veil_buf f, p;
    veil_buf_init(&f);
    veil_buf_init(&p);
    CHECK_EQ_INT(veil_noise_encrypt_frame(&itx, big, sizeof big, &f, NULL), 0);
    CHECK_EQ_INT(f.len, 65537);
    CHECK_EQ_INT(f.data[0], 0xff);
    CHECK_EQ_INT(veil_noise_decrypt(&rrx, f.data + 2, f.len - 2, &p, NULL), 0);
    CHECK(p.len == sizeof big && memcmp(p.data, big, sizeof big) == 0);
    CHECK_EQ_INT(veil_noise_encrypt_frame(&itx, big, sizeof big + 1, &f, &err), -1);
    veil_buf_reset(&f);
    veil_buf_reset(&p);
    CHECK_EQ_INT(veil_noise_encrypt_frame(&rtx, (const uint8_t *)"pong", 4, &f, NULL), 0);
    f.data[3] ^= 1;
    CHECK_EQ_INT(veil_noise_decrypt(&irx, f.data + 2, f.len - 2, &p, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    f.data[3] ^= 1;
    CHECK_EQ_INT(veil_noise_decrypt(&irx, f.data + 2, f.len - 2, &p, NULL), 0);
    CHECK(p.len == 4 && memcmp(p.data, "pong", 4) == 0);
    /* replay of the same frame fails (nonce moved on) */
    CHECK_EQ_INT(veil_noise_decrypt(&irx, f.data + 2, f.len - 2, &p, &err), -1);
    CHECK_EQ_INT(veil_noise_decrypt(&irx, f.data + 2, 3, &p, &err), -1);
    veil_buf_free(&f);
    veil_buf_free(&p);
    veil_noise_cipher_free(&itx);
    veil_noise_cipher_free(&irx);
    veil_noise_cipher_free(&rtx);
    veil_noise_cipher_free(&rrx);

    /* a responder that signs a different static key is rejected */
    veil_noise_hs_init(&i, true, &ka);
    veil_noise_hs_init(&r, false, &kb);
    r.test_bad_signature = true;
    CHECK_EQ_INT(handshake(&i, &r, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    /* an initiator that lies is rejected by the responder */
    veil_noise_hs_init(&i, true, &ka);
    veil_noise_hs_init(&r, false, &kb);
    i.test_bad_signature = true;
    CHECK_EQ_INT(handshake(&i, &r, &err), -1);
    /* a tampered message 2 fails authentication */
    veil_noise_hs_init(&i, true, &ka);
    veil_noise_hs_init(&r, false, &kb);
    veil_buf m;
    veil_buf_init(&m);
    CHECK_EQ_INT(veil_noise_hs_write(&i, &m, NULL), 0);
    CHECK_EQ_INT(veil_noise_hs_read(&r, m.data, m.len, NULL), 0);
    veil_buf_reset(&m);
    CHECK_EQ_INT(veil_noise_hs_write(&r, &m, NULL), 0);
    m.data[40] ^= 1;
    CHECK_EQ_INT(veil_noise_hs_read(&i, m.data, m.len, &err), -1);
    /* short messages */
    CHECK_EQ_INT(veil_noise_hs_read(&r, m.data, 10, &err), -1);
    veil_noise_hs_init(&r, false, &kb);
    CHECK_EQ_INT(veil_noise_hs_read(&r, m.data, 31, &err), -1);
    veil_buf_free(&m);
}

/* Identify: decode, key check, limits, and push merging (fields left out
 * keep their values). Messages built with protobuf field tags by hand. */
static void pb_field(veil_buf *b, unsigned field, const void *data, size_t len)
{
    veil_buf_put_uvarint(b, (uint64_t)field << 3 | 2);
    veil_buf_put_uvarint(b, len);
    veil_buf_put(b, data, len);
}

static void test_identify_decode(void)
{
    veil_p2p_keypair kp;
    vector_key(&kp);
    veil_p2p_peer_id peer;
    veil_p2p_peer_id_from_ed25519(kp.public_key, &peer);
    uint8_t pk[VEIL_P2P_ED25519_PUBKEY_PB_LEN];
    veil_p2p_pubkey_encode_ed25519(kp.public_key, pk);
    veil_p2p_multiaddr ma;
    veil_p2p_multiaddr_parse("/ip4/10.1.2.3/tcp/4001", &ma, NULL);
    veil_buf m;
    veil_buf_init(&m);
    pb_field(&m, 5, "ipfs/0.1.0", 10);
    pb_field(&m, 6, "agent/1", 7);
    pb_field(&m, 1, pk, sizeof pk);
    pb_field(&m, 2, ma.bytes, ma.len);
    pb_field(&m, 2, "\x99\x99\x01", 3); /* a transport we do not speak: skipped */
    pb_field(&m, 3, "/a/1", 4);
    pb_field(&m, 3, "/b/1", 4);
    pb_field(&m, 4, ma.bytes, ma.len);
    struct veil_p2p_identify_decoded d, p;
    CHECK_EQ_INT(veil_p2p_identify_decode(m.data, m.len, &peer, NULL, false, &d, NULL), 0);
    CHECK_EQ_STR(d.agent_version, "agent/1");
    CHECK_EQ_STR(d.protocol_version, "ipfs/0.1.0");
    CHECK_EQ_INT(d.n_protocols, 2);
    CHECK_EQ_STR(d.protocols[1], "/b/1");
    CHECK_EQ_INT(d.n_addrs, 1);
    CHECK(veil_p2p_multiaddr_equal(&d.addrs[0], &ma));
    CHECK(d.has_observed);

    /* push with only new protocols keeps the agent and addresses */
    struct veil_p2p_peer_info old = {.id = peer,
                                     .protocol_version = d.protocol_version,
                                     .agent_version = d.agent_version,
                                     .protocols = (const char *const *)d.protocols,
                                     .n_protocols = d.n_protocols,
                                     .listen_addrs = d.addrs,
                                     .n_listen_addrs = d.n_addrs};
    veil_buf push;
    veil_buf_init(&push);
    pb_field(&push, 3, "/c/1", 4);
    CHECK_EQ_INT(veil_p2p_identify_decode(push.data, push.len, &peer, &old, true, &p, NULL), 0);
    CHECK_EQ_INT(p.n_protocols, 1);
    CHECK_EQ_STR(p.protocols[0], "/c/1");
    CHECK_EQ_STR(p.agent_version, "agent/1");
    CHECK_EQ_INT(p.n_addrs, 1);
    veil_p2p_identify_decoded_free(&p);
    veil_p2p_identify_decoded_free(&d);

    /* somebody else's key */
    veil_p2p_keypair other;
    veil_p2p_keypair_generate(&other, NULL);
    veil_p2p_peer_id other_id;
    veil_p2p_peer_id_from_ed25519(other.public_key, &other_id);
    veil_err err = {0};
    CHECK_EQ_INT(veil_p2p_identify_decode(m.data, m.len, &other_id, NULL, false, &d, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    /* malformed protobuf */
    uint8_t bad[] = {0x0a, 0x7f, 'x'};
    CHECK_EQ_INT(veil_p2p_identify_decode(bad, sizeof bad, &peer, NULL, false, &d, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PARSE);
    /* too many protocols */
    veil_buf many;
    veil_buf_init(&many);
    for (int i = 0; i < 1100; i++)
        pb_field(&many, 3, "/x", 2);
    CHECK_EQ_INT(veil_p2p_identify_decode(many.data, many.len, &peer, NULL, false, &d, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    veil_buf_free(&many);
    veil_buf_free(&push);
    veil_buf_free(&m);
}

VTEST_MAIN(VTEST(test_peer_id_vectors), VTEST(test_pubkey_and_signature),
           VTEST(test_other_key_types), VTEST(test_keyfile), VTEST(test_multiaddr_vectors),
           VTEST(test_lp_reader), VTEST(test_lp_reader_drain), VTEST(test_multistream_lines), VTEST(test_yamux_header),
           VTEST(test_noise), VTEST(test_identify_decode))
