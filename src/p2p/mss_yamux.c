// SPDX-License-Identifier: Apache-2.0
/*
 * mss_yamux.c (p2p core) - two small codecs: multistream-select 1.0 lines
 * (libp2p/specs connections/README.md "Protocol Negotiation": uvarint length
 * including the trailing newline, then the line) and the 12-byte yamux frame
 * header (hashicorp/yamux spec.md "Framing").
 */
#include <string.h>

#include "p2p_internal.h"

void veil_mss_put_line(veil_buf *out, const char *line)
{
    size_t n = strlen(line);
    veil_buf_put_uvarint(out, n + 1);
    veil_buf_put(out, line, n);
    veil_buf_put_u8(out, '\n');
}

int veil_mss_parse_line(const uint8_t *data, size_t len, char line[VEIL_MSS_MAX_LINE],
                        size_t *consumed, veil_err *err)
{
    uint64_t n = 0;
    int used = veil_uvarint_decode(data, len, &n);
    if (used < 0 || (used == 0 && len >= VEIL_UVARINT_MAX))
        return veil_err_set(err, VEIL_E_PARSE, "multistream: malformed length prefix");
    if (used == 0)
        return 0;
    if (n == 0 || n > VEIL_MSS_MAX_LINE)
        return veil_err_set(err, VEIL_E_RANGE, "multistream: line of %llu bytes",
                            (unsigned long long)n);
    if (len - (size_t)used < n)
        return 0;
    const uint8_t *msg = data + used;
    if (msg[n - 1] != '\n')
        return veil_err_set(err, VEIL_E_PROTOCOL, "multistream: line without trailing newline");
    if (memchr(msg, '\0', (size_t)n - 1))
        return veil_err_set(err, VEIL_E_PROTOCOL, "multistream: NUL in protocol id");
    memcpy(line, msg, (size_t)n - 1);
    line[n - 1] = '\0';
    *consumed = (size_t)used + (size_t)n;
    return 1;
}

void veil_yamux_header_bytes(uint8_t h[VEIL_YAMUX_HEADER_LEN], uint8_t type, uint16_t flags,
                             uint32_t stream_id, uint32_t length)
{
    h[0] = 0;
    h[1] = type;
    h[2] = (uint8_t)(flags >> 8);
    h[3] = (uint8_t)flags;
    for (int i = 0; i < 4; i++) {
        h[4 + i] = (uint8_t)(stream_id >> (24 - 8 * i));
        h[8 + i] = (uint8_t)(length >> (24 - 8 * i));
    }
}

void veil_yamux_put_header(veil_buf *out, uint8_t type, uint16_t flags, uint32_t stream_id,
                           uint32_t length)
{
    uint8_t *h = veil_buf_extend(out, VEIL_YAMUX_HEADER_LEN);
    if (h)
        veil_yamux_header_bytes(h, type, flags, stream_id, length);
}

int veil_yamux_parse_header(const uint8_t in[VEIL_YAMUX_HEADER_LEN], veil_yamux_header *h,
                            veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, in, VEIL_YAMUX_HEADER_LEN);
    h->version = veil_read_u8(&r);
    h->type = veil_read_u8(&r);
    h->flags = veil_read_u16be(&r);
    h->stream_id = veil_read_u32be(&r);
    h->length = veil_read_u32be(&r);
    if (h->version != 0)
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: version %u", h->version);
    if (h->type > VEIL_YAMUX_GO_AWAY)
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: frame type %u", h->type);
    if (h->flags & ~(uint16_t)0xf)
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: unknown flags 0x%x", h->flags);
    bool session = h->type == VEIL_YAMUX_PING || h->type == VEIL_YAMUX_GO_AWAY;
    if (session != (h->stream_id == 0))
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: %s frame on stream %u",
                            session ? "session" : "stream", h->stream_id);
    if (h->type == VEIL_YAMUX_PING && (h->flags & (VEIL_YAMUX_FIN | VEIL_YAMUX_RST)))
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: ping with FIN/RST");
    if (h->type == VEIL_YAMUX_GO_AWAY && h->length > VEIL_YAMUX_GOAWAY_INTERNAL)
        return veil_err_set(err, VEIL_E_PROTOCOL, "yamux: go-away code %u", h->length);
    return 0;
}
