// SPDX-License-Identifier: Apache-2.0
/*
 * lp.c (p2p core) - uvarint-length-prefixed message framing, the framing of
 * identify, gossipsub, Kademlia and SWIM messages: an incremental reader with
 * a maximum message size, and the writer side.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/p2p.h>

#include "p2p_internal.h"

void veil_p2p_lp_reader_init(veil_p2p_lp_reader *r, size_t max_len)
{
    veil_buf_init(&r->buf);
    r->pos = 0;
    r->max_len = max_len;
}

void veil_p2p_lp_reader_free(veil_p2p_lp_reader *r)
{
    veil_buf_free(&r->buf);
    r->pos = 0;
}

int veil_p2p_lp_reader_feed(veil_p2p_lp_reader *r, const void *data, size_t len, veil_err *err)
{
    if (r->pos > 0) {
        /* Drop what earlier messages used before growing the buffer. */
        veil_buf_consume(&r->buf, r->pos);
        r->pos = 0;
    }
    veil_buf_put(&r->buf, data, len);
    if (!veil_buf_ok(&r->buf))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory buffering a message");
    return 0;
}

int veil_p2p_lp_reader_next(veil_p2p_lp_reader *r, const uint8_t **msg, size_t *len, veil_err *err)
{
    const uint8_t *p = r->buf.data + r->pos;
    size_t avail = r->buf.len - r->pos;
    uint64_t n = 0;
    int used = veil_uvarint_decode(p, avail, &n);
    if (used < 0)
        return veil_err_set(err, VEIL_E_PARSE, "malformed message length prefix");
    if (used == 0) {
        if (avail >= VEIL_UVARINT_MAX)
            return veil_err_set(err, VEIL_E_PARSE, "malformed message length prefix");
        return 0;
    }
    if (n > r->max_len)
        return veil_err_set(err, VEIL_E_RANGE, "message of %llu bytes exceeds the limit of %zu",
                            (unsigned long long)n, r->max_len);
    if (avail - (size_t)used < n)
        return 0;
    *msg = p + used;
    *len = (size_t)n;
    r->pos += (size_t)used + (size_t)n;
    return 1;
}

int veil_p2p_lp_reader_drain(veil_p2p_lp_reader *r, const void *data, size_t len,
                             int (*on_msg)(void *arg, const uint8_t *msg, size_t len,
                                           veil_err *err),
                             void *arg, veil_err *err)
{
    if (veil_p2p_lp_reader_feed(r, data, len, err) != 0)
        return -1;
    for (;;) {
        const uint8_t *msg;
        size_t n;
        int rc = veil_p2p_lp_reader_next(r, &msg, &n, err);
        if (rc <= 0)
            return rc;
        if (on_msg(arg, msg, n, err) != 0)
            return -1;
    }
}

bool veil_p2p_lp_reader_empty(const veil_p2p_lp_reader *r)
{
    return r->buf.len == r->pos;
}

void veil_p2p_lp_put(veil_buf *out, const void *msg, size_t len)
{
    veil_buf_put_uvarint(out, len);
    veil_buf_put(out, msg, len);
}

/* ---- inbound streams of the framed protocol hosts ------------------------- */

/* One copy of the inbound-stream lifecycle gossipsub_host.c, kad_host.c and
 * swim_host.c used to repeat (see veil_p2p_lp_inbound in p2p_internal.h). */

static void lp_inbound_free(veil_p2p_lp_inbound *in)
{
    for (veil_p2p_lp_inbound **pp = in->list; *pp; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    }
    veil_p2p_lp_reader_free(&in->rd);
    free(in);
}

void veil_p2p_lp_inbound_drop(veil_p2p_lp_inbound *in)
{
    veil_p2p_stream *s = in->stream;
    lp_inbound_free(in);
    veil_p2p_stream_reset(s);
}

void veil_p2p_lp_inbound_drop_all(veil_p2p_lp_inbound **list)
{
    while (*list)
        veil_p2p_lp_inbound_drop(*list);
}

static void lp_inbound_on_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *ud)
{
    veil_p2p_lp_inbound *in = ud;
    const struct veil_p2p_lp_inbound_ops *ops = in->ops;
    void *owner = in->owner;
    veil_err err;
    if (veil_p2p_lp_reader_drain(&in->rd, data, len, ops->on_msg, in, &err) != 0) {
        if (veil_log_enabled(ops->log_level))
            veil_log(ops->log_level, ops->log_sub, ops->log_msg, "peer=%s err=\"%s\"",
                     veil_p2p_peer_id_str(&in->from).s, err.msg);
        lp_inbound_free(in);
        veil_p2p_stream_reset(s);
    }
    if (ops->after_data)
        ops->after_data(owner);
}

static void lp_inbound_on_eof(veil_p2p_stream *s, void *ud)
{
    (void)ud;
    veil_p2p_stream_close_write(s, NULL);
}

static void lp_inbound_on_close(veil_p2p_stream *s, const veil_err *err, void *ud)
{
    (void)s;
    (void)err;
    lp_inbound_free(ud);
}

veil_p2p_lp_inbound *veil_p2p_lp_inbound_open(veil_p2p_lp_inbound **list, veil_p2p_stream *s,
                                              size_t max_len,
                                              const struct veil_p2p_lp_inbound_ops *ops,
                                              void *owner)
{
    veil_p2p_lp_inbound *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    in->owner = owner;
    in->stream = s;
    in->from = *veil_p2p_stream_peer(s);
    in->ops = ops;
    in->list = list;
    veil_p2p_lp_reader_init(&in->rd, max_len);
    in->next = *list;
    *list = in;
    static const struct veil_p2p_stream_callbacks cbs = {
        .on_data = lp_inbound_on_data,
        .on_eof = lp_inbound_on_eof,
        .on_close = lp_inbound_on_close,
    };
    veil_p2p_stream_set_callbacks(s, &cbs, in);
    return in;
}
