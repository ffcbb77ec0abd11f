// SPDX-License-Identifier: Apache-2.0
/* Buffers: writer growth and limits, reader bounds, latching failure,
 * truncated input, sub-readers; the growth step of growable arrays. */
#include <stdlib.h>

#include <veil/base.h>

#include "vtest.h"

static void test_writer(void)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_put_u8(&b, 1);
    veil_buf_put_u16be(&b, 0x0203);
    veil_buf_put_u32be(&b, 0x04050607);
    veil_buf_put_u64be(&b, 0x08090a0b0c0d0e0full);
    veil_buf_put_u16le(&b, 0x1110);
    veil_buf_put_u32le(&b, 0x15141312);
    veil_buf_put_u64le(&b, 0x1d1c1b1a19181716ull);
    veil_buf_put_uvarint(&b, 300);
    veil_buf_printf(&b, "%s-%d", "x", 42);
    CHECK(veil_buf_ok(&b));
    static const uint8_t want[] = {1,    2,    3,    4,    5,    6,    7,    8,    9,
                                   10,   11,   12,   13,   14,   15,   0x10, 0x11, 0x12,
                                   0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b,
                                   0x1c, 0x1d, 0xac, 0x02, 'x',  '-',  '4',  '2'};
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK_EQ_MEM(b.data, want, sizeof want);
    veil_buf_consume(&b, 29);
    CHECK_EQ_INT(b.len, 6);
    CHECK_EQ_MEM(b.data, "\xac\x02x-42", 6);
    /* Large appends grow the buffer. */
    for (int i = 0; i < 10000; i++)
        veil_buf_put(&b, "0123456789", 10);
    CHECK(veil_buf_ok(&b));
    CHECK_EQ_INT(b.len, 100006);
    veil_buf_free(&b);
    CHECK(b.data == NULL);
    /* Extending an empty buffer by zero bytes gives a valid pointer. */
    CHECK(veil_buf_extend(&b, 0) != NULL);
    CHECK(veil_buf_ok(&b));
    veil_buf_free(&b);
}

static void test_writer_limit(void)
{
    veil_buf b;
    veil_buf_init(&b);
    b.limit = 8;
    veil_buf_put_u64be(&b, 1);
    CHECK(veil_buf_ok(&b));
    veil_buf_put_u8(&b, 1);
    CHECK(!veil_buf_ok(&b));
    /* Failure latches: later appends are ignored. */
    size_t len = b.len;
    veil_buf_reset(&b);
    CHECK(veil_buf_ok(&b));
    CHECK_EQ_INT(len, 8);
    veil_buf_free_secure(&b);
}

static void test_reader(void)
{
    static const uint8_t in[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                 0x08, 0x09, 0x0a, 0x0b, 0xac, 0x02, 0xff};
    veil_reader r;
    veil_reader_init(&r, in, sizeof in);
    CHECK_EQ_INT(veil_read_u8(&r), 1);
    CHECK_EQ_INT(veil_read_u16be(&r), 0x0203);
    CHECK_EQ_U64(veil_read_u32le(&r), 0x07060504);
    veil_reader sub = veil_read_sub(&r, 4);
    CHECK_EQ_U64(veil_read_u32be(&sub), 0x08090a0b);
    CHECK(veil_reader_at_end(&sub));
    CHECK_EQ_U64(veil_read_uvarint(&r), 300);
    CHECK_EQ_INT(veil_reader_remaining(&r), 1);
    /* 0xff is a truncated varint: fails and latches. */
    CHECK_EQ_U64(veil_read_uvarint(&r), 0);
    CHECK(!veil_reader_ok(&r));
    CHECK_EQ_INT(veil_read_u8(&r), 0);
    CHECK_EQ_INT(veil_reader_remaining(&r), 0);
}

static void test_reader_truncated(void)
{
    static const uint8_t in[] = {1, 2, 3};
    veil_reader r;
    veil_reader_init(&r, in, sizeof in);
    CHECK_EQ_U64(veil_read_u32be(&r), 0);
    CHECK(!veil_reader_ok(&r));

    veil_reader_init(&r, in, sizeof in);
    uint8_t out[4] = {9, 9, 9, 9};
    veil_read_bytes(&r, out, 4);
    CHECK(!veil_reader_ok(&r));
    CHECK_EQ_MEM(out, "\0\0\0\0", 4); /* no stale data on failure */

    veil_reader_init(&r, in, sizeof in);
    CHECK(veil_read_borrow(&r, 3) == in);
    CHECK(veil_read_borrow(&r, 1) == NULL);

    /* A huge length must not wrap around the bounds check. */
    veil_reader_init(&r, in, sizeof in);
    veil_read_u8(&r);
    veil_reader_skip(&r, SIZE_MAX);
    CHECK(!veil_reader_ok(&r));

    veil_reader_init(&r, in, sizeof in);
    veil_reader s = veil_read_sub(&r, 10);
    CHECK(!veil_reader_ok(&r));
    CHECK(!veil_reader_ok(&s));

    veil_reader_init(&r, NULL, 5);
    CHECK_EQ_INT(veil_reader_remaining(&r), 0);
    CHECK_EQ_INT(veil_read_u8(&r), 0);
    CHECK(!veil_reader_ok(&r));
}

/* veil_array_reserve: room for one more, doubling from 8; the array kept
 * (and its capacity) when the size would overflow. */
static void test_array_reserve(void)
{
    uint32_t *a = NULL;
    size_t cap = 0, n = 0;
    for (uint32_t v = 0; v < 100; v++) {
        uint32_t *p = veil_array_reserve(a, &cap, n, sizeof *a);
        CHECK(p != NULL);
        if (!p)
            break;
        a = p;
        a[n++] = v;
        CHECK(n <= cap);
    }
    CHECK_EQ_INT(cap, 128);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(a[i], i);
    CHECK(veil_array_reserve(a, &cap, 5, sizeof *a) == a); /* room: unchanged */
    size_t huge = SIZE_MAX / 2 + 1;
    CHECK(veil_array_reserve(a, &huge, huge, 2) == NULL); /* 2 * huge overflows */
    CHECK(huge == SIZE_MAX / 2 + 1);
    free(a);
}

VTEST_MAIN(VTEST(test_array_reserve), VTEST(test_writer), VTEST(test_writer_limit),
           VTEST(test_reader), VTEST(test_reader_truncated))
