/*
 * daemon_sched.c - the FHE side of scheduling (owned by the veild
 * integration): a node's telemetry words as one compact public-key ciphertext
 * list (7 x 16-bit values = 56 two-bit blocks in one RLWE ciphertext, ~17 KB,
 * where seven separate radix ciphertexts would be ~900 KB), its expansion into
 * 16-bit radix ciphertexts where it is computed on, the scheduling circuit of
 * src/node/schedule.c over the FHE library (every circuit op is one veil_fhe_*
 * call), and the decryption of a round's output by the decryptor.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/fhe.h>
#include <veil/node.h>

#include "daemon_sched.h"

#define WORD_BITS 16

int veil_daemon_telemetry_encrypt(const veil_fhe_public *pk,
                                  const uint16_t words[VEIL_TELEMETRY_WORDS], veil_buf *out,
                                  veil_err *err)
{
    uint64_t values[VEIL_TELEMETRY_WORDS];
    for (size_t w = 0; w < VEIL_TELEMETRY_WORDS; w++)
        values[w] = words[w];
    int rc = veil_fhe_compact_encrypt(pk, WORD_BITS, values, VEIL_TELEMETRY_WORDS, out, err);
    veil_memzero(values, sizeof values);
    return rc;
}

int veil_daemon_telemetry_expand(const uint8_t *data, size_t len,
                                 veil_fhe_ct *out[VEIL_TELEMETRY_WORDS], veil_err *err)
{
    if (veil_fhe_compact_expand(data, len, WORD_BITS, out, VEIL_TELEMETRY_WORDS, err) != 0)
        return veil_err_wrap(err, "telemetry ciphertext");
    return 0;
}

/* ---- the circuit's backend over the FHE library ---- */

static int fhe_apply(void *ctx, enum veil_sched_op op, const veil_sched_ct *a,
                     const veil_sched_ct *b, uint64_t k, veil_sched_ct **out, veil_err *err)
{
    veil_fhe_server *sk = ctx;
    const veil_fhe_ct *x = (const veil_fhe_ct *)a, *y = (const veil_fhe_ct *)b;
    veil_fhe_ct **o = (veil_fhe_ct **)out;
    switch (op) {
    case VEIL_SCHED_OP_LE:
        return veil_fhe_binop(sk, VEIL_FHE_LE, x, y, o, err);
    case VEIL_SCHED_OP_LT:
        return veil_fhe_binop(sk, VEIL_FHE_LT, x, y, o, err);
    case VEIL_SCHED_OP_EQ:
        return veil_fhe_binop(sk, VEIL_FHE_EQ, x, y, o, err);
    case VEIL_SCHED_OP_NE:
        return veil_fhe_binop(sk, VEIL_FHE_NE, x, y, o, err);
    case VEIL_SCHED_OP_AND:
        return veil_fhe_binop(sk, VEIL_FHE_AND, x, y, o, err);
    case VEIL_SCHED_OP_OR:
        return veil_fhe_binop(sk, VEIL_FHE_OR, x, y, o, err);
    case VEIL_SCHED_OP_ADD:
        return veil_fhe_binop(sk, VEIL_FHE_ADD, x, y, o, err);
    case VEIL_SCHED_OP_SUB:
        return veil_fhe_binop(sk, VEIL_FHE_SUB, x, y, o, err);
    case VEIL_SCHED_OP_ADD_SCALAR:
        return veil_fhe_scalar(sk, VEIL_FHE_ADD_SCALAR, x, k, o, err);
    case VEIL_SCHED_OP_SUB_SCALAR:
        return veil_fhe_scalar(sk, VEIL_FHE_SUB_SCALAR, x, k, o, err);
    case VEIL_SCHED_OP_SHR:
        return veil_fhe_scalar(sk, VEIL_FHE_SHR, x, k, o, err);
    case VEIL_SCHED_OP_NOT:
        return veil_fhe_not(sk, x, o, err);
    }
    return veil_err_set(err, VEIL_E_INTERNAL, "unknown circuit op %d", (int)op);
}

static int fhe_select(void *ctx, const veil_sched_ct *cond, const veil_sched_ct *a,
                      const veil_sched_ct *b, veil_sched_ct **out, veil_err *err)
{
    return veil_fhe_select(ctx, (const veil_fhe_ct *)cond, (const veil_fhe_ct *)a,
                           (const veil_fhe_ct *)b, (veil_fhe_ct **)out, err);
}

static void fhe_release(void *ctx, veil_sched_ct *v)
{
    (void)ctx;
    veil_fhe_ct_free((veil_fhe_ct *)v);
}

static int put_ct(veil_buf *out, const veil_fhe_ct *ct, veil_err *err)
{
    veil_buf tmp;
    veil_buf_init(&tmp);
    int rc = veil_fhe_ct_serialize(ct, &tmp, err);
    if (rc == 0) {
        veil_buf_put_u32be(out, (uint32_t)tmp.len);
        veil_buf_put(out, tmp.data, tmp.len);
        if (!veil_buf_ok(out))
            rc = veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    veil_buf_free(&tmp);
    return rc;
}

int veil_daemon_schedule(veil_fhe_server *sk, const struct veil_sched_request *req,
                         veil_fhe_ct *const *node_words, size_t n_nodes, const bool *excluded,
                         veil_buf *out, bool *none, struct veil_sched_ops *ops, veil_err *err)
{
    struct veil_sched_backend be = {
        .ctx = sk, .apply = fhe_apply, .select = fhe_select, .release = fhe_release};
    struct veil_sched_circuit_in in = {0};
    in.req = req;
    in.node_words = (const veil_sched_ct *const *)node_words;
    in.n_nodes = n_nodes;
    in.excluded = excluded;
    veil_sched_ct *index = NULL, *found = NULL;
    if (veil_sched_circuit(&be, &in, &index, &found, ops, err) != 0)
        return -1;
    *none = index == NULL;
    int rc = 0;
    if (!*none) {
        rc = put_ct(out, (veil_fhe_ct *)index, err);
        if (rc == 0)
            rc = put_ct(out, (veil_fhe_ct *)found, err);
    }
    veil_fhe_ct_free((veil_fhe_ct *)index);
    veil_fhe_ct_free((veil_fhe_ct *)found);
    return rc;
}

int veil_daemon_output_decrypt(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                               uint32_t *index, bool *found, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    veil_fhe_ct *cts[2] = {NULL, NULL};
    uint64_t vals[2] = {0, 0};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        uint32_t n = veil_read_u32be(&r);
        const uint8_t *p = veil_read_borrow(&r, n);
        if (!veil_reader_ok(&r) || !p)
            rc = veil_err_set(err, VEIL_E_PARSE, "scheduler output truncated");
        else if (veil_fhe_ct_deserialize(p, n, &cts[i], err) != 0)
            rc = veil_err_wrap(err, "scheduler output");
        else
            rc = veil_fhe_decrypt(ck, cts[i], &vals[i], err);
    }
    if (rc == 0 && veil_reader_remaining(&r) != 0)
        rc = veil_err_set(err, VEIL_E_PARSE, "scheduler output: trailing bytes");
    if (rc == 0 && (veil_fhe_ct_width(cts[1]) != 1 || veil_fhe_ct_width(cts[0]) != 16))
        rc = veil_err_set(err, VEIL_E_PROTOCOL, "scheduler output: wrong widths");
    veil_fhe_ct_free(cts[0]);
    veil_fhe_ct_free(cts[1]);
    if (rc == 0) {
        *index = (uint32_t)vals[0];
        *found = vals[1] != 0;
    }
    return rc;
}

int veil_daemon_output_parse(const uint8_t *data, size_t len, struct veil_peer_id **cands,
                             size_t *n_cands, bool *none, const uint8_t **fhe, size_t *fhe_len,
                             veil_err *err)
{
    *cands = NULL;
    *n_cands = 0;
    veil_reader r;
    veil_reader_init(&r, data, len);
    uint32_t n = veil_read_u32be(&r);
    if (!veil_reader_ok(&r) || n > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_PARSE, "scheduler output: bad candidate count");
    struct veil_peer_id *c = calloc(n + 1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (uint32_t k = 0; k < n && veil_reader_ok(&r); k++) {
        uint8_t l = veil_read_u8(&r);
        if (l == 0 || l > VEIL_PEER_ID_MAX) {
            veil_reader_fail(&r);
            break;
        }
        c[k].len = l;
        veil_read_bytes(&r, c[k].bytes, l);
    }
    uint8_t flag = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || flag > 1) {
        free(c);
        return veil_err_set(err, VEIL_E_PARSE, "scheduler output: malformed candidates");
    }
    *none = flag == 1;
    *fhe = data + r.pos;
    *fhe_len = veil_reader_remaining(&r);
    if (*none && *fhe_len != 0) {
        free(c);
        return veil_err_set(err, VEIL_E_PARSE, "scheduler output: trailing bytes");
    }
    *cands = c;
    *n_cands = n;
    return 0;
}

int veil_daemon_output_msg_parse(const uint8_t *data, size_t len, uint8_t job_id[32],
                                 uint32_t *replica, uint64_t *epoch, const uint8_t **output,
                                 size_t *output_len, veil_err *err)
{
    veil_reader r;
    veil_reader_init(&r, data, len);
    veil_read_bytes(&r, job_id, 32);
    *replica = veil_read_u32be(&r);
    *epoch = veil_read_u64be(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_PARSE, "scheduler output message truncated");
    *output = data + r.pos;
    *output_len = veil_reader_remaining(&r);
    return 0;
}
