// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_peer.c - the signed overlay peer record: a node's identity,
 * overlay IPv4 address and underlay endpoint, as the rest of its realm
 * learns them (include/veil/overlay_peer.h has the wire form).
 */
#include <arpa/inet.h>
#include <string.h>

#include <sodium.h>

#include <veil/overlay_peer.h>

static const uint8_t record_magic[4] = {'V', 'P', 'R', 1};

static int put_fields(const struct veil_overlay_peer_record *rec, veil_buf *out, veil_err *err)
{
    uint8_t v4[4], ep[16];
    int fam = strchr(rec->endpoint_ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(AF_INET, rec->ipv4, v4) != 1)
        return veil_err_set(err, VEIL_E_INVALID, "peer record: bad overlay address %s", rec->ipv4);
    if (inet_pton(fam, rec->endpoint_ip, ep) != 1 || rec->endpoint_port == 0)
        return veil_err_set(err, VEIL_E_INVALID, "peer record: bad endpoint %s:%u",
                            rec->endpoint_ip, rec->endpoint_port);
    veil_buf_put(out, record_magic, sizeof record_magic);
    veil_buf_put(out, rec->identity, VEIL_ANCHOR_KEY_BYTES);
    veil_buf_put(out, v4, 4);
    veil_buf_put_u8(out, fam == AF_INET6 ? 6 : 4);
    veil_buf_put(out, ep, fam == AF_INET6 ? 16 : 4);
    veil_buf_put_u16be(out, rec->endpoint_port);
    veil_buf_put_u64be(out, rec->issued_ms);
    return 0;
}

int veil_overlay_peer_record_encode(const struct veil_overlay_peer_record *rec,
                                    const uint8_t sk[64], veil_buf *out, veil_err *err)
{
    uint8_t pk[VEIL_ANCHOR_KEY_BYTES];
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    if (sodium_memcmp(pk, rec->identity, sizeof pk) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "peer record: the key is not the identity's");
    size_t start = out->len;
    if (put_fields(rec, out, err) != 0)
        return -1;
    uint8_t *sig = veil_buf_extend(out, crypto_sign_BYTES);
    if (!veil_buf_ok(out) || sig == NULL)
        return veil_err_set(err, VEIL_E_NOMEM, "peer record: out of memory");
    crypto_sign_detached(sig, NULL, out->data + start, out->len - start - crypto_sign_BYTES, sk);
    return 0;
}

static int read_fields(veil_reader *r, struct veil_overlay_peer_record *out, veil_err *err)
{
    uint8_t magic[4], v4[4], ep[16];
    veil_read_bytes(r, magic, sizeof magic);
    veil_read_bytes(r, out->identity, VEIL_ANCHOR_KEY_BYTES);
    veil_read_bytes(r, v4, sizeof v4);
    uint8_t fam = veil_read_u8(r);
    if (!veil_reader_ok(r) || memcmp(magic, record_magic, sizeof magic) != 0 ||
        (fam != 4 && fam != 6))
        return veil_err_set(err, VEIL_E_PARSE, "peer record: not a version-1 record");
    veil_read_bytes(r, ep, fam == 6 ? 16 : 4);
    out->endpoint_port = veil_read_u16be(r);
    out->issued_ms = veil_read_u64be(r);
    if (!veil_reader_ok(r) || out->endpoint_port == 0)
        return veil_err_set(err, VEIL_E_PARSE, "peer record: truncated or port 0");
    if (!inet_ntop(AF_INET, v4, out->ipv4, sizeof out->ipv4) ||
        !inet_ntop(fam == 6 ? AF_INET6 : AF_INET, ep, out->endpoint_ip, sizeof out->endpoint_ip))
        return veil_err_set(err, VEIL_E_PARSE, "peer record: bad address");
    return 0;
}

int veil_overlay_peer_record_decode(const uint8_t *data, size_t len,
                                    struct veil_overlay_peer_record *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (len != VEIL_PEER_RECORD_V4_LEN && len != VEIL_PEER_RECORD_V6_LEN)
        return veil_err_set(err, VEIL_E_RANGE, "peer record: %zu bytes", len);
    veil_reader r;
    veil_reader_init(&r, data, len);
    int rc = read_fields(&r, out, err);
    size_t signed_len = len - crypto_sign_BYTES;
    const uint8_t *sig = rc == 0 ? veil_read_borrow(&r, crypto_sign_BYTES) : NULL;
    if (rc == 0 && (sig == NULL || !veil_reader_at_end(&r)))
        rc = veil_err_set(err, VEIL_E_PARSE, "peer record: bad length for its family");
    if (rc == 0 && crypto_sign_verify_detached(sig, data, signed_len, out->identity) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "peer record: bad signature");
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}
