// SPDX-License-Identifier: Apache-2.0
/*
 * client.c - veil_chain_client: one RPC endpoint, the chain id checked once
 * at open, an optional signer, and the nonce manager. Sending holds the
 * nonce lock from nonce choice to the node's answer, so concurrent senders
 * get consecutive nonces; a nonce is consumed only when the node accepted
 * the transaction (or, after an ambiguous transport failure, when the node's
 * pending count shows it did), so none is reused or skipped. Also receipt
 * waiting and the confirmation-depth log follower.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <veil/chain.h>

#include "chain_internal.h"

struct veil_chain_client {
    veil_rpc *rpc;
    uint64_t chain_id;
    bool has_signer;
    veil_eth_key signer;
    veil_eth_address contract;
    bool has_contract;
    long receipt_timeout_ms;
    enum veil_tx_type tx_type;
    pthread_mutex_t nonce_lock;
    bool nonce_known;
    uint64_t next_nonce;
};

int veil_chain_client_open(veil_chain_client **out, const veil_chain_options *opts, veil_err *err)
{
    veil_chain_client *c = calloc(1, sizeof *c);
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "chain: out of memory");
    pthread_mutex_init(&c->nonce_lock, NULL);
    if (veil_rpc_open(&c->rpc, opts->rpc_url, &opts->rpc, err) != 0) {
        veil_chain_client_close(c);
        return -1;
    }
    int asked = veil_rpc_chain_id(c->rpc, &c->chain_id, err);
    bool unreachable =
        asked != 0 && err && (err->code == VEIL_E_NETWORK || err->code == VEIL_E_TIMEOUT);
    if (unreachable && opts->defer_chain_check && opts->expected_chain_id) {
        c->chain_id = opts->expected_chain_id; /* asked again before the first request */
        veil_rpc_expect_chain_id(c->rpc, c->chain_id);
    } else if (asked != 0) {
        veil_chain_client_close(c);
        return veil_err_wrap(err, "asking %s for its chain id", opts->rpc_url);
    }
    if (opts->expected_chain_id && opts->expected_chain_id != c->chain_id) {
        uint64_t got = c->chain_id;
        veil_chain_client_close(c);
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "chain id mismatch: %s is chain %llu, expected %llu (refusing to "
                            "sign)",
                            opts->rpc_url, (unsigned long long)got,
                            (unsigned long long)opts->expected_chain_id);
    }
    if (opts->signer) {
        c->signer = *opts->signer;
        c->has_signer = true;
    }
    c->contract = opts->contract;
    c->has_contract = opts->has_contract;
    c->receipt_timeout_ms = opts->receipt_timeout_ms > 0 ? opts->receipt_timeout_ms : 60000;
    c->tx_type = opts->tx_type == VEIL_TX_LEGACY ? VEIL_TX_LEGACY : VEIL_TX_EIP1559;
    *out = c;
    return 0;
}

void veil_chain_client_close(veil_chain_client *c)
{
    if (!c)
        return;
    veil_rpc_close(c->rpc);
    veil_eth_key_wipe(&c->signer);
    pthread_mutex_destroy(&c->nonce_lock);
    free(c);
}

veil_rpc *veil_chain_client_rpc(veil_chain_client *c)
{
    return c->rpc;
}

uint64_t veil_chain_client_chain_id(const veil_chain_client *c)
{
    return c->chain_id;
}

const veil_eth_address *veil_chain_client_signer(const veil_chain_client *c)
{
    return c->has_signer ? &c->signer.address : NULL;
}

void veil_chain_client_set_contract(veil_chain_client *c, const veil_eth_address *a)
{
    c->contract = *a;
    c->has_contract = true;
}

int veil_chain_client_contract(const veil_chain_client *c, veil_eth_address *out)
{
    if (!c->has_contract)
        return -1;
    *out = c->contract;
    return 0;
}

void veil_tx_result_clear(veil_tx_result *r)
{
    veil_eth_receipt_clear(&r->receipt);
}

void veil_pending_txs_free(veil_pending_tx *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        free(t[i].input);
    free(t);
}

/* eth_getTransactionBySenderAndNonce: 1 found, 0 unknown (mined meanwhile,
 * or dropped), -1 error. */
static int tx_by_nonce(veil_rpc *rpc, const veil_eth_address *from, uint64_t nonce,
                       veil_pending_tx *out, veil_err *err)
{
    char params[96] = "[\"0x";
    veil_hex_encode(params + 4, 41, from->b, 20);
    snprintf(params + 44, sizeof params - 44, "\",\"0x%llx\"]", (unsigned long long)nonce);
    char *res = NULL;
    if (veil_rpc_call(rpc, "eth_getTransactionBySenderAndNonce", params, &res, NULL, NULL, err) !=
        0)
        return -1;
    json_t *j = json_loads(res, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(res);
    int rc = 0;
    if (json_is_object(j)) {
        out->nonce = nonce;
        rc = veil_chain_parse_hex_fixed(json_string_value(json_object_get(j, "hash")), out->hash,
                                        32, err) == 0 &&
                     veil_chain_parse_hex_data(json_string_value(json_object_get(j, "input")),
                                               &out->input, &out->input_len, err) == 0
                 ? 1
                 : veil_err_wrap(err, "transaction of nonce %llu", (unsigned long long)nonce);
    }
    json_decref(j);
    return rc;
}

int veil_chain_pending_txs(veil_chain_client *c, veil_pending_tx **out, size_t *n,
                           uint64_t *n_pending, veil_err *err)
{
    *out = NULL;
    *n = 0;
    *n_pending = 0;
    if (!c->has_signer)
        return veil_err_set(err, VEIL_E_STATE, "chain: no signer configured");
    uint64_t mined, pending;
    if (veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "latest", &mined, err) != 0 ||
        veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "pending", &pending, err) != 0)
        return -1;
    if (pending <= mined)
        return 0;
    *n_pending = pending - mined;
    if (*n_pending > 1024)
        return veil_err_set(err, VEIL_E_LIMIT, "chain: %llu transactions pending",
                            (unsigned long long)*n_pending);
    veil_pending_tx *t = calloc(*n_pending, sizeof *t);
    if (!t)
        return veil_err_set(err, VEIL_E_NOMEM, "chain: out of memory");
    size_t k = 0;
    for (uint64_t nonce = mined; nonce < pending; nonce++) {
        veil_err e2 = {0};
        int r = tx_by_nonce(c->rpc, &c->signer.address, nonce, &t[k], &e2);
        if (r < 0) {
            veil_pending_txs_free(t, k);
            if (err)
                *err = e2;
            if (e2.code == VEIL_E_PROTOCOL) /* the method is not served */
                return veil_err_set(err, VEIL_E_UNSUPPORTED,
                                    "chain: cannot look pending transactions up by nonce: %s",
                                    e2.msg);
            return -1;
        }
        k += (size_t)r;
    }
    *out = t;
    *n = k;
    return 0;
}

int veil_chain_next_nonce(veil_chain_client *c, uint64_t *out, veil_err *err)
{
    if (!c->has_signer)
        return veil_err_set(err, VEIL_E_STATE, "chain: no signer configured");
    pthread_mutex_lock(&c->nonce_lock);
    int rc = 0;
    if (!c->nonce_known) {
        rc = veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "pending", &c->next_nonce,
                                            err);
        c->nonce_known = rc == 0;
    }
    if (rc == 0)
        *out = c->next_nonce;
    pthread_mutex_unlock(&c->nonce_lock);
    return rc;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int veil_chain_wait_receipt(veil_chain_client *c, const uint8_t tx_hash[32], long timeout_ms,
                            veil_eth_receipt *out, veil_err *err)
{
    long deadline = now_ms() + timeout_ms;
    long interval = 50;
    for (;;) {
        if (veil_rpc_get_receipt(c->rpc, tx_hash, out, err) != 0)
            return -1;
        if (out->found)
            return 0;
        if (now_ms() >= deadline)
            return veil_err_set(err, VEIL_E_TIMEOUT, "no receipt after %ld ms", timeout_ms);
        veil_chain_sleep_ms(interval);
        if (interval < 1000)
            interval *= 2;
    }
}

/* Fills fees: EIP-1559 max fee = 2 x next base fee + tip (survives six
 * full blocks of base-fee growth); legacy gas price = base fee + tip. */
static int fill_fees(veil_chain_client *c, veil_tx *tx, veil_err *err)
{
    uint64_t tip = 0, base = 0;
    if (veil_rpc_max_priority_fee(c->rpc, &tip, err) != 0 ||
        veil_rpc_next_base_fee(c->rpc, &base, err) != 0)
        return -1;
    if (tx->type == VEIL_TX_EIP1559) {
        tx->max_priority_fee_per_gas = tip;
        tx->max_fee_per_gas = 2 * base + tip;
    } else {
        tx->gas_price = base + tip;
    }
    return 0;
}

static bool msg_has(const veil_err *e, const char *needle)
{
    return e && strstr(e->msg, needle) != NULL;
}

int veil_chain_send(veil_chain_client *c, const veil_eth_address *to, const uint8_t *data,
                    size_t len, veil_tx_result *res, veil_err *err)
{
    memset(res, 0, sizeof *res);
    if (!c->has_signer)
        return veil_err_set(err, VEIL_E_STATE, "chain: no signer configured (--keystore)");
    veil_tx tx = {.type = c->tx_type, .chain_id = c->chain_id, .has_to = to != NULL};
    if (to)
        tx.to = *to;
    tx.data = data;
    tx.data_len = len;
    uint64_t gas;
    if (veil_rpc_estimate_gas(c->rpc, &c->signer.address, to, data, len, &gas, err) != 0)
        return -1;
    tx.gas_limit = gas + gas / 4;
    if (fill_fees(c, &tx, err) != 0)
        return -1;

    pthread_mutex_lock(&c->nonce_lock);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t chain_pending;
        if (c->nonce_known &&
            veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "pending", &chain_pending,
                                           NULL) == 0 &&
            chain_pending < c->next_nonce)
            c->nonce_known = false; /* a reorg dropped sent ones: a gap would never be mined */
        if (!c->nonce_known) {
            if (veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "pending",
                                               &c->next_nonce, err) != 0)
                goto unlock;
            c->nonce_known = true;
        }
        tx.nonce = c->next_nonce;
        veil_buf raw;
        veil_buf_init(&raw);
        if (veil_tx_sign(&tx, &c->signer, &raw, res->tx_hash, err) != 0) {
            veil_buf_free(&raw);
            goto unlock;
        }
        uint8_t node_hash[32];
        int sent = veil_rpc_send_raw(c->rpc, raw.data, raw.len, node_hash, err);
        veil_buf_free(&raw);
        /* "already known": a transport-level retry delivered the same
         * signed bytes twice; the first copy is in the pool. */
        if (sent == 0 || msg_has(err, "already known") || msg_has(err, "known transaction")) {
            c->next_nonce++;
            rc = 0;
            goto unlock;
        }
        if (err && err->code == VEIL_E_NETWORK) {
            /* Ambiguous: the node may have taken it. Its pending count says. */
            uint64_t pending;
            veil_err e2 = {0};
            if (veil_rpc_get_transaction_count(c->rpc, &c->signer.address, "pending", &pending,
                                               &e2) == 0 &&
                pending > tx.nonce) {
                c->next_nonce = pending;
                rc = 0;
                goto unlock;
            }
            c->nonce_known = false;
            goto unlock;
        }
        if (attempt == 0 && (msg_has(err, "nonce too low") || msg_has(err, "nonce too high"))) {
            /* Another sender used this account: resynchronise once. */
            c->nonce_known = false;
            continue;
        }
        goto unlock;
    }
unlock:
    pthread_mutex_unlock(&c->nonce_lock);
    if (rc != 0)
        return -1;
    if (veil_chain_wait_receipt(c, res->tx_hash, c->receipt_timeout_ms, &res->receipt, err) != 0)
        return -1;
    if (!res->receipt.status) {
        /* Replay as a call to learn why it reverted. */
        uint8_t *ret = NULL;
        size_t ret_len = 0;
        veil_err why = {0};
        if (veil_rpc_eth_call(c->rpc, &c->signer.address, to, data, len, &ret, &ret_len, &why) ==
            0) {
            free(ret);
            return veil_err_set(err, VEIL_E_STATE, "transaction reverted in block %llu",
                                (unsigned long long)res->receipt.block_number);
        }
        return veil_err_set(err, VEIL_E_STATE, "transaction reverted: %s", why.msg);
    }
    return 0;
}

/* ------------------------------------------------------------------ log follower */

void veil_log_follower_init(veil_log_follower *f, uint64_t from_block, uint64_t confirmations)
{
    memset(f, 0, sizeof *f);
    f->next_block = from_block;
    f->confirmations = confirmations;
    f->max_range = 1000;
}

int veil_log_follower_poll(veil_log_follower *f, veil_rpc *rpc, const veil_eth_address *address,
                           veil_log_cb cb, void *user, veil_err *err)
{
    uint64_t head;
    if (veil_rpc_block_number(rpc, &head, err) != 0)
        return -1;
    if (f->have_last && f->next_block > 0) {
        uint8_t h[32];
        if (veil_rpc_block_hash(rpc, f->next_block - 1, h, err) != 0)
            return -1;
        if (memcmp(h, f->last_hash, 32) != 0) {
            /* The block we ended on was replaced: a reorg deeper than the
             * confirmation depth. Step back past it and deliver again
             * (consumers key logs by block hash + index). */
            uint64_t back = f->confirmations + 1;
            f->next_block = f->next_block > back ? f->next_block - back : 0;
            f->have_last = false;
            f->reorgs_seen++;
        }
    }
    if (head < f->confirmations)
        return 0;
    uint64_t safe = head - f->confirmations;
    while (f->next_block <= safe) {
        uint64_t to = safe;
        if (to - f->next_block + 1 > f->max_range)
            to = f->next_block + f->max_range - 1;
        uint8_t before[32], after[32];
        veil_eth_log *logs;
        size_t n;
        if (veil_rpc_block_hash(rpc, to, before, err) != 0 ||
            veil_rpc_get_logs_paged(rpc, address, f->next_block, to, NULL, 0, f->max_range,
                                    &logs, &n, err) != 0)
            return -1;
        if (veil_rpc_block_hash(rpc, to, after, err) != 0) {
            veil_eth_logs_free(logs, n);
            return -1;
        }
        if (memcmp(before, after, 32) != 0) {
            veil_eth_logs_free(logs, n); /* chain moved under us: ask again */
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (logs[i].removed)
                continue;
            if (cb(&logs[i], user) != 0) {
                veil_eth_logs_free(logs, n);
                return veil_err_set(err, VEIL_E_STATE, "log callback stopped the follower");
            }
        }
        veil_eth_logs_free(logs, n);
        memcpy(f->last_hash, after, 32);
        f->have_last = true;
        f->next_block = to + 1;
    }
    return 0;
}
