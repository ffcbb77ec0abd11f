// SPDX-License-Identifier: Apache-2.0
/*
 * test_chain_codec.c - known-answer tests for src/chain: Keccak-256 (empty,
 * short, one and several blocks), RLP (encoding and strict decoding), the
 * ABI (static and dynamic types, nested tuples and arrays, revert data),
 * EIP-55 addresses, transaction signing (vectors from `cast mktx`), Merkle
 * batches, keystore v3 decryption of the Web3 Secret Storage vectors, the
 * packed BatchAnchored log and getClusterPolicy's return data (the policy
 * with its shard size and redundancy).
 */
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

#include "vtest.h"

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    veil_hex_encode(out, 2 * n + 1, p, n);
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    if (strncmp(s, "0x", 2) == 0)
        s += 2;
    long n = veil_hex_decode(out, cap, s, strlen(s), false, NULL);
    return n < 0 ? 0 : (size_t)n;
}

static void check_keccak(const char *in, size_t len, const char *want)
{
    uint8_t h[32];
    char hex[65];
    veil_keccak256(in, len, h);
    hex_of(h, 32, hex);
    CHECK_EQ_STR(hex, want);
}

static void test_keccak(void)
{
    check_keccak("", 0, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    check_keccak("abc", 3, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    char buf[256];
    memset(buf, 'x', 136); /* exactly one rate block: padding goes in a second block */
    check_keccak(buf, 136, "50da8ef3747b7a7f01d08563aa11c72a2a668563fb928adc6e8d2a1ab4e36096");
    memset(buf, 'a', 200);
    check_keccak(buf, 200, "96ea54061def936c4be90b518992fdc6f12f535068a256229aca54267b4d084d");
    /* Incremental updates give the same digest. */
    veil_keccak k;
    uint8_t h1[32], h2[32];
    veil_keccak_init(&k);
    for (int i = 0; i < 200; i++)
        veil_keccak_update(&k, "a", 1);
    veil_keccak_final(&k, h1);
    veil_keccak256(buf, 200, h2);
    CHECK_EQ_MEM(h1, h2, 32);
    uint8_t sel[4];
    veil_abi_selector("transfer(address,uint256)", sel);
    CHECK(sel[0] == 0xa9 && sel[1] == 0x05 && sel[2] == 0x9c && sel[3] == 0xbb);
}

static void test_rlp(void)
{
    /* ["", 0x00, 0x7f, 0x80, [0x0102]] (cast to-rlp) */
    veil_buf b, inner, l;
    veil_buf_init(&b);
    veil_buf_init(&inner);
    veil_buf_init(&l);
    uint8_t z = 0x00, s7f = 0x7f, s80 = 0x80, two[2] = {1, 2};
    veil_rlp_put_bytes(&inner, NULL, 0);
    veil_rlp_put_bytes(&inner, &z, 1);
    veil_rlp_put_bytes(&inner, &s7f, 1);
    veil_rlp_put_bytes(&inner, &s80, 1);
    veil_rlp_put_bytes(&l, two, 2);
    veil_rlp_put_list(&inner, l.data, l.len);
    veil_rlp_put_list(&b, inner.data, inner.len);
    char hex[512];
    hex_of(b.data, b.len, hex);
    CHECK_EQ_STR(hex, "c980007f8180c3820102");
    /* 60-byte string uses the long form 0xb8 0x3c. */
    uint8_t sixty[60];
    memset(sixty, 0xab, sizeof sixty);
    veil_buf_reset(&b);
    veil_rlp_put_bytes(&b, sixty, sizeof sixty);
    CHECK(b.len == 62 && b.data[0] == 0xb8 && b.data[1] == 0x3c);
    veil_buf_reset(&b);
    veil_rlp_put_uint(&b, 0);
    veil_rlp_put_uint(&b, 1024);
    CHECK(b.len == 4 && b.data[0] == 0x80 && b.data[1] == 0x82 && b.data[2] == 0x04);

    /* Decoding: the list above, then malformed inputs. */
    uint8_t enc[16];
    size_t n = unhex("c980007f8180c3820102", enc, sizeof enc);
    veil_reader r;
    veil_rlp_item it;
    veil_err err = {0};
    veil_reader_init(&r, enc, n);
    CHECK(veil_rlp_read(&r, &it, &err) == 0 && it.kind == VEIL_RLP_LIST && it.len == 9);
    veil_reader lr;
    veil_reader_init(&lr, it.payload, it.len);
    uint64_t v = 99;
    CHECK(veil_rlp_read(&lr, &it, &err) == 0 && veil_rlp_item_uint(&it, &v, &err) == 0 && v == 0);
    CHECK(veil_rlp_read(&lr, &it, &err) == 0 && it.len == 1 && it.payload[0] == 0);
    CHECK(veil_rlp_item_uint(&it, &v, &err) == -1); /* 0x00 is not a canonical integer */
    static const char *bad[] = {"81", "8100", "b800", "b90001", "c2", "f800", "b8380000"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        uint8_t in[8];
        size_t m = unhex(bad[i], in, sizeof in);
        veil_reader_init(&r, in, m);
        CHECK(veil_rlp_read(&r, &it, &err) == -1);
    }
    veil_buf_free(&b);
    veil_buf_free(&inner);
    veil_buf_free(&l);
}

static const char *abi_vector = "0000000000000000000000000000000000000000000000000000000000000007"
                                "0000000000000000000000000000000000000000000000000000000000000080"
                                "00000000000000000000000000000000000000000000000000000000000000c0"
                                "0000000000000000000000000000000000000000000000000000000000000140"
                                "0000000000000000000000000000000000000000000000000000000000000005"
                                "68656c6c6f000000000000000000000000000000000000000000000000000000"
                                "0000000000000000000000000000000000000000000000000000000000000003"
                                "0000000000000000000000000000000000000000000000000000000000000001"
                                "0000000000000000000000000000000000000000000000000000000000000002"
                                "0000000000000000000000000000000000000000000000000000000000000003"
                                "00000000000000000000000000000000000000000000000000000000000000aa"
                                "0000000000000000000000000000000000000000000000000000000000000040"
                                "0000000000000000000000000000000000000000000000000000000000000001"
                                "0000000000000000000000000000000000000000000000000000000000000001";

static void test_abi(void)
{
    /* cast abi-encode "f(uint64,string,uint32[],(address,bytes32[]))" 7 hello [1,2,3] (0xaa,[1]) */
    veil_abi_type *t;
    veil_err err = {0};
    CHECK(veil_abi_type_parse("(uint64,string,uint32[],(address,bytes32[]))", &t, &err) == 0);
    veil_abi_value v;
    veil_abi_set_list(&v, VEIL_ABI_TUPLE, 4);
    veil_abi_set_uint(&v.items[0], 7);
    veil_abi_set_string(&v.items[1], "hello");
    veil_abi_set_list(&v.items[2], VEIL_ABI_ARRAY, 3);
    for (int i = 0; i < 3; i++)
        veil_abi_set_uint(&v.items[2].items[i], (uint64_t)i + 1);
    veil_abi_set_list(&v.items[3], VEIL_ABI_TUPLE, 2);
    uint8_t a[20] = {0};
    a[19] = 0xaa;
    veil_abi_set_address(&v.items[3].items[0], a);
    veil_abi_set_list(&v.items[3].items[1], VEIL_ABI_ARRAY, 1);
    veil_abi_set_uint(&v.items[3].items[1].items[0], 1);
    v.items[3].items[1].items[0].kind = VEIL_ABI_FIXED_BYTES;
    veil_buf out;
    veil_buf_init(&out);
    CHECK(veil_abi_encode(t, &v, &out, &err) == 0);
    char *hex = malloc(2 * out.len + 1);
    hex_of(out.data, out.len, hex);
    CHECK_EQ_STR(hex, abi_vector);
    free(hex);

    /* Round trip through the decoder and the formatter. */
    veil_abi_value d;
    CHECK(veil_abi_decode(t, out.data, out.len, &d, &err) == 0);
    veil_buf f;
    veil_buf_init(&f);
    veil_abi_value_format(&d, &f);
    veil_buf_put_u8(&f, 0);
    CHECK_EQ_STR((const char *)f.data,
                 "(7, \"hello\", [1, 2, 3], (0x00000000000000000000000000000000000000AA, "
                 "[0x0000000000000000000000000000000000000000000000000000000000000001]))");
    veil_abi_value_clear(&d);
    /* Truncations and bad offsets fail cleanly. */
    for (size_t cut = 0; cut < out.len; cut += 31)
        CHECK(veil_abi_decode(t, out.data, cut, &d, &err) == -1);
    out.data[63] = 0xff; /* string offset past the end */
    CHECK(veil_abi_decode(t, out.data, out.len, &d, &err) == -1);
    uint8_t dirty[32] = {0};
    dirty[0] = 1;
    CHECK(veil_abi_decode_text("(uint64)", dirty, 32, &d, &err) == -1);
    dirty[0] = 0;
    dirty[31] = 2;
    CHECK(veil_abi_decode_text("(bool)", dirty, 32, &d, &err) == -1);
    veil_abi_type_free(t);
    CHECK(veil_abi_type_parse("(uint7)", &t, &err) == -1);
    CHECK(veil_abi_type_parse("(uint64", &t, &err) == -1);
    CHECK(veil_abi_type_parse("bytes33", &t, &err) == -1);
    veil_abi_value_clear(&v);
    veil_buf_free(&out);
    veil_buf_free(&f);
    veil_abi_type *t2;
    CHECK(veil_abi_type_parse("(uint64,string,uint32[],(address,bytes32[]))", &t2, &err) == 0);
    veil_abi_type_free(t2);

    /* Revert data: Error(string), Panic(uint256), a custom error. */
    char msg[256];
    uint8_t rd[200];
    size_t n = unhex("08c379a0"
                     "0000000000000000000000000000000000000000000000000000000000000020"
                     "0000000000000000000000000000000000000000000000000000000000000004"
                     "6e6f706500000000000000000000000000000000000000000000000000000000",
                     rd, sizeof rd);
    veil_abi_decode_revert(rd, n, NULL, 0, msg, sizeof msg);
    CHECK_EQ_STR(msg, "reverted: \"nope\"");
    n = unhex("4e487b71"
              "0000000000000000000000000000000000000000000000000000000000000011",
              rd, sizeof rd);
    veil_abi_decode_revert(rd, n, NULL, 0, msg, sizeof msg);
    CHECK_EQ_STR(msg, "panic 0x11 (arithmetic overflow or underflow)");
    veil_buf call;
    veil_buf_init(&call);
    veil_abi_value args;
    veil_abi_set_list(&args, VEIL_ABI_TUPLE, 2);
    veil_abi_set_uint(&args.items[0], 3);
    veil_abi_set_address(&args.items[1], a);
    CHECK(veil_abi_encode_call("NotActiveNode(uint64,address)", &args, &call, &err) == 0);
    veil_abi_decode_revert(call.data, call.len, veil_contract_errors, veil_contract_errors_len, msg,
                           sizeof msg);
    CHECK_EQ_STR(msg, "NotActiveNode(3, 0x00000000000000000000000000000000000000AA)");
    veil_abi_value_clear(&args);
    veil_buf_free(&call);
}

/* Vectors from cast: `cast abi-encode "f(int8,int256[2],bytes3)" -- -5 "[-1,300]" 0x010203`,
 * the contract's anchorId and deploymentLeaf via cast keccak. */
static void test_abi_more(void)
{
    veil_abi_type *t;
    veil_err err = {0};
    CHECK(veil_abi_type_parse("(int8,int256[2],bytes3)", &t, &err) == 0);
    uint8_t enc[160];
    size_t n = unhex("fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffb"
                     "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                     "000000000000000000000000000000000000000000000000000000000000012c"
                     "0102030000000000000000000000000000000000000000000000000000000000",
                     enc, sizeof enc);
    veil_abi_value v;
    CHECK(veil_abi_decode(t, enc, n, &v, &err) == 0);
    veil_buf f;
    veil_buf_init(&f);
    veil_abi_value_format(&v, &f);
    veil_buf_put_u8(&f, 0);
    CHECK_EQ_STR((const char *)f.data,
                 "(-5, [-1, 300], "
                 "0x0102030000000000000000000000000000000000000000000000000000000000)");
    veil_buf out;
    veil_buf_init(&out);
    CHECK(veil_abi_encode(t, &v, &out, &err) == 0);
    CHECK(out.len == n && memcmp(out.data, enc, n) == 0);
    enc[127] = 1; /* dirty bytes3 padding */
    veil_abi_value bad;
    CHECK(veil_abi_decode(t, enc, n, &bad, &err) == -1);
    enc[127] = 0;
    enc[0] = 0x7f; /* int8 sign extension broken */
    CHECK(veil_abi_decode(t, enc, n, &bad, &err) == -1);
    veil_abi_value_clear(&v);
    veil_abi_type_free(t);
    veil_buf_free(&f);
    veil_buf_free(&out);

    uint8_t a[32] = {0}, b[32], id[32], want[32];
    a[31] = 9;
    memset(b, 0xab, 32);
    veil_contract_anchor_id(1, 7, a, b, id);
    unhex("ba95d7ba8b097ae0535d89ec84416e5526efcf705c0d6960d4f2068837d70fdb", want, 32);
    CHECK_EQ_MEM(id, want, 32);
    memset(a, 0x01, 32);
    memset(b, 0x02, 32);
    veil_chain_merkle_leaf(7, a, b, id);
    unhex("66e7187383e11053b56443243e859777fefd4349656199df4c93e0771d1607c5", want, 32);
    CHECK_EQ_MEM(id, want, 32);
}

static void test_address(void)
{
    veil_eth_address a;
    veil_err err = {0};
    char text[43];
    CHECK(veil_eth_address_parse("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359", &a, &err) == 0);
    veil_eth_address_format(&a, text);
    CHECK_EQ_STR(text, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
    CHECK(veil_eth_address_parse("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", &a, &err) == 0);
    CHECK(veil_eth_address_parse("0xFB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", &a, &err) == -1);
    CHECK(err.code == VEIL_E_CRYPTO);
    CHECK(veil_eth_address_parse("0xfb69", &a, &err) == -1);
    uint8_t sk[32];
    unhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", sk, 32);
    veil_eth_key key;
    CHECK(veil_eth_key_from_secret(&key, sk, &err) == 0);
    veil_eth_address_format(&key.address, text);
    CHECK_EQ_STR(text, "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
    uint8_t zero[32] = {0};
    CHECK(veil_eth_key_from_secret(&key, zero, &err) == -1);
}

static void check_tx(enum veil_tx_type type, const char *want)
{
    uint8_t sk[32];
    unhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", sk, 32);
    veil_eth_key key;
    veil_err err = {0};
    CHECK(veil_eth_key_from_secret(&key, sk, &err) == 0);
    uint8_t data[4] = {0xde, 0xad, 0xbe, 0xef};
    veil_tx tx = {.type = type,
                  .chain_id = 1,
                  .nonce = 7,
                  .gas_limit = 50000,
                  .gas_price = 30000000000ull,
                  .max_fee_per_gas = 30000000000ull,
                  .max_priority_fee_per_gas = 2000000000ull,
                  .has_to = true,
                  .data = data,
                  .data_len = 4};
    tx.to.b[19] = 0xaa;
    tx.value[30] = 0x30;
    tx.value[31] = 0x39;
    veil_buf raw;
    veil_buf_init(&raw);
    uint8_t h[32];
    CHECK(veil_tx_sign(&tx, &key, &raw, h, &err) == 0);
    char hex[512];
    hex_of(raw.data, raw.len, hex);
    CHECK_EQ_STR(hex, want);
    veil_tx back;
    veil_eth_address from;
    CHECK(veil_tx_decode(raw.data, raw.len, &back, &from, &err) == 0);
    CHECK_EQ_MEM(from.b, key.address.b, 20);
    CHECK(back.nonce == 7 && back.gas_limit == 50000 && back.chain_id == 1 && back.data_len == 4);
    raw.data[raw.len - 1] ^= 1; /* a different s recovers someone else or fails */
    if (veil_tx_decode(raw.data, raw.len, &back, &from, &err) == 0)
        CHECK(memcmp(from.b, key.address.b, 20) != 0);
    veil_buf_free(&raw);
}

static void test_tx(void)
{
    /* cast mktx --private-key 0x4c08...2318 --chain 1 --nonce 7 --gas-limit 50000
     *   --gas-price 30000000000 --priority-gas-price 2000000000 --value 12345 0x..aa 0xdeadbeef */
    check_tx(
        VEIL_TX_EIP1559,
        "02f871010784773594008506fc23ac0082c3509400000000000000000000000000000000000000aa823039"
        "84deadbeefc080a0c81cb7ad67d1d8d05cb5512a5d283b26ba20e30d70d6e9805a4dfd9ba25cc802a04db5"
        "3490fa8e92be3304476a9d395e5739151094f32e7dd9f085bafacdf77ca2");
    /* the same with --legacy */
    check_tx(
        VEIL_TX_LEGACY,
        "f86a078506fc23ac0082c3509400000000000000000000000000000000000000aa82303984deadbeef25a0"
        "45479784963eb1c44e1ca32f4258966d305c0a2b5596d67caedc8d729fccd3e7a00fa12fbe19694190c05f"
        "38d3695e1e73084a7d1abc8ef7d28b12b9eb70ace01a");
}

static void test_merkle(void)
{
    uint8_t leaves[5][32], job[32] = {0}, ah[32] = {0};
    for (int i = 0; i < 5; i++) {
        job[31] = (uint8_t)i;
        ah[0] = (uint8_t)(i + 1);
        veil_chain_merkle_leaf(1, job, ah, leaves[i]);
    }
    veil_err err = {0};
    for (size_t n = 1; n <= 5; n++) {
        uint8_t root[32], proof[8][32];
        CHECK(veil_chain_merkle_root((const uint8_t(*)[32])leaves, n, root, &err) == 0);
        for (size_t i = 0; i < n; i++) {
            size_t np = 0;
            CHECK(veil_chain_merkle_proof((const uint8_t(*)[32])leaves, n, i, proof, 8, &np,
                                          &err) == 0);
            CHECK(veil_chain_merkle_verify(root, leaves[i], (const uint8_t(*)[32])proof, np));
            if (n > 1)
                CHECK(!veil_chain_merkle_verify(root, leaves[(i + 1) % n],
                                                (const uint8_t(*)[32])proof, np) ||
                      np == 0);
        }
    }
    CHECK(veil_chain_merkle_root((const uint8_t(*)[32])leaves, 0, job, &err) == -1);
}

/* Web3 Secret Storage Definition pbkdf2 test vector (password "testpassword"). */
static const char *ks_pbkdf2 =
    "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
    "\"6087dab2f9fdbbfaddc31a909735c1e6\"},\"ciphertext\":"
    "\"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46\",\"kdf\":\"pbkdf2\","
    "\"kdfparams\":{\"c\":262144,\"dklen\":32,\"prf\":\"hmac-sha256\",\"salt\":"
    "\"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd\"},\"mac\":"
    "\"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2\"},\"id\":"
    "\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";
/* Written by `cast wallet import vec --private-key 0x7a28...fe9d --unsafe-password
 * testpassword` (foundry 1.7.1): scrypt n=8192, r=8, p=1. */
static const char *ks_scrypt =
    "{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":"
    "\"1f81bc09b3169303721197381a89a1a4\"},\"ciphertext\":"
    "\"71949dcad82131203c88985babfe0e2f87f6189059dc9a33ebaa461167bff51c\",\"kdf\":\"scrypt\","
    "\"kdfparams\":{\"dklen\":32,\"n\":8192,\"p\":1,\"r\":8,\"salt\":"
    "\"c85636635c44326e97f946fb35c220f903df70f58a221581a653687f91d397d9\"},\"mac\":"
    "\"2f43c702d8df149f068a56d2e87b4af44d41663832633dd7277908de0f8891e4\"},\"id\":"
    "\"5d6f645b-0f24-4ae8-a5d6-ce6e9e5c6dbb\",\"version\":3}";

static void test_keystore(void)
{
    veil_eth_key key;
    veil_err err = {0};
    uint8_t want[32];
    unhex("7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d", want, 32);
    CHECK(veil_keystore_decrypt(ks_pbkdf2, strlen(ks_pbkdf2), "testpassword", &key, &err) == 0);
    CHECK_EQ_MEM(key.secret, want, 32);
    CHECK(veil_keystore_decrypt(ks_scrypt, strlen(ks_scrypt), "testpassword", &key, &err) == 0);
    CHECK_EQ_MEM(key.secret, want, 32);
    CHECK(veil_keystore_decrypt(ks_pbkdf2, strlen(ks_pbkdf2), "wrong", &key, &err) == -1);
    CHECK_CONTAINS(err.msg, "wrong password");
    /* Our own files round-trip (cheap scrypt for the test). */
    veil_keystore_params p = {10, 8, 1};
    char *json;
    CHECK(veil_eth_key_generate(&key, &err) == 0);
    CHECK(veil_keystore_encrypt(&key, "pw", &p, &json, &err) == 0);
    veil_eth_key back;
    CHECK(veil_keystore_decrypt(json, strlen(json), "pw", &back, &err) == 0);
    CHECK_EQ_MEM(back.secret, key.secret, 32);
    CHECK_EQ_MEM(back.address.b, key.address.b, 20);
    free(json);
    CHECK(veil_keystore_decrypt("{}", 2, "pw", &back, &err) == -1);
    CHECK(veil_keystore_decrypt("[1]", 3, "pw", &back, &err) == -1);
}

/* The anonymous BatchAnchored log and the packed anchorBatch word (values
 * from `cast keccak "BatchAnchored(uint64,bytes32,uint256)"` and
 * `cast sig "anchorBatch_lqy32(bytes32,uint256)"`, as VeilRegistry.sol and
 * its forge tests use them). */
static void test_batch_log(void)
{
    uint8_t sel[4];
    veil_abi_selector("anchorBatch_lqy32(bytes32,uint256)", sel);
    CHECK(sel[0] == 0 && sel[1] == 0 && sel[2] == 0 && sel[3] == 0xf6);

    uint8_t t0[32], want[32];
    veil_contract_batch_topic(0x0102030405060708ULL, t0);
    unhex("ac8299ac70f7b9dcae1b524b96f3906836b4ceeace57c1d10102030405060708", want, 32);
    CHECK_EQ_MEM(t0, want, 32);

    uint8_t w[32];
    veil_contract_batch_word(1, 176350000, 256, w);
    unhex("0000000000000000000000000000000000000001000000000a82e33000000100", want, 32);
    CHECK_EQ_MEM(w, want, 32);

    uint8_t data[64];
    memset(data, 0xab, 32);
    memcpy(data + 32, w, 32);
    veil_eth_log log = {.n_topics = 1, .data = data, .data_len = 64};
    veil_contract_batch_topic(1, log.topics[0]);
    veil_contract_batch b;
    veil_err err = {0};
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == 0);
    CHECK(b.cluster_id == 1 && b.epoch == 176350000 && b.count == 256);
    CHECK(b.merkle_root[0] == 0xab && b.merkle_root[31] == 0xab);
    veil_buf d;
    veil_buf_init(&d);
    CHECK(veil_contract_describe_log(&log, &d) == 0);
    veil_buf_put_u8(&d, 0);
    CHECK_EQ_STR((const char *)d.data,
                 "BatchAnchored cluster=1 epoch=176350000 merkle_root=0x"
                 "abababababababababababababababababababababababababababababababab count=256");
    veil_buf_free(&d);

    /* Malformed: every check refuses, and describe_log does not claim it. */
    veil_buf_init(&d);
    log.topics[0][24 + 7] = 2; /* cluster 2 in the topic, 1 in the data */
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == -1);
    CHECK_CONTAINS(err.msg, "cluster 1 in the data, 2 in the topic");
    CHECK(veil_contract_describe_log(&log, &d) == -1);
    veil_contract_batch_topic(1, log.topics[0]);
    data[32] = 1; /* a bit above 160 */
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == -1);
    CHECK(err.code == VEIL_E_PROTOCOL);
    data[32] = 0;
    log.data_len = 63;
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == -1);
    CHECK_CONTAINS(err.msg, "63 bytes");
    log.data_len = 64;
    log.n_topics = 2;
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == -1);
    log.n_topics = 1;
    log.topics[0][0] ^= 1; /* another event's topic0 */
    CHECK(veil_contract_decode_batch_log(&log, &b, &err) == -1);
    CHECK(err.code == VEIL_E_INVALID);
    CHECK(veil_contract_describe_log(&log, &d) == -1);
    veil_buf_free(&d);
}

/* NodeRegistered / NodeDeactivated, decoded from their indexed topics (the
 * connection gater of veild follows them). */
static void test_node_log(void)
{
    const char *reg_sig = "NodeRegistered(uint64,address,address,bytes)";
    const char *deact_sig = "NodeDeactivated(uint64,address,address)";
    veil_eth_log log = {.n_topics = 4};
    veil_keccak256(reg_sig, strlen(reg_sig), log.topics[0]);
    log.topics[1][31] = 7;                 /* cluster 7 */
    memset(log.topics[2] + 12, 0x5a, 20); /* node 0x5a5a... */
    memset(log.topics[3] + 12, 0x11, 20); /* operator */
    veil_contract_node_event ev;
    CHECK(veil_contract_decode_node_log(&log, &ev) == 0);
    CHECK(ev.registered && ev.cluster_id == 7);
    CHECK(ev.node.b[0] == 0x5a && ev.node.b[19] == 0x5a);

    log.n_topics = 3; /* NodeRegistered always indexes the operator */
    CHECK(veil_contract_decode_node_log(&log, &ev) == -1);
    veil_keccak256(deact_sig, strlen(deact_sig), log.topics[0]);
    CHECK(veil_contract_decode_node_log(&log, &ev) == 0);
    CHECK(!ev.registered && ev.cluster_id == 7 && ev.node.b[5] == 0x5a);
    log.n_topics = 4;
    CHECK(veil_contract_decode_node_log(&log, &ev) == -1);
    log.n_topics = 3;
    log.topics[2][11] = 1; /* an address with bits above 160 */
    CHECK(veil_contract_decode_node_log(&log, &ev) == -1);
    log.topics[2][11] = 0;
    log.topics[1][23] = 1; /* a cluster id above 64 bits */
    CHECK(veil_contract_decode_node_log(&log, &ev) == -1);
    log.topics[1][23] = 0;
    log.topics[0][0] ^= 1; /* another event */
    CHECK(veil_contract_decode_node_log(&log, &ev) == -1);
}

/* PolicyChanged: the cluster from its indexed topic, the version from the
 * data (veild reloads its cached policy on it). */
static void test_policy_log(void)
{
    const char *sig = "PolicyChanged(uint64,uint64,uint256)";
    uint8_t data[64] = {0};
    veil_eth_log log = {.n_topics = 2, .data = data, .data_len = sizeof data};
    veil_keccak256(sig, strlen(sig), log.topics[0]);
    log.topics[1][31] = 3; /* cluster 3 */
    data[30] = 1;
    data[31] = 2; /* version 258 */
    data[63] = 9; /* proposal 9 */
    veil_contract_policy_event ev;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == 0);
    CHECK(ev.cluster_id == 3 && ev.version == 258);
    data[0] = 0xff; /* any uint256 proposal id is fine */
    data[32] = 0xff;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
    data[0] = 0;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == 0);
    data[23] = 1; /* a version above 64 bits */
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
    data[23] = 0;
    log.topics[1][23] = 1; /* a cluster id above 64 bits */
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
    log.topics[1][23] = 0;
    log.data_len = 63;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
    log.data_len = 64;
    log.n_topics = 3;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
    log.n_topics = 2;
    CHECK(veil_contract_decode_policy_log(&log, &ev) == 0);
    log.topics[0][0] ^= 1; /* another event */
    CHECK(veil_contract_decode_policy_log(&log, &ev) == -1);
}

/* getClusterPolicy's return data: the encoding equals `cast abi-encode`'s
 * (its keccak256 below), decodes back field by field, and the strict decoder
 * refuses a shard size above 32 bits, a redundancy or scheduling switches
 * above 8 bits and a truncated answer. */
static void test_policy_codec(void)
{
    uint8_t img[1][32], fhe[32], h[32];
    uint32_t weights[2] = {3, 7};
    veil_eth_address dec;
    memset(img, 0xab, sizeof img);
    memset(fhe, 0xcd, sizeof fhe);
    CHECK(veil_eth_address_parse("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", &dec, NULL) == 0);
    veil_contract_policy p = {.image_digests = img,
                              .n_image_digests = 1,
                              .scheduler_policy = "binpack",
                              .weights = weights,
                              .n_weights = 2,
                              .decryptors = &dec,
                              .n_decryptors = 1,
                              .outcomes_per_period = 5,
                              .outcome_period_s = 120,
                              .shard_size = 16,
                              .shard_redundancy = 3,
                              .sched_flags = VEIL_POLICY_SCHED_NO_NODE_KEYS,
                              .version = 2};
    memcpy(p.fhe_key_hash, fhe, 32);
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_contract_policy_encode(&p, &b, NULL) == 0);
    CHECK(b.len == 736);
    char hex[65];
    veil_keccak256(b.data, b.len, h);
    hex_of(h, 32, hex);
    /* cast abi-encode "f((bytes32[],string,uint32[],bytes32,address[],bytes32[],
     * uint32,uint32,uint32,uint8,uint8),uint64)" "([0xab..],\"binpack\",[3,7],0xcd..,
     * [0x7099..79C8],[],5,120,16,3,2)" 2 | cast keccak */
    CHECK_EQ_STR(hex, "eac54f1b9e0f309082495b8f41434ec33d8ef62771ca992f10765c0e144ee190");
    veil_contract_policy got;
    CHECK(veil_contract_policy_decode(b.data, b.len, &got, NULL) == 0);
    CHECK(got.shard_size == 16 && got.shard_redundancy == 3 && got.version == 2);
    CHECK(got.sched_flags == VEIL_POLICY_SCHED_NO_NODE_KEYS);
    CHECK(got.outcomes_per_period == 5 && got.outcome_period_s == 120);
    CHECK(got.n_image_digests == 1 && memcmp(got.image_digests[0], img[0], 32) == 0);
    CHECK(got.n_weights == 2 && got.weights[1] == 7 && got.n_guardian_keys == 0);
    CHECK(got.n_decryptors == 1 && memcmp(got.decryptors[0].b, dec.b, 20) == 0);
    CHECK_EQ_STR(got.scheduler_policy, "binpack");
    CHECK(memcmp(got.fhe_key_hash, fhe, 32) == 0);
    veil_contract_policy_clear(&got);
    /* policy head at byte 64: word 8 is shardSize, word 9 shardRedundancy,
     * word 10 schedFlags */
    veil_err err = {0};
    b.data[64 + 9 * 32 + 30] = 1; /* redundancy 259 */
    CHECK(veil_contract_policy_decode(b.data, b.len, &got, &err) == -1);
    CHECK(strstr(err.msg, "uint8 out of range") != NULL);
    CHECK(got.scheduler_policy == NULL);
    b.data[64 + 9 * 32 + 30] = 0;
    b.data[64 + 10 * 32 + 30] = 1; /* switches 258 */
    CHECK(veil_contract_policy_decode(b.data, b.len, &got, &err) == -1);
    CHECK(strstr(err.msg, "uint8 out of range") != NULL);
    b.data[64 + 10 * 32 + 30] = 0;
    b.data[64 + 8 * 32 + 27] = 1; /* shard size 2^32 + 16 */
    CHECK(veil_contract_policy_decode(b.data, b.len, &got, NULL) == -1);
    b.data[64 + 8 * 32 + 27] = 0;
    CHECK(veil_contract_policy_decode(b.data, b.len - 32, &got, NULL) == -1);
    CHECK(veil_contract_policy_decode(b.data, b.len, &got, NULL) == 0);
    veil_contract_policy_clear(&got);
    veil_buf_free(&b);
}

VTEST_MAIN(VTEST(test_keccak), VTEST(test_rlp), VTEST(test_abi), VTEST(test_abi_more),
           VTEST(test_address), VTEST(test_tx), VTEST(test_merkle), VTEST(test_keystore),
           VTEST(test_batch_log), VTEST(test_node_log), VTEST(test_policy_log),
           VTEST(test_policy_codec))
