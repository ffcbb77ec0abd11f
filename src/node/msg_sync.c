// SPDX-License-Identifier: Apache-2.0
/*
 * msg_sync.c - encoding and bounds-checked decoding of the node-to-node
 * sync messages of include/veil/msg_sync.h (the inclusion-proof request
 * and its answer; the catch-up request and its answer). Pure: no I/O; every count and depth from
 * the wire is checked before use.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/msg_sync.h>

int veil_msg_proof_request_encode(veil_buf *out, const struct veil_proof_query *q, size_t n,
                                  veil_err *err)
{
    if (n == 0 || n > VEIL_PROOF_QUERY_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "proof request of %zu commitments (1..%d)", n,
                            VEIL_PROOF_QUERY_MAX);
    veil_buf_put_u8(out, VEIL_PROOF_VERSION);
    veil_buf_put_u16be(out, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        veil_buf_put(out, q[i].job, 32);
        veil_buf_put(out, q[i].commitment, 32);
    }
    return veil_buf_ok(out) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

/* version || count, both checked */
static int read_head(veil_reader *r, size_t cap, size_t *n, const char *what, veil_err *err)
{
    uint8_t v = veil_read_u8(r);
    uint16_t count = veil_read_u16be(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_PARSE, "%s: truncated header", what);
    if (v != VEIL_PROOF_VERSION)
        return veil_err_set(err, VEIL_E_PARSE, "%s: version %u (want %d)", what, v,
                            VEIL_PROOF_VERSION);
    if (count > VEIL_PROOF_QUERY_MAX || count > cap)
        return veil_err_set(err, VEIL_E_RANGE, "%s: %u entries (at most %d)", what, count,
                            VEIL_PROOF_QUERY_MAX);
    *n = count;
    return 0;
}

int veil_msg_proof_request_decode(const uint8_t *data, size_t len, struct veil_proof_query *q,
                                  size_t cap, size_t *n, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    size_t count = 0;
    *n = 0;
    if (read_head(&r, cap, &count, "proof request", err) != 0)
        return -1;
    if (count == 0)
        return veil_err_set(err, VEIL_E_PARSE, "proof request: no commitment");
    for (size_t i = 0; i < count; i++) {
        veil_read_bytes(&r, q[i].job, 32);
        veil_read_bytes(&r, q[i].commitment, 32);
    }
    if (!veil_reader_ok(&r) || !veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "proof request: truncated or trailing bytes");
    *n = count;
    return 0;
}

int veil_msg_proof_answer_encode(veil_buf *out, const struct veil_proof_answer *a, size_t n,
                                 veil_err *err)
{
    if (n > VEIL_PROOF_QUERY_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "proof answer of %zu entries (at most %d)", n,
                            VEIL_PROOF_QUERY_MAX);
    veil_buf_put_u8(out, VEIL_PROOF_VERSION);
    veil_buf_put_u16be(out, (uint16_t)n);
    for (size_t i = 0; i < n; i++) {
        if (a[i].depth > VEIL_PROOF_DEPTH_MAX)
            return veil_err_set(err, VEIL_E_RANGE, "proof of depth %u (at most %d)", a[i].depth,
                                VEIL_PROOF_DEPTH_MAX);
        veil_buf_put(out, a[i].job, 32);
        veil_buf_put(out, a[i].commitment, 32);
        veil_buf_put_u64be(out, a[i].epoch);
        veil_buf_put(out, a[i].root, 32);
        veil_buf_put(out, a[i].tx, 32);
        veil_buf_put_u8(out, a[i].depth);
        for (unsigned k = 0; k < a[i].depth; k++)
            veil_buf_put(out, a[i].proof[k], 32);
    }
    return veil_buf_ok(out) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

int veil_msg_proof_answer_decode(const uint8_t *data, size_t len, struct veil_proof_answer *a,
                                 size_t cap, size_t *n, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    size_t count = 0;
    *n = 0;
    if (read_head(&r, cap, &count, "proof answer", err) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        struct veil_proof_answer *x = &a[i];
        veil_read_bytes(&r, x->job, 32);
        veil_read_bytes(&r, x->commitment, 32);
        x->epoch = veil_read_u64be(&r);
        veil_read_bytes(&r, x->root, 32);
        veil_read_bytes(&r, x->tx, 32);
        x->depth = veil_read_u8(&r);
        if (!veil_reader_ok(&r))
            return veil_err_set(err, VEIL_E_PARSE, "proof answer: entry %zu truncated", i);
        if (x->depth > VEIL_PROOF_DEPTH_MAX)
            return veil_err_set(err, VEIL_E_RANGE, "proof answer: depth %u (at most %d)", x->depth,
                                VEIL_PROOF_DEPTH_MAX);
        for (unsigned k = 0; k < x->depth; k++)
            veil_read_bytes(&r, x->proof[k], 32);
    }
    if (!veil_reader_ok(&r) || !veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "proof answer: truncated or trailing bytes");
    *n = count;
    return 0;
}

/* ---- catch-up ---- */

void veil_catchup_digest_add(struct veil_catchup_digest *d, uint32_t replica,
                             const uint8_t commitment[32])
{
    static const char domain[] = "veil/catch-up/v1";
    uint8_t be[4] = {(uint8_t)(replica >> 24), (uint8_t)(replica >> 16), (uint8_t)(replica >> 8),
                     (uint8_t)replica};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&st, d->acc, 32);
    crypto_generichash_update(&st, be, 4);
    crypto_generichash_update(&st, commitment, 32);
    crypto_generichash_final(&st, d->acc, 32);
    d->any = true;
}

void veil_catchup_digest_final(const struct veil_catchup_digest *d, uint8_t out[32])
{
    if (d->any)
        memcpy(out, d->acc, 32);
    else
        memset(out, 0, 32);
}

int veil_msg_catchup_request_encode(veil_buf *out, const struct veil_catchup_have *h, size_t n,
                                    veil_err *err)
{
    if (n > VEIL_CATCHUP_JOBS_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "catch-up request of %zu jobs (at most %d)", n,
                            VEIL_CATCHUP_JOBS_MAX);
    veil_buf_put_u8(out, VEIL_PROOF_VERSION);
    veil_buf_put_u32be(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        veil_buf_put(out, h[i].job, 32);
        veil_buf_put(out, h[i].digest, 32);
    }
    return veil_buf_ok(out) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

int veil_msg_catchup_request_decode(const uint8_t *data, size_t len, struct veil_catchup_have **h,
                                    size_t *n, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    *h = NULL;
    *n = 0;
    uint8_t v = veil_read_u8(&r);
    uint32_t count = veil_read_u32be(&r);
    if (!veil_reader_ok(&r) || v != VEIL_PROOF_VERSION)
        return veil_err_set(err, VEIL_E_PARSE, "catch-up request: bad header");
    if (count > VEIL_CATCHUP_JOBS_MAX || veil_reader_remaining(&r) != (size_t)count * 64)
        return veil_err_set(err, VEIL_E_RANGE, "catch-up request: %u jobs in %zu bytes", count,
                            veil_reader_remaining(&r));
    if (count == 0)
        return 0;
    struct veil_catchup_have *v2 = calloc(count, sizeof *v2);
    if (!v2)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < count; i++) {
        veil_read_bytes(&r, v2[i].job, 32);
        veil_read_bytes(&r, v2[i].digest, 32);
    }
    if (!veil_reader_ok(&r)) {
        free(v2);
        return veil_err_set(err, VEIL_E_PARSE, "catch-up request: truncated");
    }
    *h = v2;
    *n = count;
    return 0;
}

int veil_msg_catchup_answer_encode(veil_buf *out, const struct veil_catchup_answer *a,
                                   veil_err *err)
{
    if (a->n > VEIL_CATCHUP_ASG_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "catch-up answer of %zu assignments (at most %d)",
                            a->n, VEIL_CATCHUP_ASG_MAX);
    veil_buf_put_u8(out, VEIL_PROOF_VERSION);
    veil_buf_put_u16be(out, a->announced);
    veil_buf_put_u16be(out, (uint16_t)a->n);
    for (size_t i = 0; i < a->n; i++) {
        if (a->asg_len[i] == 0 || a->asg_len[i] > VEIL_CATCHUP_ASG_LEN)
            return veil_err_set(err, VEIL_E_RANGE, "catch-up assignment of %zu bytes",
                                a->asg_len[i]);
        veil_buf_put_u16be(out, (uint16_t)a->asg_len[i]);
        veil_buf_put(out, a->asg[i], a->asg_len[i]);
    }
    return veil_buf_ok(out) ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
}

int veil_msg_catchup_answer_decode(const uint8_t *data, size_t len, struct veil_catchup_answer *a,
                                   veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    memset(a, 0, sizeof *a);
    uint8_t v = veil_read_u8(&r);
    a->announced = veil_read_u16be(&r);
    uint16_t count = veil_read_u16be(&r);
    if (!veil_reader_ok(&r) || v != VEIL_PROOF_VERSION)
        return veil_err_set(err, VEIL_E_PARSE, "catch-up answer: bad header");
    if (count > VEIL_CATCHUP_ASG_MAX)
        return veil_err_set(err, VEIL_E_RANGE, "catch-up answer: %u assignments (at most %d)",
                            count, VEIL_CATCHUP_ASG_MAX);
    for (uint16_t i = 0; i < count; i++) {
        uint16_t l = veil_read_u16be(&r);
        if (!veil_reader_ok(&r) || l == 0 || l > VEIL_CATCHUP_ASG_LEN)
            return veil_err_set(err, VEIL_E_PARSE, "catch-up answer: assignment %u of %u bytes", i,
                                l);
        a->asg[i] = veil_read_borrow(&r, l);
        a->asg_len[i] = l;
        if (!veil_reader_ok(&r))
            return veil_err_set(err, VEIL_E_PARSE, "catch-up answer: assignment %u truncated", i);
    }
    if (!veil_reader_at_end(&r))
        return veil_err_set(err, VEIL_E_PARSE, "catch-up answer: trailing bytes");
    a->n = count;
    return 0;
}
