// SPDX-License-Identifier: Apache-2.0
/*
 * abi.c - the Solidity contract ABI (docs.soliditylang.org, "Contract ABI
 * Specification"): type strings, value trees, head/tail encoding of tuples
 * and arrays, a strict bounded decoder, human formatting, and decoding of
 * revert data (Error(string), Panic(uint256), custom errors).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

#define ABI_MAX_DEPTH 16
#define ABI_MAX_ITEMS 65536

/* ------------------------------------------------------------------ types */

static void type_clear(veil_abi_type *t)
{
    if (!t)
        return;
    if (t->elem) {
        type_clear(t->elem);
        free(t->elem);
    }
    for (size_t i = 0; i < t->n_members; i++)
        type_clear(&t->members[i]);
    free(t->members);
    memset(t, 0, sizeof *t);
}

void veil_abi_type_free(veil_abi_type *t)
{
    if (!t)
        return;
    type_clear(t);
    free(t);
}

static int parse_type(const char **p, veil_abi_type *t, int depth, veil_err *err);

static int parse_tuple(const char **p, veil_abi_type *t, int depth, veil_err *err)
{
    (*p)++; /* '(' */
    t->kind = VEIL_ABI_TUPLE;
    size_t cap = 0;
    if (**p == ')') {
        (*p)++;
        return 0;
    }
    for (;;) {
        if (t->n_members == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            veil_abi_type *m = realloc(t->members, ncap * sizeof *m);
            if (!m)
                return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
            t->members = m;
            cap = ncap;
        }
        veil_abi_type *m = &t->members[t->n_members];
        memset(m, 0, sizeof *m);
        t->n_members++;
        if (parse_type(p, m, depth + 1, err) != 0)
            return -1;
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p == ')') {
            (*p)++;
            return 0;
        }
        return veil_err_set(err, VEIL_E_PARSE, "abi: expected ',' or ')' in type");
    }
}

static int parse_base(const char **p, veil_abi_type *t, veil_err *err)
{
    const char *s = *p;
    size_t n = 0;
    while (isalnum((unsigned char)s[n]))
        n++;
    char word[24];
    if (n == 0 || n >= sizeof word)
        return veil_err_set(err, VEIL_E_PARSE, "abi: bad type name near '%.16s'", s);
    memcpy(word, s, n);
    word[n] = '\0';
    *p = s + n;
    unsigned bits = 0;
    const char *digits = NULL;
    if (strcmp(word, "address") == 0) {
        t->kind = VEIL_ABI_ADDRESS;
        t->bits = 160;
        return 0;
    }
    if (strcmp(word, "bool") == 0) {
        t->kind = VEIL_ABI_BOOL;
        return 0;
    }
    if (strcmp(word, "string") == 0) {
        t->kind = VEIL_ABI_STRING;
        return 0;
    }
    if (strcmp(word, "bytes") == 0) {
        t->kind = VEIL_ABI_BYTES;
        return 0;
    }
    if (strncmp(word, "uint", 4) == 0) {
        t->kind = VEIL_ABI_UINT;
        digits = word + 4;
    } else if (strncmp(word, "int", 3) == 0) {
        t->kind = VEIL_ABI_INT;
        digits = word + 3;
    } else if (strncmp(word, "bytes", 5) == 0) {
        t->kind = VEIL_ABI_FIXED_BYTES;
        digits = word + 5;
    } else {
        return veil_err_set(err, VEIL_E_PARSE, "abi: unknown type '%s'", word);
    }
    if (*digits == '\0') {
        if (t->kind == VEIL_ABI_FIXED_BYTES)
            return veil_err_set(err, VEIL_E_PARSE, "abi: bad type '%s'", word);
        t->bits = 256;
        return 0;
    }
    for (const char *d = digits; *d; d++) {
        if (!isdigit((unsigned char)*d) || bits > 1000)
            return veil_err_set(err, VEIL_E_PARSE, "abi: bad type '%s'", word);
        bits = bits * 10 + (unsigned)(*d - '0');
    }
    if (digits[0] == '0')
        return veil_err_set(err, VEIL_E_PARSE, "abi: bad type '%s'", word);
    if (t->kind == VEIL_ABI_FIXED_BYTES ? (bits < 1 || bits > 32)
                                        : (bits < 8 || bits > 256 || bits % 8 != 0))
        return veil_err_set(err, VEIL_E_PARSE, "abi: bad size in type '%s'", word);
    t->bits = bits;
    return 0;
}

static int parse_type(const char **p, veil_abi_type *t, int depth, veil_err *err)
{
    if (depth > ABI_MAX_DEPTH)
        return veil_err_set(err, VEIL_E_LIMIT, "abi: type nested too deeply");
    if (**p == '(') {
        if (parse_tuple(p, t, depth, err) != 0)
            return -1;
    } else if (parse_base(p, t, err) != 0) {
        return -1;
    }
    while (**p == '[') {
        (*p)++;
        long k = -1;
        if (**p != ']') {
            char *end;
            k = strtol(*p, &end, 10);
            if (end == *p || k < 1 || k > ABI_MAX_ITEMS)
                return veil_err_set(err, VEIL_E_PARSE, "abi: bad array length");
            *p = end;
        }
        if (**p != ']')
            return veil_err_set(err, VEIL_E_PARSE, "abi: expected ']'");
        (*p)++;
        veil_abi_type *inner = malloc(sizeof *inner);
        if (!inner)
            return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
        *inner = *t;
        memset(t, 0, sizeof *t);
        t->kind = VEIL_ABI_ARRAY;
        t->fixed_len = k;
        t->elem = inner;
    }
    return 0;
}

int veil_abi_type_parse(const char *text, veil_abi_type **out, veil_err *err)
{
    veil_abi_type *t = calloc(1, sizeof *t);
    if (!t)
        return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
    const char *p = text;
    if (parse_type(&p, t, 0, err) != 0) {
        veil_abi_type_free(t);
        return -1;
    }
    if (*p != '\0') {
        veil_abi_type_free(t);
        return veil_err_set(err, VEIL_E_PARSE, "abi: trailing text in type '%s'", text);
    }
    *out = t;
    return 0;
}

bool veil_abi_type_is_dynamic(const veil_abi_type *t)
{
    switch (t->kind) {
    case VEIL_ABI_BYTES:
    case VEIL_ABI_STRING:
        return true;
    case VEIL_ABI_ARRAY:
        return t->fixed_len < 0 || veil_abi_type_is_dynamic(t->elem);
    case VEIL_ABI_TUPLE:
        for (size_t i = 0; i < t->n_members; i++)
            if (veil_abi_type_is_dynamic(&t->members[i]))
                return true;
        return false;
    default:
        return false;
    }
}

/* Bytes a static type takes in the head. */
static size_t static_size(const veil_abi_type *t)
{
    if (t->kind == VEIL_ABI_ARRAY)
        return (size_t)t->fixed_len * static_size(t->elem);
    if (t->kind == VEIL_ABI_TUPLE) {
        size_t s = 0;
        for (size_t i = 0; i < t->n_members; i++)
            s += static_size(&t->members[i]);
        return s;
    }
    return 32;
}

static size_t head_size(const veil_abi_type *t)
{
    return veil_abi_type_is_dynamic(t) ? 32 : static_size(t);
}

/* ------------------------------------------------------------------ values */

void veil_abi_value_clear(veil_abi_value *v)
{
    if (!v)
        return;
    free(v->data);
    for (size_t i = 0; i < v->n_items; i++)
        veil_abi_value_clear(&v->items[i]);
    free(v->items);
    memset(v, 0, sizeof *v);
}

void veil_abi_set_uint(veil_abi_value *v, uint64_t x)
{
    memset(v, 0, sizeof *v);
    v->kind = VEIL_ABI_UINT;
    for (int i = 0; i < 8; i++)
        v->word[31 - i] = (uint8_t)(x >> (8 * i));
}

void veil_abi_set_word(veil_abi_value *v, enum veil_abi_kind kind, const uint8_t word[32])
{
    memset(v, 0, sizeof *v);
    v->kind = kind;
    memcpy(v->word, word, 32);
}

void veil_abi_set_address(veil_abi_value *v, const uint8_t addr[20])
{
    memset(v, 0, sizeof *v);
    v->kind = VEIL_ABI_ADDRESS;
    memcpy(v->word + 12, addr, 20);
}

void veil_abi_set_bool(veil_abi_value *v, bool x)
{
    memset(v, 0, sizeof *v);
    v->kind = VEIL_ABI_BOOL;
    v->word[31] = x ? 1 : 0;
}

void veil_abi_set_bytes32(veil_abi_value *v, const uint8_t b[32])
{
    veil_abi_set_word(v, VEIL_ABI_FIXED_BYTES, b);
}

int veil_abi_set_bytes(veil_abi_value *v, const void *data, size_t len)
{
    memset(v, 0, sizeof *v);
    v->kind = VEIL_ABI_BYTES;
    v->data = malloc(len + 1);
    if (!v->data)
        return -1;
    if (len)
        memcpy(v->data, data, len);
    v->data[len] = 0;
    v->len = len;
    return 0;
}

int veil_abi_set_string(veil_abi_value *v, const char *s)
{
    int rc = veil_abi_set_bytes(v, s, strlen(s));
    v->kind = VEIL_ABI_STRING;
    return rc;
}

int veil_abi_set_list(veil_abi_value *v, enum veil_abi_kind kind, size_t n)
{
    memset(v, 0, sizeof *v);
    v->kind = kind;
    if (n == 0)
        return 0;
    v->items = calloc(n, sizeof *v->items);
    if (!v->items)
        return -1;
    v->n_items = n;
    return 0;
}

bool veil_abi_word_u64(const veil_abi_value *v, uint64_t *out)
{
    for (int i = 0; i < 24; i++)
        if (v->word[i] != 0)
            return false;
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = (x << 8) | v->word[i];
    *out = x;
    return true;
}

/* ------------------------------------------------------------------ encoding */

static int encode_value(const veil_abi_type *t, const veil_abi_value *v, veil_buf *out,
                        veil_err *err);

/* Encodes a sequence of n values whose types are types[i] (or all `same`). */
static int encode_seq(const veil_abi_type *types, const veil_abi_type *same, size_t n,
                      const veil_abi_value *values, veil_buf *out, veil_err *err)
{
    size_t heads = 0;
    for (size_t i = 0; i < n; i++)
        heads += head_size(same ? same : &types[i]);
    size_t base = out->len;
    if (!veil_buf_extend(out, heads))
        return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
    memset(out->data + base, 0, heads);
    size_t head_pos = base;
    for (size_t i = 0; i < n; i++) {
        const veil_abi_type *t = same ? same : &types[i];
        if (veil_abi_type_is_dynamic(t)) {
            size_t off = out->len - base;
            for (int j = 0; j < 8; j++)
                out->data[head_pos + 31 - (size_t)j] = (uint8_t)((uint64_t)off >> (8 * j));
            if (encode_value(t, &values[i], out, err) != 0)
                return -1;
            head_pos += 32;
        } else {
            veil_buf tmp;
            veil_buf_init(&tmp);
            if (encode_value(t, &values[i], &tmp, err) != 0) {
                veil_buf_free(&tmp);
                return -1;
            }
            if (!veil_buf_ok(&tmp) || tmp.len != static_size(t)) {
                veil_buf_free(&tmp);
                return veil_err_set(err, VEIL_E_INTERNAL, "abi: static size mismatch");
            }
            memcpy(out->data + head_pos, tmp.data, tmp.len);
            head_pos += tmp.len;
            veil_buf_free(&tmp);
        }
    }
    return veil_buf_ok(out) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
}

static bool kind_matches(const veil_abi_type *t, const veil_abi_value *v)
{
    if (t->kind == v->kind)
        return true;
    /* A number given for a bytesN or an address is accepted as its word. */
    return (t->kind == VEIL_ABI_FIXED_BYTES || t->kind == VEIL_ABI_ADDRESS ||
            t->kind == VEIL_ABI_INT) &&
           v->kind == VEIL_ABI_UINT;
}

static int encode_value(const veil_abi_type *t, const veil_abi_value *v, veil_buf *out,
                        veil_err *err)
{
    if (!kind_matches(t, v) && !(t->kind == VEIL_ABI_STRING && v->kind == VEIL_ABI_BYTES) &&
        !(t->kind == VEIL_ABI_BYTES && v->kind == VEIL_ABI_STRING))
        return veil_err_set(err, VEIL_E_INVALID, "abi: value kind %d does not match type kind %d",
                            (int)v->kind, (int)t->kind);
    switch (t->kind) {
    case VEIL_ABI_UINT:
    case VEIL_ABI_INT:
    case VEIL_ABI_ADDRESS:
    case VEIL_ABI_BOOL:
    case VEIL_ABI_FIXED_BYTES:
        veil_buf_put(out, v->word, 32);
        return 0;
    case VEIL_ABI_BYTES:
    case VEIL_ABI_STRING: {
        uint8_t w[32] = {0};
        for (int j = 0; j < 8; j++)
            w[31 - j] = (uint8_t)((uint64_t)v->len >> (8 * j));
        veil_buf_put(out, w, 32);
        veil_buf_put(out, v->data, v->len);
        size_t pad = (32 - v->len % 32) % 32;
        memset(w, 0, sizeof w);
        veil_buf_put(out, w, pad);
        return 0;
    }
    case VEIL_ABI_ARRAY:
        if (t->fixed_len >= 0) {
            if (v->n_items != (size_t)t->fixed_len)
                return veil_err_set(err, VEIL_E_INVALID, "abi: array wants %ld items, got %zu",
                                    t->fixed_len, v->n_items);
        } else {
            veil_abi_value n;
            veil_abi_set_uint(&n, v->n_items);
            veil_buf_put(out, n.word, 32);
        }
        return encode_seq(NULL, t->elem, v->n_items, v->items, out, err);
    case VEIL_ABI_TUPLE:
        if (v->n_items != t->n_members)
            return veil_err_set(err, VEIL_E_INVALID, "abi: tuple wants %zu values, got %zu",
                                t->n_members, v->n_items);
        return encode_seq(t->members, NULL, t->n_members, v->items, out, err);
    }
    return veil_err_set(err, VEIL_E_INTERNAL, "abi: bad type");
}

int veil_abi_encode(const veil_abi_type *types, const veil_abi_value *value, veil_buf *out,
                    veil_err *err)
{
    return encode_value(types, value, out, err);
}

int veil_abi_encode_call(const char *signature, const veil_abi_value *args, veil_buf *out,
                         veil_err *err)
{
    const char *paren = strchr(signature, '(');
    if (!paren)
        return veil_err_set(err, VEIL_E_INVALID, "abi: signature without '('");
    veil_abi_type *t;
    if (veil_abi_type_parse(paren, &t, err) != 0)
        return -1;
    uint8_t sel[4];
    veil_abi_selector(signature, sel);
    veil_buf_put(out, sel, 4);
    int rc = veil_abi_encode(t, args, out, err);
    veil_abi_type_free(t);
    return rc;
}

/* ------------------------------------------------------------------ decoding */

/* Reads the 32-byte word at `off` of data[0..len) through a bounds-checked
 * reader. */
static int read_word(const uint8_t *data, size_t len, size_t off, uint8_t w[32], veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    veil_reader_skip(&r, off);
    veil_read_bytes(&r, w, 32);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "abi: data too short (word at %zu of %zu)", off,
                            len);
    return 0;
}

/* A length or offset word: must fit in 32 bits. */
static int read_size(const uint8_t *data, size_t len, size_t off, size_t *out, veil_err *err)
{
    uint8_t w[32];
    if (read_word(data, len, off, w, err) != 0)
        return -1;
    for (int i = 0; i < 28; i++)
        if (w[i])
            return veil_err_set(err, VEIL_E_RANGE, "abi: offset or length too large");
    *out = ((size_t)w[28] << 24) | ((size_t)w[29] << 16) | ((size_t)w[30] << 8) | w[31];
    return 0;
}

static int decode_value(const veil_abi_type *t, const uint8_t *data, size_t len, size_t off,
                        veil_abi_value *out, int depth, veil_err *err);

/* Decodes a sequence starting at `base` (the start of its own encoding). */
static int decode_seq(const veil_abi_type *types, const veil_abi_type *same, size_t n,
                      const uint8_t *data, size_t len, size_t base, veil_abi_value *items,
                      int depth, veil_err *err)
{
    size_t head = base;
    for (size_t i = 0; i < n; i++) {
        const veil_abi_type *t = same ? same : &types[i];
        size_t at = head;
        if (veil_abi_type_is_dynamic(t)) {
            size_t rel;
            if (read_size(data, len, head, &rel, err) != 0)
                return -1;
            if (rel > len - base)
                return veil_err_set(err, VEIL_E_RANGE, "abi: offset %zu past the data", rel);
            at = base + rel;
            head += 32;
        } else {
            head += static_size(t);
        }
        if (decode_value(t, data, len, at, &items[i], depth + 1, err) != 0)
            return -1;
    }
    return 0;
}

static int decode_value(const veil_abi_type *t, const uint8_t *data, size_t len, size_t off,
                        veil_abi_value *out, int depth, veil_err *err)
{
    if (depth > ABI_MAX_DEPTH)
        return veil_err_set(err, VEIL_E_LIMIT, "abi: nesting too deep");
    memset(out, 0, sizeof *out);
    out->kind = t->kind;
    switch (t->kind) {
    case VEIL_ABI_UINT:
    case VEIL_ABI_INT:
    case VEIL_ABI_ADDRESS:
    case VEIL_ABI_BOOL:
    case VEIL_ABI_FIXED_BYTES: {
        if (read_word(data, len, off, out->word, err) != 0)
            return -1;
        const uint8_t *w = out->word;
        if (t->kind == VEIL_ABI_UINT || t->kind == VEIL_ABI_ADDRESS) {
            for (unsigned i = 0; i < (256 - t->bits) / 8; i++)
                if (w[i])
                    return veil_err_set(err, VEIL_E_RANGE, "abi: uint%u out of range", t->bits);
        } else if (t->kind == VEIL_ABI_INT) {
            uint8_t fill = (w[32 - t->bits / 8] & 0x80) ? 0xff : 0x00;
            for (unsigned i = 0; i < (256 - t->bits) / 8; i++)
                if (w[i] != fill)
                    return veil_err_set(err, VEIL_E_RANGE, "abi: int%u out of range", t->bits);
        } else if (t->kind == VEIL_ABI_BOOL) {
            for (int i = 0; i < 31; i++)
                if (w[i])
                    return veil_err_set(err, VEIL_E_RANGE, "abi: bad bool");
            if (w[31] > 1)
                return veil_err_set(err, VEIL_E_RANGE, "abi: bad bool");
        } else {
            for (unsigned i = t->bits; i < 32; i++)
                if (w[i])
                    return veil_err_set(err, VEIL_E_RANGE, "abi: bytes%u with dirty padding",
                                        t->bits);
        }
        return 0;
    }
    case VEIL_ABI_BYTES:
    case VEIL_ABI_STRING: {
        size_t n;
        if (read_size(data, len, off, &n, err) != 0)
            return -1;
        veil_reader r;
        veil_reader_init(&r, data, len);
        veil_reader_skip(&r, off + 32);
        const uint8_t *p = veil_read_borrow(&r, n);
        if (!p)
            return veil_err_set(err, VEIL_E_RANGE, "abi: bytes length %zu past the data", n);
        if (veil_abi_set_bytes(out, p, n) != 0)
            return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
        out->kind = t->kind;
        return 0;
    }
    case VEIL_ABI_ARRAY: {
        size_t n, base = off;
        if (t->fixed_len >= 0) {
            n = (size_t)t->fixed_len;
        } else {
            if (read_size(data, len, off, &n, err) != 0)
                return -1;
            base = off + 32;
        }
        /* Every element takes at least 32 bytes of head: refuse counts the
         * data cannot hold before allocating. */
        if (base > len || n > (len - base) / 32 || n > ABI_MAX_ITEMS)
            return veil_err_set(err, VEIL_E_RANGE, "abi: array of %zu items past the data", n);
        if (veil_abi_set_list(out, VEIL_ABI_ARRAY, n) != 0)
            return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
        return decode_seq(NULL, t->elem, n, data, len, base, out->items, depth, err);
    }
    case VEIL_ABI_TUPLE:
        if (veil_abi_set_list(out, VEIL_ABI_TUPLE, t->n_members) != 0)
            return veil_err_set(err, VEIL_E_NOMEM, "abi: out of memory");
        return decode_seq(t->members, NULL, t->n_members, data, len, off, out->items, depth, err);
    }
    return veil_err_set(err, VEIL_E_INTERNAL, "abi: bad type");
}

int veil_abi_decode(const veil_abi_type *types, const uint8_t *data, size_t len,
                    veil_abi_value *out, veil_err *err)
{
    if (decode_value(types, data, len, 0, out, 0, err) != 0) {
        veil_abi_value_clear(out);
        return -1;
    }
    return 0;
}

int veil_abi_decode_text(const char *types, const uint8_t *data, size_t len, veil_abi_value *out,
                         veil_err *err)
{
    veil_abi_type *t;
    if (veil_abi_type_parse(types, &t, err) != 0)
        return -1;
    int rc = veil_abi_decode(t, data, len, out, err);
    veil_abi_type_free(t);
    return rc;
}

/* ------------------------------------------------------------------ formatting */

/* Decimal of a 256-bit big-endian word (long division by 10). */
static void put_decimal(veil_buf *out, const uint8_t word[32])
{
    uint8_t w[32];
    memcpy(w, word, 32);
    char digits[80];
    size_t n = 0;
    bool zero;
    do {
        unsigned rem = 0;
        zero = true;
        for (int i = 0; i < 32; i++) {
            unsigned cur = (rem << 8) | w[i];
            w[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (w[i])
                zero = false;
        }
        digits[n++] = (char)('0' + rem);
    } while (!zero);
    while (n > 0)
        veil_buf_put_u8(out, (uint8_t)digits[--n]);
}

static void put_hex(veil_buf *out, const uint8_t *p, size_t n)
{
    static const char hexd[] = "0123456789abcdef";
    veil_buf_put_str(out, "0x");
    for (size_t i = 0; i < n; i++) {
        veil_buf_put_u8(out, (uint8_t)hexd[p[i] >> 4]);
        veil_buf_put_u8(out, (uint8_t)hexd[p[i] & 15]);
    }
}

void veil_abi_value_format(const veil_abi_value *v, veil_buf *out)
{
    switch (v->kind) {
    case VEIL_ABI_UINT:
        put_decimal(out, v->word);
        break;
    case VEIL_ABI_INT:
        if (v->word[0] & 0x80) {
            uint8_t neg[32];
            unsigned carry = 1;
            for (int i = 31; i >= 0; i--) {
                unsigned x = (uint8_t)~v->word[i] + carry;
                neg[i] = (uint8_t)x;
                carry = x >> 8;
            }
            veil_buf_put_u8(out, '-');
            put_decimal(out, neg);
        } else {
            put_decimal(out, v->word);
        }
        break;
    case VEIL_ABI_ADDRESS: {
        veil_eth_address a;
        char text[43];
        memcpy(a.b, v->word + 12, 20);
        veil_eth_address_format(&a, text);
        veil_buf_put_str(out, text);
        break;
    }
    case VEIL_ABI_BOOL:
        veil_buf_put_str(out, v->word[31] ? "true" : "false");
        break;
    case VEIL_ABI_FIXED_BYTES:
        put_hex(out, v->word, 32);
        break;
    case VEIL_ABI_BYTES:
        put_hex(out, v->data, v->len);
        break;
    case VEIL_ABI_STRING:
        veil_buf_put_u8(out, '"');
        for (size_t i = 0; i < v->len; i++) {
            uint8_t c = v->data[i];
            if (c == '"' || c == '\\')
                veil_buf_printf(out, "\\%c", c);
            else if (c < 0x20 || c >= 0x7f)
                veil_buf_printf(out, "\\x%02x", c);
            else
                veil_buf_put_u8(out, c);
        }
        veil_buf_put_u8(out, '"');
        break;
    case VEIL_ABI_ARRAY:
    case VEIL_ABI_TUPLE:
        veil_buf_put_u8(out, v->kind == VEIL_ABI_ARRAY ? '[' : '(');
        for (size_t i = 0; i < v->n_items; i++) {
            if (i)
                veil_buf_put_str(out, ", ");
            veil_abi_value_format(&v->items[i], out);
        }
        veil_buf_put_u8(out, v->kind == VEIL_ABI_ARRAY ? ']' : ')');
        break;
    }
}

/* ------------------------------------------------------------------ reverts */

static const char *panic_reason(uint64_t code)
{
    /* Solidity docs, "Panic via assert and Error via require". */
    switch (code) {
    case 0x01:
        return "assertion failed";
    case 0x11:
        return "arithmetic overflow or underflow";
    case 0x12:
        return "division by zero";
    case 0x21:
        return "invalid enum value";
    case 0x22:
        return "bad storage byte array encoding";
    case 0x31:
        return "pop on empty array";
    case 0x32:
        return "array index out of bounds";
    case 0x41:
        return "out of memory";
    case 0x51:
        return "call to a zero-initialized function";
    default:
        return "unknown panic code";
    }
}

static void copy_out(char *out, size_t cap, const veil_buf *b)
{
    if (cap == 0)
        return;
    size_t n = veil_buf_ok(b) ? b->len : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(out, b->data, n);
    out[n] = '\0';
}

void veil_abi_decode_revert(const uint8_t *data, size_t len, const char *const *custom_errors,
                            size_t n_custom, char *out, size_t out_cap)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_abi_value v;
    if (len == 0) {
        veil_buf_put_str(&b, "reverted without a reason");
        goto done;
    }
    if (len < 4) {
        veil_buf_put_str(&b, "reverted with malformed data ");
        put_hex(&b, data, len);
        goto done;
    }
    uint8_t sel[4];
    veil_abi_selector("Error(string)", sel);
    if (memcmp(sel, data, 4) == 0 &&
        veil_abi_decode_text("(string)", data + 4, len - 4, &v, NULL) == 0) {
        veil_buf_put_str(&b, "reverted: ");
        veil_abi_value_format(&v.items[0], &b);
        veil_abi_value_clear(&v);
        goto done;
    }
    veil_abi_selector("Panic(uint256)", sel);
    if (memcmp(sel, data, 4) == 0 &&
        veil_abi_decode_text("(uint256)", data + 4, len - 4, &v, NULL) == 0) {
        uint64_t code = 0;
        bool small = veil_abi_word_u64(&v.items[0], &code);
        veil_buf_printf(&b, "panic 0x%02llx (%s)", (unsigned long long)code,
                        small ? panic_reason(code) : "unknown panic code");
        veil_abi_value_clear(&v);
        goto done;
    }
    for (size_t i = 0; i < n_custom; i++) {
        veil_abi_selector(custom_errors[i], sel);
        if (memcmp(sel, data, 4) != 0)
            continue;
        const char *paren = strchr(custom_errors[i], '(');
        if (!paren || veil_abi_decode_text(paren, data + 4, len - 4, &v, NULL) != 0)
            continue;
        veil_buf_put(&b, custom_errors[i], (size_t)(paren - custom_errors[i]));
        veil_abi_value_format(&v, &b);
        veil_abi_value_clear(&v);
        goto done;
    }
    veil_buf_put_str(&b, "reverted with unknown error ");
    put_hex(&b, data, len > 68 ? 68 : len);
done:
    copy_out(out, out_cap, &b);
    veil_buf_free(&b);
}
