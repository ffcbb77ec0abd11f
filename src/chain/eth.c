// SPDX-License-Identifier: Apache-2.0
/*
 * eth.c - Ethereum keys, addresses and transactions: secp256k1 keys and
 * recoverable signatures (libsecp256k1 + its recovery module; RFC 6979
 * nonces, low-s as libsecp256k1 always produces), addresses (last 20 bytes
 * of keccak256 of the uncompressed public key) with EIP-55 checksums, and
 * legacy (EIP-155) and EIP-1559 (type 2, EIP-2718 envelope) transactions.
 */
#include <pthread.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <veil/chain.h>

static secp256k1_context *g_ctx;
static pthread_once_t g_ctx_once = PTHREAD_ONCE_INIT;

static void make_ctx(void)
{
    g_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (g_ctx) {
        uint8_t seed[32];
        veil_random_bytes(seed, sizeof seed);
        /* Blinding against side channels (libsecp256k1 README). */
        if (!secp256k1_context_randomize(g_ctx, seed)) {
            /* still usable without blinding */
        }
        veil_memzero(seed, sizeof seed);
    }
}

static secp256k1_context *ctx(void)
{
    pthread_once(&g_ctx_once, make_ctx);
    return g_ctx;
}

/* ------------------------------------------------------------------ addresses */

void veil_eth_address_format(const veil_eth_address *a, char out[43])
{
    static const char hexd[] = "0123456789abcdef";
    char lower[41];
    for (int i = 0; i < 20; i++) {
        lower[2 * i] = hexd[a->b[i] >> 4];
        lower[2 * i + 1] = hexd[a->b[i] & 15];
    }
    lower[40] = '\0';
    /* EIP-55: uppercase a letter when the matching nibble of
     * keccak256(lowercase hex) is >= 8. */
    uint8_t h[32];
    veil_keccak256(lower, 40, h);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        char c = lower[i];
        unsigned nib = (i % 2 == 0) ? (h[i / 2] >> 4) : (h[i / 2] & 15);
        if (c >= 'a' && c <= 'f' && nib >= 8)
            c = (char)(c - 'a' + 'A');
        out[2 + i] = c;
    }
    out[42] = '\0';
}

int veil_eth_address_parse(const char *text, veil_eth_address *out, veil_err *err)
{
    if (!text || strncmp(text, "0x", 2) != 0 || strlen(text) != 42)
        return veil_err_set(err, VEIL_E_PARSE, "address must be 0x followed by 40 hex digits");
    bool has_lower = false, has_upper = false;
    for (int i = 2; i < 42; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'f')
            has_lower = true;
        else if (c >= 'A' && c <= 'F')
            has_upper = true;
    }
    if (veil_hex_decode(out->b, sizeof out->b, text + 2, 40, false, err) != 20)
        return veil_err_set(err, VEIL_E_PARSE, "address '%s' is not 40 hex digits", text);
    if (has_lower && has_upper) {
        char canon[43];
        veil_eth_address_format(out, canon);
        if (strcmp(canon, text) != 0)
            return veil_err_set(err, VEIL_E_CRYPTO, "address '%s' has a bad EIP-55 checksum", text);
    }
    return 0;
}

/* ------------------------------------------------------------------ keys */

static void address_from_pubkey(const secp256k1_pubkey *pk, veil_eth_address *out)
{
    uint8_t ser[65];
    size_t n = sizeof ser;
    secp256k1_ec_pubkey_serialize(ctx(), ser, &n, pk, SECP256K1_EC_UNCOMPRESSED);
    uint8_t h[32];
    veil_keccak256(ser + 1, 64, h);
    memcpy(out->b, h + 12, 20);
}

int veil_eth_key_from_secret(veil_eth_key *key, const uint8_t secret[32], veil_err *err)
{
    if (!ctx())
        return veil_err_set(err, VEIL_E_INTERNAL, "secp256k1 context unavailable");
    secp256k1_pubkey pk;
    if (!secp256k1_ec_seckey_verify(ctx(), secret) ||
        !secp256k1_ec_pubkey_create(ctx(), &pk, secret))
        return veil_err_set(err, VEIL_E_CRYPTO, "not a valid secp256k1 private key");
    memmove(key->secret, secret, 32);
    address_from_pubkey(&pk, &key->address);
    return 0;
}

int veil_eth_key_generate(veil_eth_key *key, veil_err *err)
{
    uint8_t s[32];
    for (int tries = 0; tries < 16; tries++) {
        veil_random_bytes(s, sizeof s);
        if (veil_eth_key_from_secret(key, s, NULL) == 0) {
            veil_memzero(s, sizeof s);
            return 0;
        }
    }
    veil_memzero(s, sizeof s);
    return veil_err_set(err, VEIL_E_CRYPTO, "could not generate a key");
}

void veil_eth_key_wipe(veil_eth_key *key)
{
    veil_memzero(key, sizeof *key);
}

int veil_eth_sign_hash(const veil_eth_key *key, const uint8_t hash[32], uint8_t r[32],
                       uint8_t s[32], int *recid, veil_err *err)
{
    secp256k1_ecdsa_recoverable_signature sig;
    if (!ctx() || !secp256k1_ecdsa_sign_recoverable(ctx(), &sig, hash, key->secret, NULL, NULL))
        return veil_err_set(err, VEIL_E_CRYPTO, "signing failed");
    uint8_t rs[64];
    secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx(), rs, recid, &sig);
    memcpy(r, rs, 32);
    memcpy(s, rs + 32, 32);
    return 0;
}

int veil_eth_recover(const uint8_t hash[32], const uint8_t r[32], const uint8_t s[32], int recid,
                     veil_eth_address *out, veil_err *err)
{
    if (recid < 0 || recid > 3)
        return veil_err_set(err, VEIL_E_CRYPTO, "bad recovery id %d", recid);
    uint8_t rs[64];
    memcpy(rs, r, 32);
    memcpy(rs + 32, s, 32);
    secp256k1_ecdsa_recoverable_signature sig;
    secp256k1_pubkey pk;
    if (!ctx() || !secp256k1_ecdsa_recoverable_signature_parse_compact(ctx(), &sig, rs, recid) ||
        !secp256k1_ecdsa_recover(ctx(), &pk, &sig, hash))
        return veil_err_set(err, VEIL_E_CRYPTO, "signature does not recover a public key");
    /* Ethereum rejects high-s signatures (EIP-2). */
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature_convert(ctx(), &plain, &sig);
    if (secp256k1_ecdsa_signature_normalize(ctx(), NULL, &plain))
        return veil_err_set(err, VEIL_E_CRYPTO, "signature has a high s value");
    address_from_pubkey(&pk, out);
    return 0;
}

/* ------------------------------------------------------------------ transactions */

/* The unsigned field list (without the outer list header). */
static void put_fields(const veil_tx *tx, veil_buf *b)
{
    if (tx->type == VEIL_TX_EIP1559) {
        /* EIP-1559: [chainId, nonce, maxPriorityFeePerGas, maxFeePerGas,
         * gasLimit, to, value, data, accessList]. */
        veil_rlp_put_uint(b, tx->chain_id);
        veil_rlp_put_uint(b, tx->nonce);
        veil_rlp_put_uint(b, tx->max_priority_fee_per_gas);
        veil_rlp_put_uint(b, tx->max_fee_per_gas);
        veil_rlp_put_uint(b, tx->gas_limit);
    } else {
        veil_rlp_put_uint(b, tx->nonce);
        veil_rlp_put_uint(b, tx->gas_price);
        veil_rlp_put_uint(b, tx->gas_limit);
    }
    veil_rlp_put_bytes(b, tx->to.b, tx->has_to ? 20 : 0);
    veil_rlp_put_u256(b, tx->value);
    veil_rlp_put_bytes(b, tx->data, tx->data_len);
    if (tx->type == VEIL_TX_EIP1559)
        veil_rlp_put_list(b, NULL, 0); /* empty access list */
}

static int finish_hash(const veil_tx *tx, veil_buf *fields, uint8_t out[32], veil_err *err)
{
    veil_buf outer;
    veil_buf_init(&outer);
    if (tx->type == VEIL_TX_EIP1559)
        veil_buf_put_u8(&outer, 0x02);
    veil_rlp_put_list(&outer, fields->data, fields->len);
    if (!veil_buf_ok(&outer) || !veil_buf_ok(fields)) {
        veil_buf_free(&outer);
        return veil_err_set(err, VEIL_E_NOMEM, "tx: out of memory");
    }
    veil_keccak256(outer.data, outer.len, out);
    veil_buf_free(&outer);
    return 0;
}

int veil_tx_signing_hash(const veil_tx *tx, uint8_t out[32], veil_err *err)
{
    if (tx->type != VEIL_TX_LEGACY && tx->type != VEIL_TX_EIP1559)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "tx: unsupported type %d", (int)tx->type);
    if (tx->chain_id == 0)
        return veil_err_set(err, VEIL_E_INVALID, "tx: chain id 0 (EIP-155 needs one)");
    veil_buf f;
    veil_buf_init(&f);
    put_fields(tx, &f);
    if (tx->type == VEIL_TX_LEGACY) {
        /* EIP-155: the signing payload appends chainId, 0, 0. */
        veil_rlp_put_uint(&f, tx->chain_id);
        veil_rlp_put_uint(&f, 0);
        veil_rlp_put_uint(&f, 0);
    }
    int rc = finish_hash(tx, &f, out, err);
    veil_buf_free(&f);
    return rc;
}

int veil_tx_sign(const veil_tx *tx, const veil_eth_key *key, veil_buf *raw, uint8_t tx_hash[32],
                 veil_err *err)
{
    uint8_t h[32], r[32], s[32];
    int recid;
    if (veil_tx_signing_hash(tx, h, err) != 0 || veil_eth_sign_hash(key, h, r, s, &recid, err))
        return -1;
    if (tx->type == VEIL_TX_LEGACY && tx->chain_id > (UINT64_MAX - 36) / 2)
        return veil_err_set(err, VEIL_E_RANGE, "tx: chain id too large for EIP-155 v");
    veil_buf f;
    veil_buf_init(&f);
    put_fields(tx, &f);
    if (tx->type == VEIL_TX_EIP1559)
        veil_rlp_put_uint(&f, (uint64_t)recid); /* yParity */
    else
        veil_rlp_put_uint(&f, (uint64_t)recid + tx->chain_id * 2 + 35);
    veil_rlp_put_u256(&f, r);
    veil_rlp_put_u256(&f, s);
    size_t start = raw->len;
    if (tx->type == VEIL_TX_EIP1559)
        veil_buf_put_u8(raw, 0x02);
    veil_rlp_put_list(raw, f.data, f.len);
    bool ok = veil_buf_ok(&f) && veil_buf_ok(raw);
    veil_buf_free(&f);
    if (!ok)
        return veil_err_set(err, VEIL_E_NOMEM, "tx: out of memory");
    veil_keccak256(raw->data + start, raw->len - start, tx_hash);
    return 0;
}

static int read_uint_field(veil_reader *r, uint64_t *out, const char *name, veil_err *err)
{
    veil_rlp_item it;
    if (veil_rlp_read(r, &it, err) != 0 || veil_rlp_item_uint(&it, out, err) != 0)
        return veil_err_wrap(err, "tx field %s", name);
    return 0;
}

static int read_word_field(veil_reader *r, uint8_t out[32], const char *name, veil_err *err)
{
    veil_rlp_item it;
    if (veil_rlp_read(r, &it, err) != 0)
        return veil_err_wrap(err, "tx field %s", name);
    if (it.kind != VEIL_RLP_STRING || it.len > 32 || (it.len > 0 && it.payload[0] == 0))
        return veil_err_set(err, VEIL_E_PARSE, "tx field %s: bad 256-bit integer", name);
    memset(out, 0, 32);
    memcpy(out + 32 - it.len, it.payload, it.len);
    return 0;
}

int veil_tx_decode(const uint8_t *raw, size_t len, veil_tx *tx, veil_eth_address *sender,
                   veil_err *err)
{
    memset(tx, 0, sizeof *tx);
    veil_reader outer;
    veil_reader_init(&outer, raw, len);
    if (len > 0 && raw[0] == 0x02) {
        tx->type = VEIL_TX_EIP1559;
        veil_reader_skip(&outer, 1);
    } else if (len > 0 && raw[0] < 0xc0) {
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "tx: unsupported type 0x%02x", raw[0]);
    } else {
        tx->type = VEIL_TX_LEGACY;
    }
    veil_rlp_item list;
    if (veil_rlp_read(&outer, &list, err) != 0)
        return -1;
    if (list.kind != VEIL_RLP_LIST || !veil_reader_at_end(&outer))
        return veil_err_set(err, VEIL_E_PARSE, "tx: expected exactly one RLP list");
    veil_reader r;
    veil_reader_init(&r, list.payload, list.len);
    uint64_t v = 0;
    if (tx->type == VEIL_TX_EIP1559) {
        if (read_uint_field(&r, &tx->chain_id, "chainId", err) ||
            read_uint_field(&r, &tx->nonce, "nonce", err) ||
            read_uint_field(&r, &tx->max_priority_fee_per_gas, "maxPriorityFeePerGas", err) ||
            read_uint_field(&r, &tx->max_fee_per_gas, "maxFeePerGas", err) ||
            read_uint_field(&r, &tx->gas_limit, "gasLimit", err))
            return -1;
    } else {
        if (read_uint_field(&r, &tx->nonce, "nonce", err) ||
            read_uint_field(&r, &tx->gas_price, "gasPrice", err) ||
            read_uint_field(&r, &tx->gas_limit, "gasLimit", err))
            return -1;
    }
    veil_rlp_item it;
    if (veil_rlp_read(&r, &it, err) != 0)
        return veil_err_wrap(err, "tx field to");
    if (it.kind != VEIL_RLP_STRING || (it.len != 0 && it.len != 20))
        return veil_err_set(err, VEIL_E_PARSE, "tx field to: not an address");
    tx->has_to = it.len == 20;
    if (tx->has_to)
        memcpy(tx->to.b, it.payload, 20);
    if (read_word_field(&r, tx->value, "value", err) != 0)
        return -1;
    if (veil_rlp_read(&r, &it, err) != 0 || it.kind != VEIL_RLP_STRING)
        return veil_err_set(err, VEIL_E_PARSE, "tx field data: expected bytes");
    tx->data = it.payload;
    tx->data_len = it.len;
    if (tx->type == VEIL_TX_EIP1559) {
        if (veil_rlp_read(&r, &it, err) != 0 || it.kind != VEIL_RLP_LIST)
            return veil_err_set(err, VEIL_E_PARSE, "tx field accessList: expected a list");
        if (it.len != 0)
            return veil_err_set(err, VEIL_E_UNSUPPORTED, "tx: access lists are not supported");
    }
    uint8_t rr[32], ss[32];
    if (read_uint_field(&r, &v, "v", err) || read_word_field(&r, rr, "r", err) ||
        read_word_field(&r, ss, "s", err))
        return -1;
    if (!veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "tx: extra fields");
    int recid;
    if (tx->type == VEIL_TX_EIP1559) {
        if (v > 1)
            return veil_err_set(err, VEIL_E_PARSE, "tx: yParity must be 0 or 1");
        recid = (int)v;
    } else {
        if (v < 35)
            return veil_err_set(err, VEIL_E_UNSUPPORTED, "tx: pre-EIP-155 signature (v=%llu)",
                                (unsigned long long)v);
        tx->chain_id = (v - 35) / 2;
        recid = (int)((v - 35) % 2);
    }
    if (!sender)
        return 0;
    uint8_t h[32];
    if (veil_tx_signing_hash(tx, h, err) != 0)
        return -1;
    return veil_eth_recover(h, rr, ss, recid, sender, err);
}
