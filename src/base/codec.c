// SPDX-License-Identifier: Apache-2.0
/*
 * codec.c - text and integer encodings used on the wire and in files:
 * hex, base32 (RFC 4648 section 6), base58btc (Bitcoin alphabet, as used by
 * libp2p peer IDs), base64url (RFC 4648 section 5) and the multiformats
 * unsigned varint. Decoders are strict: anything that does not round-trip
 * to the same text (bad characters, wrong padding, non-zero trailing bits,
 * non-minimal varints) is rejected.
 */
#include <string.h>

#include <veil/base.h>

/* ---- hex ---- */

size_t veil_hex_encoded_len(size_t n)
{
    return 2 * n;
}

long veil_hex_encode(char *out, size_t out_cap, const void *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    if (n > (SIZE_MAX - 1) / 2 || out_cap < 2 * n + 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
    return (long)(2 * n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long veil_hex_decode(void *out, size_t out_cap, const char *in, size_t in_len, bool allow_0x,
                     veil_err *err)
{
    if (allow_0x && in_len >= 2 && in[0] == '0' && (in[1] == 'x' || in[1] == 'X')) {
        in += 2;
        in_len -= 2;
    }
    if (in_len % 2)
        return veil_err_set(err, VEIL_E_PARSE, "hex: odd number of digits (%zu)", in_len);
    if (in_len / 2 > out_cap)
        return veil_err_set(err, VEIL_E_RANGE, "hex: %zu bytes do not fit in %zu", in_len / 2,
                            out_cap);
    uint8_t *o = out;
    for (size_t i = 0; i < in_len; i += 2) {
        int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
        if (hi < 0 || lo < 0) {
            size_t bad = hi < 0 ? i : i + 1;
            return veil_err_set(err, VEIL_E_PARSE, "hex: invalid character at offset %zu", bad);
        }
        o[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(in_len / 2);
}

/* ---- base32 ---- */

size_t veil_base32_encoded_len(size_t n, bool pad)
{
    if (pad)
        return (n + 4) / 5 * 8;
    return (n * 8 + 4) / 5;
}

long veil_base32_encode(char *out, size_t out_cap, const void *in, size_t n, bool lower, bool pad)
{
    const char *alphabet = lower ? "abcdefghijklmnopqrstuvwxyz234567"
                                 : "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    if (n > SIZE_MAX / 8 - 8)
        return -1;
    size_t need = veil_base32_encoded_len(n, pad);
    if (out_cap < need + 1)
        return -1;
    const uint8_t *p = in;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 8 | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    while (pad && o < need)
        out[o++] = '=';
    out[o] = '\0';
    return (long)o;
}

static int base32_value(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

long veil_base32_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err)
{
    size_t data_len = in_len;
    while (data_len > 0 && in[data_len - 1] == '=')
        data_len--;
    if (data_len != in_len && in_len % 8 != 0)
        return veil_err_set(err, VEIL_E_PARSE, "base32: padded input length %zu is not a "
                                               "multiple of 8", in_len);
    /* Valid unpadded lengths mod 8: 0, 2, 4, 5, 7. */
    size_t rem = data_len % 8;
    if (rem == 1 || rem == 3 || rem == 6)
        return veil_err_set(err, VEIL_E_PARSE, "base32: impossible length %zu", data_len);
    if (data_len != in_len && in_len - data_len != veil_base32_encoded_len(data_len * 5 / 8, true) -
                                                       data_len)
        return veil_err_set(err, VEIL_E_PARSE, "base32: wrong amount of padding");
    size_t out_len = data_len * 5 / 8;
    if (out_len > out_cap)
        return veil_err_set(err, VEIL_E_RANGE, "base32: %zu bytes do not fit in %zu", out_len,
                            out_cap);
    int lower = -1; /* case seen so far: mixed case is rejected */
    uint8_t *o = out;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < data_len; i++) {
        int v = base32_value(in[i]);
        if (v < 0)
            return veil_err_set(err, VEIL_E_PARSE, "base32: invalid character at offset %zu", i);
        if (v < 26) {
            int is_lower = in[i] >= 'a';
            if (lower >= 0 && lower != is_lower)
                return veil_err_set(err, VEIL_E_PARSE, "base32: mixed case at offset %zu", i);
            lower = is_lower;
        }
        acc = (acc << 5 | (uint32_t)v) & 0xffff;
        bits += 5;
        if (bits >= 8) {
            o[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "base32: non-zero trailing bits");
    return (long)n;
}

/* ---- base58btc ---- */

static const char base58_alphabet[] =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

size_t veil_base58_encoded_max(size_t n)
{
    /* log(256)/log(58) < 1.37 */
    return n * 138 / 100 + 1;
}

long veil_base58_encode(char *out, size_t out_cap, const void *in, size_t n)
{
    const uint8_t *p = in;
    if (n > 4096)
        return -1; /* quadratic algorithm: only for short identifiers */
    size_t zeros = 0;
    while (zeros < n && p[zeros] == 0)
        zeros++;
    size_t size = veil_base58_encoded_max(n - zeros);
    uint8_t digits[5700];
    memset(digits, 0, size);
    size_t used = 0; /* digits in use, least significant at digits[size-1] */
    for (size_t i = zeros; i < n; i++) {
        unsigned carry = p[i];
        size_t j = 0;
        for (size_t k = size; k-- > 0 && (carry || j < used); j++) {
            carry += 256u * digits[k];
            digits[k] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        used = j;
    }
    size_t skip = size - used;
    size_t total = zeros + used;
    if (out_cap < total + 1)
        return -1;
    memset(out, '1', zeros);
    for (size_t i = 0; i < used; i++)
        out[zeros + i] = base58_alphabet[digits[skip + i]];
    out[total] = '\0';
    return (long)total;
}

static int base58_value(char c)
{
    const char *pos = c ? strchr(base58_alphabet, c) : NULL;
    return pos ? (int)(pos - base58_alphabet) : -1;
}

long veil_base58_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err)
{
    if (in_len == 0)
        return veil_err_set(err, VEIL_E_PARSE, "base58: empty input");
    if (in_len > 4096)
        return veil_err_set(err, VEIL_E_RANGE, "base58: input too long (%zu)", in_len);
    size_t zeros = 0;
    while (zeros < in_len && in[zeros] == '1')
        zeros++;
    /* log(58)/log(256) < 0.733 */
    size_t size = (in_len - zeros) * 733 / 1000 + 1;
    uint8_t bytes[3100];
    memset(bytes, 0, size);
    size_t used = 0;
    for (size_t i = zeros; i < in_len; i++) {
        int v = base58_value(in[i]);
        if (v < 0)
            return veil_err_set(err, VEIL_E_PARSE, "base58: invalid character '%c' at offset %zu",
                                (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?', i);
        unsigned carry = (unsigned)v;
        size_t j = 0;
        for (size_t k = size; k-- > 0 && (carry || j < used); j++) {
            carry += 58u * bytes[k];
            bytes[k] = (uint8_t)carry;
            carry >>= 8;
        }
        used = j;
    }
    size_t total = zeros + used;
    if (total > out_cap)
        return veil_err_set(err, VEIL_E_RANGE, "base58: %zu bytes do not fit in %zu", total,
                            out_cap);
    uint8_t *o = out;
    memset(o, 0, zeros);
    memcpy(o + zeros, bytes + size - used, used);
    return (long)total;
}

/* ---- base64url ---- */

static const char base64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t veil_base64url_encoded_len(size_t n, bool pad)
{
    if (pad)
        return (n + 2) / 3 * 4;
    return (n * 4 + 2) / 3;
}

long veil_base64url_encode(char *out, size_t out_cap, const void *in, size_t n, bool pad)
{
    if (n > SIZE_MAX / 4 - 4)
        return -1;
    size_t need = veil_base64url_encoded_len(n, pad);
    if (out_cap < need + 1)
        return -1;
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = base64url_alphabet[v >> 18];
        out[o++] = base64url_alphabet[(v >> 12) & 63];
        out[o++] = base64url_alphabet[(v >> 6) & 63];
        out[o++] = base64url_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = base64url_alphabet[v >> 18];
        out[o++] = base64url_alphabet[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = base64url_alphabet[v >> 18];
        out[o++] = base64url_alphabet[(v >> 12) & 63];
        out[o++] = base64url_alphabet[(v >> 6) & 63];
    }
    while (pad && o < need)
        out[o++] = '=';
    out[o] = '\0';
    return (long)o;
}

static int base64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long veil_base64url_decode(void *out, size_t out_cap, const char *in, size_t in_len, veil_err *err)
{
    size_t data_len = in_len;
    while (data_len > 0 && in[data_len - 1] == '=' && in_len - data_len < 2)
        data_len--;
    if (data_len != in_len && in_len % 4 != 0)
        return veil_err_set(err, VEIL_E_PARSE, "base64url: padded length %zu is not a multiple "
                                               "of 4", in_len);
    if (data_len % 4 == 1)
        return veil_err_set(err, VEIL_E_PARSE, "base64url: impossible length %zu", data_len);
    size_t out_len = data_len * 3 / 4;
    if (out_len > out_cap)
        return veil_err_set(err, VEIL_E_RANGE, "base64url: %zu bytes do not fit in %zu", out_len,
                            out_cap);
    uint8_t *o = out;
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < data_len; i++) {
        int v = base64url_value(in[i]);
        if (v < 0)
            return veil_err_set(err, VEIL_E_PARSE, "base64url: invalid character at offset %zu",
                                i);
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            o[n++] = (uint8_t)(acc >> (bits - 8));
            bits -= 8;
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "base64url: non-zero trailing bits");
    return (long)n;
}

/* ---- unsigned varint (multiformats/unsigned-varint) ---- */

size_t veil_uvarint_encode(uint8_t out[10], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int veil_uvarint_decode(const uint8_t *in, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < VEIL_UVARINT_MAX; i++) {
        if (i >= len)
            return 0; /* need more bytes */
        uint8_t b = in[i];
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            /* The spec requires minimal encoding: no trailing zero groups. */
            if (b == 0 && i > 0)
                return -1;
            *out = v;
            return (int)i + 1;
        }
    }
    return -1; /* longer than 9 bytes (values >= 2^63) */
}
