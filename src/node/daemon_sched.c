// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_sched.c - the FHE side of scheduling (owned by the veild
 * integration): a node's telemetry words as one compact public-key ciphertext
 * list (VEIL_TELEMETRY_WORDS = 11 x 16-bit values = 88 two-bit blocks in one
 * RLWE ciphertext, ~17 KB, where eleven separate radix ciphertexts would be
 * ~1.4 MB), its expansion into
 * 16-bit radix ciphertexts where it is computed on, a confidential job's
 * request as one such list (6 words) and its expansion, the scheduling circuit
 * of src/node/schedule.c over the FHE library (every circuit op is one
 * veil_fhe_* call; public or encrypted request), and the decryption of a
 * round's output by the decryptor.
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

/* Operand counts the circuit passes (checked: the casts below index args). */
static bool arity_ok(enum veil_sched_op op, size_t n)
{
    switch (op) {
    case VEIL_SCHED_OP_LT:
    case VEIL_SCHED_OP_NE:
    case VEIL_SCHED_OP_AND:
        return n == 2;
    case VEIL_SCHED_OP_LT_SCALAR:
    case VEIL_SCHED_OP_NE_SCALAR:
    case VEIL_SCHED_OP_EQ_SCALAR:
    case VEIL_SCHED_OP_NOT:
    case VEIL_SCHED_OP_TRUNCATE:
        return n == 1;
    case VEIL_SCHED_OP_SUM_BITS:
    case VEIL_SCHED_OP_SUM_WEIGHTED:
    case VEIL_SCHED_OP_ARGMIN:
    case VEIL_SCHED_OP_ARGMIN_REPLICAS:
    case VEIL_SCHED_OP_FLAG_TOP:
        return n >= 1;
    case VEIL_SCHED_OP_SUM_MASKED:
        return n >= 2 && n % 2 == 0;
    case VEIL_SCHED_OP_CONST:
        return n == 0;
    }
    return false;
}

/* The argmin's index width: 8 bits when every label fits, half the
 * output's index blocks (the labels are the same at every scheduler, so is
 * the width). */
static unsigned index_width(const struct veil_sched_call *call)
{
    uint64_t top = 0;
    for (size_t i = 0; i < call->n_args; i++)
        top = call->labels[i] > top ? call->labels[i] : top;
    return top < 256 ? 8 : WORD_BITS;
}

/* SUM_WEIGHTED: the FHE op reads each operand's width, so the bools the
 * circuit puts last must be booleans and the others 16-bit values. */
static int sum_weighted(veil_fhe_server *sk, const struct veil_sched_call *call, veil_fhe_ct **o,
                        veil_err *err)
{
    const veil_fhe_ct *const *a = (const veil_fhe_ct *const *)call->args;
    size_t n = call->n_args;
    if (call->k >= n || !call->weights)
        return veil_err_set(err, VEIL_E_INTERNAL, "SUM_WEIGHTED with %llu bools of %zu",
                            (unsigned long long)call->k, n);
    for (size_t i = 0; i < n; i++) {
        unsigned want = i >= n - (size_t)call->k ? 1 : WORD_BITS;
        if (veil_fhe_ct_width(a[i]) != want)
            return veil_err_set(err, VEIL_E_INTERNAL, "SUM_WEIGHTED operand %zu: %u bits, not %u",
                                i, veil_fhe_ct_width(a[i]), want);
    }
    return veil_fhe_sum_weighted(sk, a, call->weights, n, (unsigned)call->k2, o, err);
}

static int fhe_eval(void *ctx, const struct veil_sched_call *call, veil_sched_ct **out,
                    veil_sched_ct **out2, veil_err *err)
{
    veil_fhe_server *sk = ctx;
    const veil_fhe_ct *const *a = (const veil_fhe_ct *const *)call->args;
    veil_fhe_ct **o = (veil_fhe_ct **)out;
    size_t n = call->n_args;
    if (!arity_ok(call->op, n))
        return veil_err_set(err, VEIL_E_INTERNAL, "circuit op %d with %zu operands", (int)call->op,
                            n);
    switch (call->op) {
    case VEIL_SCHED_OP_LT:
        return veil_fhe_binop(sk, VEIL_FHE_LT, a[0], a[1], o, err);
    case VEIL_SCHED_OP_NE:
        return veil_fhe_binop(sk, VEIL_FHE_NE, a[0], a[1], o, err);
    case VEIL_SCHED_OP_LT_SCALAR:
        return veil_fhe_scalar(sk, VEIL_FHE_LT_SCALAR, a[0], call->k, o, err);
    case VEIL_SCHED_OP_NE_SCALAR:
        return veil_fhe_scalar(sk, VEIL_FHE_NE_SCALAR, a[0], call->k, o, err);
    case VEIL_SCHED_OP_EQ_SCALAR:
        return veil_fhe_scalar(sk, VEIL_FHE_EQ_SCALAR, a[0], call->k, o, err);
    case VEIL_SCHED_OP_AND:
        return veil_fhe_binop(sk, VEIL_FHE_AND, a[0], a[1], o, err);
    case VEIL_SCHED_OP_NOT:
        return veil_fhe_not(sk, a[0], o, err);
    case VEIL_SCHED_OP_TRUNCATE:
        return veil_fhe_truncate(sk, a[0], (unsigned)call->k, o, err);
    case VEIL_SCHED_OP_SUM_BITS:
        return veil_fhe_sum_bits(sk, a, n, (unsigned)call->k, (unsigned)call->k2, o, err);
    case VEIL_SCHED_OP_SUM_MASKED:
        return veil_fhe_sum_bits_masked(sk, a, a + n / 2, n / 2, (unsigned)call->k,
                                        (unsigned)call->k2, o, err);
    case VEIL_SCHED_OP_FLAG_TOP:
        return veil_fhe_flag_top(sk, a[0], a + 1, n - 1, o, err);
    case VEIL_SCHED_OP_SUM_WEIGHTED: /* the last call->k operands are bools */
        return sum_weighted(sk, call, o, err);
    case VEIL_SCHED_OP_ARGMIN:
        if (!out2)
            return veil_err_set(err, VEIL_E_INTERNAL, "ARGMIN without its found output");
        return veil_fhe_argmin_labeled(sk, a, call->labels, n, index_width(call), o,
                                       (veil_fhe_ct **)out2, err);
    case VEIL_SCHED_OP_ARGMIN_REPLICAS: /* out and out2: arrays of k */
        if (!out2)
            return veil_err_set(err, VEIL_E_INTERNAL, "ARGMIN_REPLICAS without its found outputs");
        return veil_fhe_argmin_replicas(sk, a, call->labels, n, index_width(call), (size_t)call->k,
                                        o, (veil_fhe_ct **)out2, NULL, err);
    case VEIL_SCHED_OP_CONST:
        return veil_fhe_trivial(sk, call->k2 == 1 ? 1 : WORD_BITS, call->k, o, err);
    }
    return veil_err_set(err, VEIL_E_INTERNAL, "unknown circuit op %d", (int)call->op);
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

/* The k outputs of an argmin, replica 0's first, each ct length-prefixed:
 * (index, found) pairs, or with `key` (a shard's k-list) (index, found, key)
 * triples. Written only when `write`; the cts are freed either way. */
static int put_outputs(veil_buf *out, veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **key,
                       size_t k, bool write, veil_err *err)
{
    int rc = 0;
    for (size_t r = 0; r < k && write && rc == 0; r++) {
        rc = put_ct(out, index[r], err);
        if (rc == 0)
            rc = put_ct(out, found[r], err);
        if (rc == 0 && key)
            rc = put_ct(out, key[r], err);
    }
    for (size_t r = 0; r < k; r++) {
        veil_fhe_ct_free(index[r]);
        veil_fhe_ct_free(found[r]);
        index[r] = found[r] = NULL;
        if (key) {
            veil_fhe_ct_free(key[r]);
            key[r] = NULL;
        }
    }
    return rc;
}

static int schedule(veil_fhe_server *sk, const struct veil_sched_request *req,
                    veil_fhe_ct *const *req_words, veil_fhe_ct *const *node_words, size_t n_nodes,
                    const bool *excluded, size_t k, veil_buf *out, bool *none,
                    struct veil_sched_ops *ops, veil_err *err)
{
    struct veil_sched_backend be = {.ctx = sk, .eval = fhe_eval, .release = fhe_release};
    struct veil_sched_circuit_in in = {0};
    in.req = req;
    for (int w = 0; req_words && w < VEIL_DAEMON_REQUEST_WORDS; w++)
        in.req_words[w] = (const veil_sched_ct *)req_words[w];
    in.node_words = (const veil_sched_ct *const *)node_words;
    in.n_nodes = n_nodes;
    in.excluded = excluded;
    veil_sched_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0};
    if (veil_sched_circuit_replicas(&be, &in, k, index, found, ops, err) != 0)
        return -1;
    *none = index[0] == NULL;
    int rc = 0;
    for (size_t r = 0; r < k && !*none && rc == 0; r++) {
        rc = put_ct(out, (veil_fhe_ct *)index[r], err);
        if (rc == 0)
            rc = put_ct(out, (veil_fhe_ct *)found[r], err);
    }
    for (size_t r = 0; r < k; r++) {
        veil_fhe_ct_free((veil_fhe_ct *)index[r]);
        veil_fhe_ct_free((veil_fhe_ct *)found[r]);
    }
    return rc;
}

int veil_daemon_schedule(veil_fhe_server *sk, const struct veil_sched_request *req,
                         veil_fhe_ct *const *node_words, size_t n_nodes, const bool *excluded,
                         veil_buf *out, bool *none, struct veil_sched_ops *ops, veil_err *err)
{
    if (req->confidential)
        return veil_err_set(err, VEIL_E_INVALID,
                            "confidential request without its ciphertexts (use "
                            "veil_daemon_schedule_confidential)");
    return schedule(sk, req, NULL, node_words, n_nodes, excluded, 1, out, none, ops, err);
}

int veil_daemon_schedule_confidential(veil_fhe_server *sk, const struct veil_sched_request *req,
                                      veil_fhe_ct *const req_words[VEIL_DAEMON_REQUEST_WORDS],
                                      veil_fhe_ct *const *node_words, size_t n_nodes,
                                      const bool *excluded, veil_buf *out, bool *none,
                                      struct veil_sched_ops *ops, veil_err *err)
{
    if (!req->confidential)
        return veil_err_set(err, VEIL_E_INVALID, "confidential round on a public request");
    return veil_daemon_schedule_batch(sk, req, req_words, node_words, n_nodes, excluded, 1, out,
                                      none, ops, err);
}

int veil_daemon_schedule_batch(veil_fhe_server *sk, const struct veil_sched_request *req,
                               veil_fhe_ct *const *req_words, veil_fhe_ct *const *node_words,
                               size_t n_nodes, const bool *excluded, size_t k, veil_buf *out,
                               bool *none, struct veil_sched_ops *ops, veil_err *err)
{
    *none = true;
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "%zu replicas in one round (1 to %d)", k,
                            VEIL_SCHED_MAX_REPLICAS);
    if (!req->confidential)
        return schedule(sk, req, NULL, node_words, n_nodes, excluded, k, out, none, ops, err);
    for (int w = 0; w < VEIL_DAEMON_REQUEST_WORDS; w++)
        if (!req_words || !req_words[w] || veil_fhe_ct_width(req_words[w]) != WORD_BITS)
            return veil_err_set(err, VEIL_E_INVALID,
                                "confidential request word %d missing or not 16-bit", w);
    /* The circuit reads only the ciphertexts: scrub the public copy so that a
     * caller's leftover plaintext can never influence (or leak into) a round. */
    struct veil_sched_request blind = {.policy = req->policy,
                                       .latency_to = req->latency_to,
                                       .latency_weight = req->latency_weight,
                                       .load_weight = req->load_weight,
                                       .confidential = true};
    return schedule(sk, &blind, req_words, node_words, n_nodes, excluded, k, out, none, ops, err);
}

int veil_daemon_key_encrypt(const veil_fhe_public *pk, uint16_t key, veil_buf *out, veil_err *err)
{
    uint64_t v = key;
    int rc = veil_fhe_compact_encrypt(pk, WORD_BITS, &v, 1, out, err);
    veil_memzero(&v, sizeof v);
    return rc == 0 ? 0 : veil_err_wrap(err, "node key");
}

int veil_daemon_key_expand(const uint8_t *data, size_t len, veil_fhe_ct **out, veil_err *err)
{
    *out = NULL;
    if (veil_fhe_compact_expand(data, len, WORD_BITS, out, 1, err) != 0)
        return veil_err_wrap(err, "node key ciphertext");
    return 0;
}

/* The argmin (k = 1) or k tournaments over the m keys with their labels. */
static int keys_argmin(veil_fhe_server *sk, const veil_fhe_ct *const *keys, const uint64_t *labels,
                       size_t m, size_t k, veil_buf *out, uint64_t *pbs, veil_err *err)
{
    unsigned width = labels[m - 1] < 256 ? 8 : WORD_BITS; /* labels ascend */
    veil_fhe_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0};
    uint64_t p0 = veil_fhe_server_pbs_count(sk);
    int rc = k == 1
                 ? veil_fhe_argmin_node_keys(sk, keys, labels, m, width, &index[0], &found[0], err)
                 : veil_fhe_argmin_replicas(sk, keys, labels, m, width, k, index, found, pbs, err);
    if (k == 1)
        *pbs = veil_fhe_server_pbs_count(sk) - p0;
    int wrc = put_outputs(out, index, found, NULL, k, rc == 0, err);
    return rc != 0 ? rc : wrc;
}

/* The keys of the candidates not excluded, each labelled with its index in
 * the round (`first` + its position): `live`/`labels` are allocated here
 * (freed by the caller, also on error), *m their count. */
static int live_keys(veil_fhe_ct *const *keys, size_t n, const bool *excluded, size_t first,
                     const veil_fhe_ct ***live, uint64_t **labels, size_t *m, veil_err *err)
{
    *m = 0;
    *live = calloc(n + 1, sizeof **live);
    *labels = calloc(n + 1, sizeof **labels);
    if (!*live || !*labels)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (excluded && excluded[i])
            continue;
        if (!keys[i] || veil_fhe_ct_width(keys[i]) != WORD_BITS)
            return veil_err_set(err, VEIL_E_INVALID, "node key %zu missing or not 16-bit", i);
        (*live)[*m] = keys[i];
        (*labels)[(*m)++] = first + i;
    }
    return 0;
}

int veil_daemon_schedule_keys(veil_fhe_server *sk, veil_fhe_ct *const *keys, size_t n,
                              const bool *excluded, size_t k, veil_buf *out, bool *none,
                              uint64_t *pbs, veil_err *err)
{
    *none = true;
    *pbs = 0;
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS || n > VEIL_SCHED_MAX_NODES)
        return veil_err_set(err, VEIL_E_INVALID, "%zu replicas over %zu keys", k, n);
    const veil_fhe_ct **live = NULL;
    uint64_t *labels = NULL;
    size_t m = 0;
    int rc = live_keys(keys, n, excluded, 0, &live, &labels, &m, err);
    *none = m == 0; /* no candidate: unschedulable, publicly known (as the circuit) */
    if (rc == 0 && m > 0)
        rc = keys_argmin(sk, live, labels, m, k, out, pbs, err);
    free(live);
    free(labels);
    return rc;
}

/* A shard's top k with keys: the keyed argmin (k = 1, as before batches of
 * sharded rounds) or the keyed replicas tournament. */
static int argmin_top_k(veil_fhe_server *sk, const veil_fhe_ct *const *vals,
                        const uint64_t *labels, size_t m, unsigned width, size_t k,
                        veil_fhe_ct **index, veil_fhe_ct **found, veil_fhe_ct **key, uint64_t *pbs,
                        veil_err *err)
{
    if (k == 1)
        return veil_fhe_argmin_keyed(sk, vals, labels, m, width, index, found, key, pbs, err);
    return veil_fhe_argmin_replicas_keyed(sk, vals, labels, m, width, k, index, found, key, pbs,
                                          err);
}

int veil_daemon_schedule_shard_keys(veil_fhe_server *sk, veil_fhe_ct *const *keys, size_t n,
                                    const bool *excluded, size_t first, size_t total, size_t k,
                                    veil_buf *fhe_out, bool *none, uint64_t *pbs, veil_err *err)
{
    *none = true;
    *pbs = 0;
    if (first > total || n > total - first || total > VEIL_SCHED_MAX_NODES || k == 0 ||
        k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "shard [%zu, +%zu) of %zu candidates, k = %zu",
                            first, n, total, k);
    const veil_fhe_ct **live = NULL;
    uint64_t *labels = NULL;
    size_t m = 0;
    int rc = live_keys(keys, n, excluded, first, &live, &labels, &m, err);
    *none = m == 0;
    veil_fhe_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0},
                *key[VEIL_SCHED_MAX_REPLICAS] = {0};
    if (rc == 0 && m > 0)
        rc = argmin_top_k(sk, live, labels, m, total <= 256 ? 8 : WORD_BITS, k, index, found, key,
                          pbs, err);
    int wrc = put_outputs(fhe_out, index, found, key, k, rc == 0 && m > 0, err);
    rc = rc != 0 ? rc : wrc;
    free(live);
    free(labels);
    return rc;
}

int veil_daemon_request_encrypt(const veil_fhe_public *pk, const struct veil_sched_request *req,
                                veil_buf *out, veil_err *err)
{
    uint64_t values[VEIL_DAEMON_REQUEST_WORDS];
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        values[r] = req->res[r];
    values[VEIL_RES_COUNT] = req->region;
    values[VEIL_RES_COUNT + 1] = req->zone;
    size_t before = out->len;
    int rc = veil_fhe_compact_encrypt(pk, WORD_BITS, values, VEIL_DAEMON_REQUEST_WORDS, out, err);
    veil_memzero(values, sizeof values);
    if (rc != 0)
        return veil_err_wrap(err, "confidential request");
    if (out->len - before > VEIL_DAEMON_REQUEST_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "confidential request: %zu bytes (at most %u)",
                            out->len - before, VEIL_DAEMON_REQUEST_MAX);
    return 0;
}

int veil_daemon_request_expand(const uint8_t *data, size_t len,
                               veil_fhe_ct *out[VEIL_DAEMON_REQUEST_WORDS], veil_err *err)
{
    for (int w = 0; w < VEIL_DAEMON_REQUEST_WORDS; w++)
        out[w] = NULL;
    if (len > VEIL_DAEMON_REQUEST_MAX)
        return veil_err_set(err, VEIL_E_LIMIT, "confidential request: %zu bytes (at most %u)", len,
                            VEIL_DAEMON_REQUEST_MAX);
    if (veil_fhe_compact_expand(data, len, WORD_BITS, out, VEIL_DAEMON_REQUEST_WORDS, err) != 0)
        return veil_err_wrap(err, "confidential request ciphertext");
    return 0;
}

void veil_daemon_output_cts_free(veil_fhe_ct **index, veil_fhe_ct **found, size_t k)
{
    for (size_t j = 0; j < k && j < VEIL_SCHED_MAX_REPLICAS; j++) {
        veil_fhe_ct_free(index[j]);
        veil_fhe_ct_free(found[j]);
        index[j] = found[j] = NULL;
    }
}

/* One length-prefixed ciphertext of the given widths (w2 = 0: w1 only). */
static int read_ct(veil_reader *r, unsigned w1, unsigned w2, veil_fhe_ct **ct, veil_err *err)
{
    uint32_t n = veil_read_u32be(r);
    const uint8_t *p = veil_read_borrow(r, n);
    if (!veil_reader_ok(r) || !p || n == 0)
        return veil_err_set(err, VEIL_E_PARSE, "scheduler output truncated");
    if (veil_fhe_ct_deserialize(p, n, ct, err) != 0)
        return veil_err_wrap(err, "scheduler output");
    unsigned w = veil_fhe_ct_width(*ct);
    if (w != w1 && (w2 == 0 || w != w2))
        return veil_err_set(err, VEIL_E_PROTOCOL, "scheduler output: a %u-bit ciphertext", w);
    return 0;
}

int veil_daemon_output_cts_parse(const uint8_t *data, size_t len, size_t k, veil_fhe_ct **index,
                                 veil_fhe_ct **found, veil_err *err)
{
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "%zu (index, found) pairs (1 to %d)", k,
                            VEIL_SCHED_MAX_REPLICAS);
    for (size_t j = 0; j < k; j++)
        index[j] = found[j] = NULL;
    veil_reader r;
    veil_reader_init(&r, data, len);
    int rc = 0;
    for (size_t j = 0; j < k && rc == 0; j++) {
        rc = read_ct(&r, 8, 16, &index[j], err);
        if (rc == 0)
            rc = read_ct(&r, 1, 0, &found[j], err);
    }
    if (rc == 0 && veil_reader_remaining(&r) != 0)
        rc = veil_err_set(err, VEIL_E_PARSE, "scheduler output: trailing bytes after %zu pairs", k);
    if (rc != 0)
        veil_daemon_output_cts_free(index, found, k);
    return rc;
}

int veil_daemon_output_decrypt_k(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                                 size_t k, uint32_t *index, bool *found, veil_err *err)
{
    veil_fhe_ct *ci[VEIL_SCHED_MAX_REPLICAS], *cf[VEIL_SCHED_MAX_REPLICAS];
    if (veil_daemon_output_cts_parse(data, len, k, ci, cf, err) != 0)
        return -1;
    int rc = 0;
    for (size_t j = 0; j < k && rc == 0; j++) {
        uint64_t vi = 0, vf = 0;
        rc = veil_fhe_decrypt(ck, ci[j], &vi, err);
        if (rc == 0)
            rc = veil_fhe_decrypt(ck, cf[j], &vf, err);
        index[j] = (uint32_t)vi;
        found[j] = vf != 0;
    }
    veil_daemon_output_cts_free(ci, cf, k);
    return rc;
}

int veil_daemon_output_decrypt(const veil_fhe_client *ck, const uint8_t *data, size_t len,
                               uint32_t *index, bool *found, veil_err *err)
{
    return veil_daemon_output_decrypt_k(ck, data, len, 1, index, found, err);
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
    /* each candidate takes at least two bytes: no allocation beyond the message */
    if (!veil_reader_ok(&r) || n > VEIL_SCHED_MAX_NODES || n > veil_reader_remaining(&r) / 2)
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

/* ---- sharded rounds ---- */

/* The circuit's backend for one shard: every op as fhe_eval, except that the
 * argmin (k = 1: ARGMIN; a batch: ARGMIN_REPLICAS) labels its candidates
 * with their round-wide indices at the round's index width and keeps the
 * winners' keys (the shard's k-list). */
struct shard_backend {
    veil_fhe_server *sk;
    uint64_t first;
    unsigned width;
    size_t k;
    bool ran;                                  /* the argmin ran: keys are set */
    veil_fhe_ct *key[VEIL_SCHED_MAX_REPLICAS]; /* the winners' keys */
};

static int shard_eval(void *ctx, const struct veil_sched_call *call, veil_sched_ct **out,
                      veil_sched_ct **out2, veil_err *err)
{
    struct shard_backend *b = ctx;
    size_t k = call->op == VEIL_SCHED_OP_ARGMIN_REPLICAS ? (size_t)call->k : 1;
    if (call->op != VEIL_SCHED_OP_ARGMIN && call->op != VEIL_SCHED_OP_ARGMIN_REPLICAS)
        return fhe_eval(b->sk, call, out, out2, err);
    if (!out2 || call->n_args == 0 || b->ran || k != b->k)
        return veil_err_set(err, VEIL_E_INTERNAL, "shard argmin without its operands");
    uint64_t *labels = malloc(call->n_args * sizeof *labels);
    if (!labels)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < call->n_args; i++)
        labels[i] = b->first + call->labels[i];
    int rc = argmin_top_k(b->sk, (const veil_fhe_ct *const *)call->args, labels, call->n_args,
                          b->width, k, (veil_fhe_ct **)out, (veil_fhe_ct **)out2, b->key, NULL,
                          err);
    b->ran = rc == 0;
    free(labels);
    return rc;
}

/* Keys known publicly (the circuit chose with CONSTs) arise only for a
 * request with no resource and no label: then every key is 0 (no score
 * term, no failed condition), in every shard alike. The circuit's CONST
 * indices are the shard's local labels: the r-th winner is its r-th
 * candidate, found while r < its candidates, named here by its round-wide
 * index at the round's width like the encrypted ones (the merge selects
 * among them); the others get an infeasible key (2^14: a flagged 0, as the
 * tournament would give), so they never win a merge. */
static int public_winners(struct shard_backend *b, const bool *excluded, size_t n_nodes,
                          veil_fhe_ct **index, veil_err *err)
{
    size_t i = 0;
    for (size_t r = 0; r < b->k; r++) {
        while (i < n_nodes && excluded && excluded[i])
            i++;
        bool found = i < n_nodes; /* the r-th candidate */
        veil_fhe_ct_free(index[r]);
        index[r] = NULL;
        if (veil_fhe_trivial(b->sk, b->width, b->first + (found ? i++ : 0), &index[r], err) != 0 ||
            veil_fhe_trivial(b->sk, WORD_BITS, found ? 0 : VEIL_SCHED_FLAG_BASE, &b->key[r],
                             err) != 0)
            return -1;
    }
    return 0;
}

int veil_daemon_schedule_shard(veil_fhe_server *sk, const struct veil_sched_request *req,
                               veil_fhe_ct *const *req_words, veil_fhe_ct *const *node_words,
                               size_t n_nodes, const bool *excluded, size_t first, size_t total,
                               size_t k, veil_buf *fhe_out, bool *none, veil_err *err)
{
    *none = true;
    if (first > total || n_nodes > total - first || total > VEIL_SCHED_MAX_NODES || k == 0 ||
        k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "shard [%zu, +%zu) of %zu candidates, k = %zu",
                            first, n_nodes, total, k);
    struct shard_backend b = {
        .sk = sk, .first = first, .width = total <= 256 ? 8 : WORD_BITS, .k = k};
    struct veil_sched_backend be = {.ctx = &b, .eval = shard_eval, .release = fhe_release};
    struct veil_sched_request blind = {.policy = req->policy, .confidential = true};
    struct veil_sched_circuit_in in = {.req = req_words ? &blind : req,
                                       .node_words = (const veil_sched_ct *const *)node_words,
                                       .n_nodes = n_nodes,
                                       .excluded = excluded};
    for (int w = 0; req_words && w < VEIL_DAEMON_REQUEST_WORDS; w++)
        in.req_words[w] = (const veil_sched_ct *)req_words[w];
    veil_sched_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0};
    int rc = veil_sched_circuit_replicas(&be, &in, k, index, found, NULL, err);
    *none = rc != 0 || index[0] == NULL;
    if (rc == 0 && !*none && !b.ran)
        rc = public_winners(&b, excluded, n_nodes, (veil_fhe_ct **)index, err);
    int wrc = put_outputs(fhe_out, (veil_fhe_ct **)index, (veil_fhe_ct **)found, b.key, k,
                          rc == 0 && !*none, err);
    return rc != 0 ? rc : wrc;
}

int veil_daemon_shard_output_encode(veil_buf *out, uint32_t total, uint32_t first, uint32_t k,
                                    const struct veil_peer_id *cands, uint32_t n, bool none,
                                    const uint8_t *fhe, size_t fhe_len, veil_err *err)
{
    if (k == 0 || k > VEIL_SCHED_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_INVALID, "shard output of %u replicas", k);
    veil_buf_put_u8(out, VEIL_SHARD_OUTPUT_TAG);
    veil_buf_put_u32be(out, total);
    veil_buf_put_u32be(out, first);
    veil_buf_put_u32be(out, n);
    veil_buf_put_u8(out, (uint8_t)k);
    for (uint32_t i = 0; i < n; i++) {
        veil_buf_put_u8(out, cands[i].len);
        veil_buf_put(out, cands[i].bytes, cands[i].len);
    }
    veil_buf_put_u8(out, none ? 1 : 0);
    if (!none)
        veil_buf_put(out, fhe, fhe_len);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return 0;
}

void veil_daemon_shard_output_free(struct veil_shard_output *o)
{
    free(o->cands);
    free(o->ct);
    memset(o, 0, sizeof *o);
}

static int shard_parse_fail(struct veil_shard_output *o, veil_err *err, const char *what)
{
    veil_daemon_shard_output_free(o);
    return veil_err_set(err, VEIL_E_PARSE, "shard output: %s", what);
}

/* The k triples after the candidates: each ciphertext length-prefixed,
 * non-empty, inside the data (borrowed). */
static int shard_parse_cts(veil_reader *r, struct veil_shard_output *o)
{
    /* every ciphertext takes at least five bytes: no allocation beyond the data */
    if ((size_t)3 * o->k > veil_reader_remaining(r) / 5)
        return -1;
    o->ct = calloc((size_t)3 * o->k, sizeof *o->ct);
    if (!o->ct)
        return -1;
    for (size_t i = 0; i < (size_t)3 * o->k; i++) {
        uint32_t n = veil_read_u32be(r);
        o->ct[i].data = veil_read_borrow(r, n);
        o->ct[i].len = n;
        if (!veil_reader_ok(r) || !o->ct[i].data || n == 0)
            return -1;
    }
    return 0;
}

int veil_daemon_shard_output_parse(const uint8_t *data, size_t len, struct veil_shard_output *o,
                                   veil_err *err)
{
    memset(o, 0, sizeof *o);
    veil_reader r;
    veil_reader_init(&r, data, len);
    uint8_t tag = veil_read_u8(&r);
    o->total = veil_read_u32be(&r);
    o->first = veil_read_u32be(&r);
    o->n = veil_read_u32be(&r);
    o->k = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || tag != VEIL_SHARD_OUTPUT_TAG)
        return shard_parse_fail(o, err, "bad header");
    if (o->k == 0 || o->k > VEIL_SCHED_MAX_REPLICAS)
        return shard_parse_fail(o, err, "bad replica count");
    /* every candidate takes at least two bytes: no allocation beyond the data */
    if (o->total > VEIL_SCHED_MAX_NODES || o->first > o->total || o->n > o->total - o->first ||
        o->n > veil_reader_remaining(&r) / 2)
        return shard_parse_fail(o, err, "bad candidate range");
    o->cands = calloc(o->n + 1, sizeof *o->cands);
    if (!o->cands)
        return shard_parse_fail(o, err, "out of memory");
    for (uint32_t k = 0; k < o->n && veil_reader_ok(&r); k++) {
        uint8_t l = veil_read_u8(&r);
        if (l == 0 || l > VEIL_PEER_ID_MAX)
            veil_reader_fail(&r);
        o->cands[k].len = l;
        if (veil_reader_ok(&r))
            veil_read_bytes(&r, o->cands[k].bytes, l);
    }
    uint8_t flag = veil_read_u8(&r);
    if (!veil_reader_ok(&r) || flag > 1)
        return shard_parse_fail(o, err, "malformed candidates");
    o->none = flag == 1;
    if (!o->none && shard_parse_cts(&r, o) != 0)
        return shard_parse_fail(o, err, "ciphertexts truncated");
    if (veil_reader_remaining(&r) != 0)
        return shard_parse_fail(o, err, "trailing bytes");
    return 0;
}

/* The shards tile [0, total) in order, all with the same total. */
static int shards_tile(const struct veil_shard_output *s, size_t n, veil_err *err)
{
    uint64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].total != s[0].total || s[i].first != next)
            return veil_err_set(err, VEIL_E_PROTOCOL,
                                "shard %zu covers [%u, +%u) of %u: not the next range after %llu "
                                "of %u",
                                i, s[i].first, s[i].n, s[i].total, (unsigned long long)next,
                                s[0].total);
        next += s[i].n;
    }
    if (n == 0 || next != s[0].total)
        return veil_err_set(err, VEIL_E_PROTOCOL, "shards cover %llu of %u candidates",
                            (unsigned long long)next, n ? s[0].total : 0);
    return 0;
}

/* The merged k (index, found) pairs of the shards that have winners: one
 * shard winner each merged by veil_fhe_argmin_merge (k = 1), or their
 * k-lists, shard s's r-th winner at position s k + r, merged by
 * veil_fhe_argmin_merge_replicas (equal to the unsharded batch). */
static int merge_k(veil_fhe_server *sk, veil_fhe_ct **keys, veil_fhe_ct **idx, size_t m, size_t k,
                   veil_buf *out, veil_err *err)
{
    veil_fhe_ct *index[VEIL_SCHED_MAX_REPLICAS] = {0}, *found[VEIL_SCHED_MAX_REPLICAS] = {0};
    veil_fhe_ct *key = NULL;
    int rc = k == 1 ? veil_fhe_argmin_merge(sk, (const veil_fhe_ct *const *)keys,
                                            (const veil_fhe_ct *const *)idx, m, &index[0],
                                            &found[0], &key, NULL, err)
                    : veil_fhe_argmin_merge_replicas(sk, (const veil_fhe_ct *const *)keys,
                                                     (const veil_fhe_ct *const *)idx, m, k, index,
                                                     found, NULL, err);
    int wrc = put_outputs(out, index, found, NULL, k, rc == 0, err);
    veil_fhe_ct_free(key);
    return rc != 0 ? rc : wrc;
}

static int merge_winners(veil_fhe_server *sk, const struct veil_shard_output *s, size_t n,
                         size_t k, veil_buf *out, veil_err *err)
{
    veil_fhe_ct **keys = calloc(n * k + 1, sizeof *keys), **idx = calloc(n * k + 1, sizeof *idx);
    size_t m = 0;
    int rc = keys && idx ? 0 : veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        for (size_t r = 0; !s[i].none && r < k && rc == 0; r++, m++)
            if (veil_fhe_ct_deserialize(s[i].ct[3 * r].data, s[i].ct[3 * r].len, &idx[m], err) !=
                    0 ||
                veil_fhe_ct_deserialize(s[i].ct[3 * r + 2].data, s[i].ct[3 * r + 2].len, &keys[m],
                                        err) != 0)
                rc = veil_err_wrap(err, "shard %zu output, replica %zu", i, r);
    }
    if (rc == 0)
        rc = merge_k(sk, keys, idx, m, k, out, err);
    for (size_t i = 0; i < m && keys && idx; i++) {
        veil_fhe_ct_free(keys[i]);
        veil_fhe_ct_free(idx[i]);
    }
    free(keys);
    free(idx);
    return rc;
}

int veil_daemon_shard_merge(veil_fhe_server *sk, const struct veil_shard_output *shards,
                            size_t n_shards, size_t k, veil_buf *out, veil_err *err)
{
    if (shards_tile(shards, n_shards, err) != 0)
        return -1;
    for (size_t i = 0; i < n_shards; i++)
        if (shards[i].k != k) /* the schedulers' stores made another batch */
            return veil_err_set(err, VEIL_E_PROTOCOL, "shard %zu: %u replicas, not %zu", i,
                                shards[i].k, k);
    veil_buf_put_u32be(out, shards[0].total);
    bool none = true;
    for (size_t i = 0; i < n_shards; i++) {
        none &= shards[i].none;
        for (uint32_t c = 0; c < shards[i].n; c++) {
            veil_buf_put_u8(out, shards[i].cands[c].len);
            veil_buf_put(out, shards[i].cands[c].bytes, shards[i].cands[c].len);
        }
    }
    veil_buf_put_u8(out, none ? 1 : 0);
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return none ? 0 : merge_winners(sk, shards, n_shards, k, out, err);
}
