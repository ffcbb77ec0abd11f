// SPDX-License-Identifier: Apache-2.0
/*
 * buf.c - byte buffers: a growable writer (veil_buf) and a bounds-checked
 * reader (veil_reader). Every wire parser in Veil reads through
 * veil_reader, so this is the one place where "read past the end" is
 * prevented. Both latch failure: once a step fails, later steps are no-ops.
 * Also the growth step of the code base's growable arrays
 * (veil_array_reserve).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/base.h>

void veil_buf_init(veil_buf *b)
{
    memset(b, 0, sizeof *b);
}

void veil_buf_free(veil_buf *b)
{
    free(b->data);
    veil_buf_init(b);
}

void veil_buf_free_secure(veil_buf *b)
{
    if (b->data)
        veil_memzero(b->data, b->cap);
    veil_buf_free(b);
}

void veil_buf_reset(veil_buf *b)
{
    b->len = 0;
    b->failed = false;
}

bool veil_buf_ok(const veil_buf *b)
{
    return !b->failed;
}

int veil_buf_reserve(veil_buf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (extra > SIZE_MAX - b->len || (b->limit && b->len + extra > b->limit)) {
        b->failed = true;
        return -1;
    }
    size_t need = b->len + extra;
    /* Always have storage once asked, so data + len is valid even for n = 0. */
    if (need <= b->cap && b->data)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

uint8_t *veil_buf_extend(veil_buf *b, size_t n)
{
    if (veil_buf_reserve(b, n) != 0)
        return NULL;
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void veil_buf_put(veil_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return;
    uint8_t *p = veil_buf_extend(b, n);
    if (p)
        memcpy(p, data, n);
}

void veil_buf_put_u8(veil_buf *b, uint8_t v)
{
    veil_buf_put(b, &v, 1);
}

void veil_buf_put_u16be(veil_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    veil_buf_put(b, t, 2);
}

void veil_buf_put_u32be(veil_buf *b, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(v >> (24 - 8 * i));
    veil_buf_put(b, t, 4);
}

void veil_buf_put_u64be(veil_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (56 - 8 * i));
    veil_buf_put(b, t, 8);
}

void veil_buf_put_u16le(veil_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    veil_buf_put(b, t, 2);
}

void veil_buf_put_u32le(veil_buf *b, uint32_t v)
{
    uint8_t t[4];
    for (int i = 0; i < 4; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    veil_buf_put(b, t, 4);
}

void veil_buf_put_u64le(veil_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    veil_buf_put(b, t, 8);
}

void veil_buf_put_uvarint(veil_buf *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = veil_uvarint_encode(t, v);
    veil_buf_put(b, t, n);
}

void veil_buf_put_str(veil_buf *b, const char *s)
{
    veil_buf_put(b, s, strlen(s));
}

void veil_buf_printf(veil_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    /* One spare byte for vsnprintf's NUL, not counted in len. */
    if (veil_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void veil_buf_consume(veil_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

/* ---- reader ---- */

void veil_reader_init(veil_reader *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->failed = false;
}

bool veil_reader_ok(const veil_reader *r)
{
    return !r->failed;
}

size_t veil_reader_remaining(const veil_reader *r)
{
    return r->failed ? 0 : r->len - r->pos;
}

bool veil_reader_at_end(const veil_reader *r)
{
    return !r->failed && r->pos == r->len;
}

void veil_reader_fail(veil_reader *r)
{
    r->failed = true;
}

/* The single bounds check every read goes through. */
static const uint8_t *take(veil_reader *r, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = true;
        return NULL;
    }
    const uint8_t *p = r->data + r->pos;
    r->pos += n;
    return p;
}

uint8_t veil_read_u8(veil_reader *r)
{
    const uint8_t *p = take(r, 1);
    return p ? p[0] : 0;
}

uint16_t veil_read_u16be(veil_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

uint32_t veil_read_u32be(veil_reader *r)
{
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t veil_read_u64be(veil_reader *r)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
    return v;
}

uint16_t veil_read_u16le(veil_reader *r)
{
    const uint8_t *p = take(r, 2);
    return p ? (uint16_t)(p[1] << 8 | p[0]) : 0;
}

uint32_t veil_read_u32le(veil_reader *r)
{
    const uint8_t *p = take(r, 4);
    if (!p)
        return 0;
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

uint64_t veil_read_u64le(veil_reader *r)
{
    const uint8_t *p = take(r, 8);
    uint64_t v = 0;
    if (p)
        for (int i = 7; i >= 0; i--)
            v = v << 8 | p[i];
    return v;
}

uint64_t veil_read_uvarint(veil_reader *r)
{
    if (r->failed)
        return 0;
    uint64_t v;
    int n = veil_uvarint_decode(r->data + r->pos, r->len - r->pos, &v);
    if (n <= 0) {
        r->failed = true;
        return 0;
    }
    r->pos += (size_t)n;
    return v;
}

void veil_read_bytes(veil_reader *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (p && n)
        memcpy(out, p, n);
    else if (!p && n)
        memset(out, 0, n);
}

const uint8_t *veil_read_borrow(veil_reader *r, size_t n)
{
    return take(r, n);
}

veil_reader veil_read_sub(veil_reader *r, size_t n)
{
    veil_reader sub;
    const uint8_t *p = take(r, n);
    veil_reader_init(&sub, p, p ? n : 0);
    if (!p)
        sub.failed = true;
    return sub;
}

void veil_reader_skip(veil_reader *r, size_t n)
{
    (void)take(r, n);
}

void *veil_array_reserve(void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? 2 * *cap : 8;
    if (size == 0 || ncap < *cap || ncap > SIZE_MAX / size)
        return NULL;
    void *p = realloc(items, ncap * size);
    if (p)
        *cap = ncap;
    return p;
}
