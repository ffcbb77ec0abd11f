// SPDX-License-Identifier: Apache-2.0
/*
 * rlp.c - Recursive Length Prefix encoding and a strict decoder (Ethereum
 * Yellow Paper, appendix B). The decoder rejects non-canonical forms: long
 * lengths with leading zeros or below 56, single bytes < 0x80 wrapped in a
 * 0x81 prefix, and lengths past the input.
 */
#include <string.h>

#include <veil/chain.h>

static void put_length(veil_buf *b, size_t len, uint8_t short_base, uint8_t long_base)
{
    if (len < 56) {
        veil_buf_put_u8(b, (uint8_t)(short_base + len));
        return;
    }
    uint8_t be[8];
    size_t n = 0;
    for (size_t v = len; v > 0; v >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[i] = (uint8_t)(len >> (8 * (n - 1 - i)));
    veil_buf_put_u8(b, (uint8_t)(long_base + n));
    veil_buf_put(b, be, n);
}

void veil_rlp_put_bytes(veil_buf *b, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len == 1 && p[0] < 0x80) {
        veil_buf_put_u8(b, p[0]);
        return;
    }
    put_length(b, len, 0x80, 0xb7);
    veil_buf_put(b, p, len);
}

void veil_rlp_put_uint(veil_buf *b, uint64_t v)
{
    uint8_t be[8];
    size_t n = 0;
    for (uint64_t x = v; x > 0; x >>= 8)
        n++;
    for (size_t i = 0; i < n; i++)
        be[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    veil_rlp_put_bytes(b, be, n);
}

void veil_rlp_put_u256(veil_buf *b, const uint8_t word[32])
{
    size_t skip = 0;
    while (skip < 32 && word[skip] == 0)
        skip++;
    veil_rlp_put_bytes(b, word + skip, 32 - skip);
}

void veil_rlp_put_list(veil_buf *b, const void *payload, size_t len)
{
    put_length(b, len, 0xc0, 0xf7);
    veil_buf_put(b, payload, len);
}

static int fail(veil_reader *r, veil_err *err, const char *what)
{
    veil_reader_fail(r);
    return veil_err_set(err, VEIL_E_PARSE, "rlp: %s", what);
}

int veil_rlp_read(veil_reader *r, veil_rlp_item *out, veil_err *err)
{
    uint8_t p = veil_read_u8(r);
    if (!veil_reader_ok(r))
        return fail(r, err, "truncated item");
    size_t len;
    if (p < 0x80) {
        out->kind = VEIL_RLP_STRING;
        out->payload = r->data + r->pos - 1;
        out->len = 1;
        return 0;
    }
    bool list = p >= 0xc0;
    uint8_t base = list ? 0xc0 : 0x80;
    uint8_t off = (uint8_t)(p - base);
    if (off < 56) {
        len = off;
    } else {
        size_t n = (size_t)off - 55;
        if (n > 8)
            return fail(r, err, "length of length too large");
        const uint8_t *lb = veil_read_borrow(r, n);
        if (!lb)
            return fail(r, err, "truncated length");
        if (lb[0] == 0)
            return fail(r, err, "length with leading zero");
        uint64_t l = 0;
        for (size_t i = 0; i < n; i++)
            l = (l << 8) | lb[i];
        if (l < 56)
            return fail(r, err, "long form for a short length");
        if (l > veil_reader_remaining(r))
            return fail(r, err, "length past the end of input");
        len = (size_t)l;
    }
    const uint8_t *payload = veil_read_borrow(r, len);
    if (len > 0 && !payload)
        return fail(r, err, "length past the end of input");
    if (!list && len == 1 && payload[0] < 0x80)
        return fail(r, err, "single byte below 0x80 must not be wrapped");
    out->kind = list ? VEIL_RLP_LIST : VEIL_RLP_STRING;
    out->payload = payload;
    out->len = len;
    return 0;
}

int veil_rlp_item_uint(const veil_rlp_item *it, uint64_t *out, veil_err *err)
{
    if (it->kind != VEIL_RLP_STRING)
        return veil_err_set(err, VEIL_E_PARSE, "rlp: integer expected, got a list");
    if (it->len > 8)
        return veil_err_set(err, VEIL_E_RANGE, "rlp: integer longer than 8 bytes");
    if (it->len > 0 && it->payload[0] == 0)
        return veil_err_set(err, VEIL_E_PARSE, "rlp: integer with leading zero");
    uint64_t v = 0;
    for (size_t i = 0; i < it->len; i++)
        v = (v << 8) | it->payload[i];
    *out = v;
    return 0;
}
