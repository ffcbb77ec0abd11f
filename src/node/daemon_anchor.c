// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_anchor.c - veild's on-chain anchoring of assignment commitments
 * (owned by the "net" part of the veild integration).
 *
 * Every assignment the store holds has a commitment keccak(cluster, job,
 * replica, node, output digest, epoch) (anchor.c). In batch mode the
 * commitments of one batch epoch (a fixed number of telemetry epochs, so
 * every node groups them the same way) are anchored as ONE anchorBatch
 * (VeilRegistry) whose Merkle root is built exactly as verifyInclusion
 * checks it; in single mode each one is an anchorDeployment.
 *
 * One node sends: the cluster's designated decryptor (key holder 1 in a
 * threshold cluster), which has every commitment without waiting on
 * gossip. The others find the anchors on chain and keep the inclusion proofs
 * of the assignments they recorded (their own tree over the same commitments
 * must give the anchored root, nothing is taken on trust). When the sender
 * is dead, the first live node of a fixed order takes over after a silence
 * (`acting`, `takeover_ms`): it sends a batch epoch's anchor only when none
 * is on chain yet, so that the batch is not doubled when the sender merely
 * was slow, and sends no late commitment alone (only the sender, which has
 * every commitment, can tell which ones its batch lacked).
 *
 * Crash safety lives in SQLite (the anchors table) and on chain:
 *   - before a transaction is sent, its rows are written with an empty tx
 *     hash (an intent); after the receipt they get the hash;
 *   - a restarted sender first looks on chain for the intent's root (or the
 *     single commitment) and only sends again when it is not there, so a
 *     crash between sending and recording neither loses nor doubles a batch;
 *   - a log counts as evidence (steps 1-3 record from it) only once it is
 *     chain.confirmations deep (block <= head - confirmations), the depth
 *     the registry follower uses; a reorg within that depth (anvil_reorg in
 *     the chaos suite) cannot leave a row naming a dropped transaction. The
 *     sender keeps its rows as intents after the receipt; while its batch
 *     (or single) is mined but not confirmed, or still pending, step 4
 *     waits; once a reorg dropped it (no log at any depth, no pending tx,
 *     no batch of the epoch on chain) it sends the same batch again - one
 *     batch per epoch stays the contract's rule. Rows recorded before this
 *     rule (at depth 0) are checked once per start: the first pass scans
 *     from block 0, and a recorded row whose transaction has no anchoring
 *     log at any depth becomes an intent again on the sender (released on
 *     the others, matched again from the chain);
 *   - a transaction sent but not mined when the sender crashed is found
 *     among the sender's pending nonces (veil_chain_pending_txs: its
 *     calldata holds the intent's root or commitment), and the sender waits
 *     for it instead of sending a second batch for the same epoch; where
 *     the endpoint cannot look nonces up, any pending transaction makes it
 *     wait;
 *   - reading anchors pages eth_getLogs (public providers refuse wide
 *     ranges), and the chain client fails over between the endpoints of
 *     chain.rpc_url (a comma-separated list);
 *   - the contract takes one batch per epoch (BatchEpochAnchored): a batch
 *     it refuses (a stand-in and the sender raced) is never sent again; its
 *     intents are released (their rows get the zero root) and matched
 *     against the epoch's batch on chain like any other node's assignments:
 *     by rebuilding its tree, or by proofs from the peers that hold them;
 *   - an assignment whose batch epoch was already anchored (it was decided
 *     after the batch went out, e.g. a decryptor that was down) is anchored
 *     on its own by the sender: at once when the sender's rows account for
 *     the whole batch on chain (its count), else only once the proofs from
 *     peers had their time (it may be in another node's batch).
 *
 * Off the loop (issue 18): in veild each tick's pass runs on a libuv worker
 * (struct veil_anchor_host) over the anchorer's own connection to the
 * store and the shared chain client, one pass at a time, on a copy of the
 * anchorer whose scan state is written back on the loop thread; a hanging
 * RPC holds that worker, never the loop. The proofs from peers (below) are
 * answered and accepted on the loop without any chain read: accept checks
 * a peer's root against the confirmed batch roots the scans collected.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon_anchor.h"

#define SUB "anchor"

#define ANCHOR_RESCAN 256  /* blocks searched again on each pass */
#define LOGS_PAGE     2000 /* blocks per eth_getLogs (halved when a provider refuses) */
/* Past the sender's time (its longest hold included) and any stand-in's,
 * with a margin: a batch not matched by then was anchored without some
 * assignment this node lacks. */
#define PROOF_OVERDUE_MS 30000
/* After that, the time proofs from peers get before the sender anchors
 * alone what no batch on chain is known to hold. */
#define PROOF_FETCH_GRACE_MS 60000
/* Confirmed batch roots remembered (one per batch epoch on chain; the
 * oldest go first). */
#define ROOTS_MAX 4096

/* The root of a released intent: its batch was refused (another batch
 * holds the epoch), it is matched like an assignment never sent. */
static const uint8_t RELEASED_ROOT[32];

enum item_state { IT_NONE, IT_INTENT, IT_DONE };

struct item {
    uint8_t job[32], commitment[32];
    char job_hex[65], commitment_hex[65];
    uint64_t epoch; /* the assignment's telemetry epoch */
    uint64_t batch; /* its batch epoch */
    enum item_state st;
    bool single;        /* a recorded row for a single anchor (or a batch of one) */
    uint8_t root[32];   /* recorded row's root */
    char *proof_json;   /* recorded row's proof */
    uint64_t row_epoch; /* recorded row's epoch (batch epoch for batches) */
    bool seen;          /* its batch epoch was looked up on chain in this pass */
    char tx_hex[67];    /* recorded row's transaction ("0x..."; empty for an intent) */
};

struct chain_log {
    bool batch;     /* BatchAnchored, else DeploymentAnchored */
    bool confirmed; /* at least a->confirmations deep: counts as evidence */
    uint8_t tx[32];
    uint8_t *blob; /* topics || data: searched for the anchored values */
    size_t len;
};

static bool hex32(uint8_t out[32], const char *s)
{
    if (!s)
        return false;
    if (s[0] == '0' && s[1] == 'x')
        s += 2;
    return strlen(s) == 64 && veil_hex_decode(out, 32, s, 64, false, NULL) == 32;
}

static void items_free(struct item *it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(it[i].proof_json);
    free(it);
}

/* The store's assignments, each with its anchor row if any. */
static int load_items(struct veil_anchorer *a, struct item **out, size_t *n_out, veil_err *err)
{
    *out = NULL;
    *n_out = 0;
    json_t *asg = veil_store_list_json(a->store, "assignments", err);
    if (!asg)
        return -1;
    json_t *anc = veil_store_list_json(a->store, "anchors", err);
    if (!anc) {
        json_decref(asg);
        return -1;
    }
    json_t *by_commitment = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(anc, i, row)
    {
        const char *c = json_string_value(json_object_get(row, "commitment"));
        if (c)
            json_object_set(by_commitment, c, row);
    }
    struct item *it = calloc(json_array_size(asg) + 1, sizeof *it);
    size_t n = 0;
    if (!it) {
        json_decref(by_commitment);
        json_decref(anc);
        json_decref(asg);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    json_array_foreach(asg, i, row)
    {
        struct item *x = &it[n];
        const char *job = json_string_value(json_object_get(row, "job_id"));
        const char *com = json_string_value(json_object_get(row, "commitment"));
        json_t *ep = json_object_get(row, "epoch");
        if (!hex32(x->job, job) || !hex32(x->commitment, com) || !json_is_integer(ep) ||
            json_integer_value(ep) < 0)
            continue; /* not a row this code wrote: leave it alone */
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = memcmp(it[k].commitment, x->commitment, 32) == 0;
        if (dup)
            continue;
        snprintf(x->job_hex, sizeof x->job_hex, "%s", job);
        snprintf(x->commitment_hex, sizeof x->commitment_hex, "%s", com);
        x->epoch = (uint64_t)json_integer_value(ep);
        x->batch = veil_anchor_batch_epoch(x->epoch, a->interval_ms, a->batch_ms);
        json_t *r = json_object_get(by_commitment, com);
        if (r) {
            const char *tx = json_string_value(json_object_get(r, "tx_hash"));
            /* the store hands the stored proof text back parsed ("proof") */
            json_t *pa = json_object_get(r, "proof");
            char *proof = json_is_array(pa) ? json_dumps(pa, JSON_COMPACT) : NULL;
            x->st = tx && tx[0] ? IT_DONE : IT_INTENT;
            if (tx && strlen(tx) == 66)
                memcpy(x->tx_hex, tx, 67);
            if (!hex32(x->root, json_string_value(json_object_get(r, "root"))))
                x->st = IT_NONE; /* unreadable row: anchor it again from the chain's view */
            x->proof_json = proof ? proof : strdup("[]");
            x->row_epoch = (uint64_t)json_integer_value(json_object_get(r, "epoch"));
            uint8_t leaf[32];
            veil_merkle_leaf(leaf, a->keccak, a->cluster_id, x->job, x->commitment);
            /* A batch of one has the leaf as its root and an empty proof
             * too; its row carries the batch epoch, a single's the
             * assignment's own epoch. Where the two coincide (a batch epoch
             * of one telemetry epoch, or epoch 0) step 4 also looks for a
             * batch log before sending a single. */
            x->single = x->proof_json && strcmp(x->proof_json, "[]") == 0 &&
                        memcmp(leaf, x->root, 32) == 0 &&
                        !(a->batch && x->row_epoch == x->batch && x->row_epoch != x->epoch);
            if (x->st == IT_INTENT && memcmp(x->root, RELEASED_ROOT, 32) == 0)
                x->st = IT_NONE;
        }
        n++;
    }
    json_decref(by_commitment);
    json_decref(anc);
    json_decref(asg);
    *out = it;
    *n_out = n;
    return 0;
}

static void logs_free(struct chain_log *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(l[i].blob);
    free(l);
}

/* Adds (epoch, root) to a list unless present; the oldest entry goes when
 * the list is full. 0, or -1 when out of memory (the entry is dropped). */
static int roots_add(struct veil_anchor_root **arr, size_t *n, size_t *cap, uint64_t epoch,
                     const uint8_t root[32])
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i].epoch == epoch && memcmp((*arr)[i].root, root, 32) == 0)
            return 0;
    if (*n == ROOTS_MAX) {
        memmove(*arr, *arr + 1, (*n - 1) * sizeof **arr);
        (*n)--;
    }
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        struct veil_anchor_root *r = realloc(*arr, nc * sizeof *r);
        if (!r)
            return -1;
        *arr = r;
        *cap = nc;
    }
    (*arr)[*n].epoch = epoch;
    memcpy((*arr)[*n].root, root, 32);
    (*n)++;
    return 0;
}

/* A confirmed BatchAnchored log of this cluster into the pass's found list. */
static void note_confirmed_batch(struct veil_anchorer *a, const veil_eth_log *log)
{
    veil_contract_batch b;
    if (veil_contract_decode_batch_log(log, &b, NULL) != 0 || b.cluster_id != a->cluster_id)
        return;
    if (roots_add(&a->found, &a->n_found, &a->cap_found, b.epoch, b.merkle_root) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "confirmed batch root not kept", "epoch=%llu error=\"%s\"",
                 (unsigned long long)b.epoch, "out of memory");
}

/* Every anchoring event of the registry, recognized through the chain
 * client's event table (veil_contract_describe_log), so that the matching
 * below holds whatever the event's exact encoding. */
static int fetch_logs(struct veil_anchorer *a, struct chain_log **out, size_t *n_out, veil_err *err)
{
    *out = NULL;
    *n_out = 0;
    veil_rpc *rpc = veil_chain_client_rpc(a->chain);
    uint64_t head;
    veil_eth_log *logs = NULL;
    size_t n = 0;
    if (veil_rpc_block_number(rpc, &head, err) != 0)
        return -1;
    uint64_t from = a->scanned_to > ANCHOR_RESCAN ? a->scanned_to - ANCHOR_RESCAN : 0;
    if (from <= head && veil_rpc_get_logs_paged(rpc, &a->contract, from, head, NULL, 0, LOGS_PAGE,
                                                &logs, &n, err) != 0)
        return -1;
    /* the unconfirmed tail is read on every pass (it lies after scanned_to),
     * so scanned_to only moves past confirmed blocks */
    if (head >= a->confirmations)
        a->scanned_to = head - a->confirmations + 1;
    struct chain_log *cl = calloc(n + 1, sizeof *cl);
    if (!cl) {
        veil_eth_logs_free(logs, n);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    veil_buf d;
    veil_buf_init(&d);
    for (size_t i = 0; i < n; i++) {
        if (logs[i].removed)
            continue;
        veil_buf_reset(&d);
        if (veil_contract_describe_log(&logs[i], &d) != 0)
            continue;
        bool batch = d.len > 14 && memcmp(d.data, "BatchAnchored ", 14) == 0;
        bool single = d.len > 19 && memcmp(d.data, "DeploymentAnchored ", 19) == 0;
        if (!batch && !single)
            continue;
        size_t len = logs[i].n_topics * 32 + logs[i].data_len;
        cl[k].blob = malloc(len ? len : 1);
        if (!cl[k].blob)
            continue;
        for (size_t t = 0; t < logs[i].n_topics; t++)
            memcpy(cl[k].blob + 32 * t, logs[i].topics[t], 32);
        if (logs[i].data_len)
            memcpy(cl[k].blob + 32 * logs[i].n_topics, logs[i].data, logs[i].data_len);
        cl[k].len = len;
        cl[k].batch = batch;
        cl[k].confirmed = logs[i].block_number + a->confirmations <= head;
        if (batch && cl[k].confirmed)
            note_confirmed_batch(a, &logs[i]);
        memcpy(cl[k].tx, logs[i].tx_hash, 32);
        k++;
    }
    veil_buf_free(&d);
    veil_eth_logs_free(logs, n);
    *out = cl;
    *n_out = k;
    return 0;
}

static bool blob_has(const struct chain_log *l, const uint8_t v[32])
{
    for (size_t off = 0; off + 32 <= l->len; off++)
        if (memcmp(l->blob + off, v, 32) == 0)
            return true;
    return false;
}

/* tx hash of the first batch log holding `root`, or of the first single
 * log holding both job and commitment; only confirmed logs unless `any`
 * (a mined but unconfirmed one only makes the sender wait). */
static const uint8_t *find_batch_log(const struct chain_log *l, size_t n, const uint8_t root[32],
                                     bool any)
{
    for (size_t i = 0; i < n; i++)
        if (l[i].batch && (any || l[i].confirmed) && blob_has(&l[i], root))
            return l[i].tx;
    return NULL;
}

static const uint8_t *find_single_log(const struct chain_log *l, size_t n, const uint8_t job[32],
                                      const uint8_t commitment[32], bool any)
{
    for (size_t i = 0; i < n; i++)
        if (!l[i].batch && (any || l[i].confirmed) && blob_has(&l[i], job) &&
            blob_has(&l[i], commitment))
            return l[i].tx;
    return NULL;
}

/* True when some anchoring log (any depth) came from transaction `tx`. */
static bool tx_has_log(const struct chain_log *l, size_t n, const uint8_t tx[32])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(l[i].tx, tx, 32) == 0)
            return true;
    return false;
}

static int record(struct veil_anchorer *a, struct item *x, uint64_t epoch, const uint8_t root[32],
                  const char *proof_json, const uint8_t *tx)
{
    struct veil_store_anchor r = {0};
    snprintf(r.commitment, sizeof r.commitment, "%s", x->commitment_hex);
    r.epoch = epoch;
    veil_hex_encode(r.root, sizeof r.root, root, 32);
    if (tx) {
        r.tx_hash[0] = '0';
        r.tx_hash[1] = 'x';
        veil_hex_encode(r.tx_hash + 2, sizeof r.tx_hash - 2, tx, 32);
    }
    r.proof_json = (char *)proof_json;
    veil_err err = {0};
    if (veil_store_anchor_record(a->store, &r, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "anchor not stored", "commitment=%.16s error=\"%s\"",
                 x->commitment_hex, err.msg);
        return -1;
    }
    x->st = tx ? IT_DONE : IT_INTENT;
    memcpy(x->root, root, 32);
    x->row_epoch = epoch;
    free(x->proof_json);
    x->proof_json = strdup(proof_json);
    x->single = false;
    if (tx)
        veil_log(VEIL_LOG_INFO, SUB, "anchored", "job=%.16s commitment=%.16s epoch=%llu tx=%s",
                 x->job_hex, x->commitment_hex, (unsigned long long)epoch, r.tx_hash);
    return 0;
}

/* Builds the tree over the listed items (sorted as anchor.c sorts). */
static int build(struct veil_anchorer *a, struct item **sel, size_t n, uint8_t root[32],
                 char ***proofs, veil_err *err)
{
    struct veil_anchor_item *ai = calloc(n, sizeof *ai);
    char **pj = calloc(n, sizeof *pj);
    if (!ai || !pj) {
        free(ai);
        free(pj);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(ai[i].job_id, sel[i]->job, 32);
        memcpy(ai[i].commitment, sel[i]->commitment, 32);
    }
    int rc = veil_anchor_batch_build(a->keccak, a->cluster_id, ai, n, root, pj, err);
    free(ai);
    if (rc != 0) {
        free(pj);
        return -1;
    }
    *proofs = pj;
    return 0;
}

/* When a batch epoch's assignments that no tree here matches are asked of
 * peers (veil_anchorer_missing). */
static uint64_t proof_due_ms(const struct veil_anchorer *a, uint64_t batch)
{
    uint64_t bms = a->batch_ms ? a->batch_ms : a->interval_ms;
    return (batch + 1) * bms + a->delay_ms + a->max_hold_ms + a->takeover_ms + PROOF_OVERDUE_MS;
}

static void proofs_free(char **pj, size_t n)
{
    for (size_t i = 0; pj && i < n; i++)
        free(pj[i]);
    free(pj);
}

/* TEST ONLY crash points (see daemon_anchor.h). */
static bool test_crash_before(struct veil_anchorer *a)
{
    if (a->crash != VEIL_ANCHOR_CRASH_BEFORE_SEND)
        return false;
    veil_log(VEIL_LOG_WARN, SUB,
             "TEST ONLY: anchor intent recorded, not sent; exiting at the next poll", NULL);
    a->crash_pending = true;
    return true;
}

static void test_crash_after(struct veil_anchorer *a, const uint8_t tx[32])
{
    if (a->crash != VEIL_ANCHOR_CRASH_AFTER_SEND)
        return;
    char h[67] = "0x";
    veil_hex_encode(h + 2, sizeof h - 2, tx, 32);
    veil_log(VEIL_LOG_WARN, SUB,
             "TEST ONLY: crashing after the anchor was sent, before recording it", "tx=%s", h);
    _exit(86);
}

static void send_single(struct veil_anchorer *a, struct item *x)
{
    uint8_t leaf[32];
    veil_merkle_leaf(leaf, a->keccak, a->cluster_id, x->job, x->commitment);
    /* the intent first: a crash after sending finds the log instead of
     * sending again */
    if (x->st != IT_INTENT && record(a, x, x->epoch, leaf, "[]", NULL) != 0)
        return;
    if (test_crash_before(a))
        return;
    veil_tx_result res;
    veil_err err = {0};
    if (veil_contract_anchor_deployment(a->chain, a->cluster_id, x->job, x->commitment, &res,
                                        &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "anchor failed", "job=%.16s error=\"%s\"", x->job_hex,
                 err.msg);
        return;
    }
    a->sent_singles++;
    test_crash_after(a, res.tx_hash);
    /* mined is not final: the intent stays until its log is confirmed */
    if (a->confirmations == 0)
        record(a, x, x->epoch, leaf, "[]", res.tx_hash);
    veil_tx_result_clear(&res);
}

/* The epoch's intents give way to the batch on chain: their rows get the
 * released root (load_items then treats them as never sent), so they are
 * matched against that batch like any node's assignments. */
static void release_intents(struct veil_anchorer *a, uint64_t batch, struct item **sel, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (record(a, sel[i], batch, RELEASED_ROOT, "[]", NULL) == 0)
            sel[i]->st = IT_DONE; /* handled in this pass */
}

/* The contract refused the batch: one of this epoch is anchored already
 * (a stand-in's, sent while this node held the epoch or was cut off). It
 * is never sent again; with the same root, the next pass records the one on
 * chain (its log); with another, the intents are released. */
static void batch_refused(struct veil_anchorer *a, uint64_t batch, struct item **sel, size_t n,
                          const uint8_t root[32])
{
    uint8_t other[32];
    uint32_t count = 0;
    char ours[65], theirs[65];
    veil_err err = {0};
    a->refused = true;
    a->refused_batch = batch;
    bool found =
        veil_contract_find_batch_root(a->chain, a->cluster_id, batch, other, &count, &err) == 0;
    veil_hex_encode(ours, sizeof ours, root, 32);
    veil_hex_encode(theirs, sizeof theirs, found ? other : RELEASED_ROOT, 32);
    if (found)
        veil_log(VEIL_LOG_WARN, SUB, "batch refused: the epoch is anchored already",
                 "epoch=%llu count=%zu root=0x%s chain_root=0x%s chain_count=%u",
                 (unsigned long long)batch, n, ours, theirs, (unsigned)count);
    else
        veil_log(VEIL_LOG_WARN, SUB, "batch refused: the epoch is anchored already",
                 "epoch=%llu count=%zu root=0x%s lookup_error=\"%s\"", (unsigned long long)batch, n,
                 ours, err.msg);
    if (found && memcmp(other, root, 32) == 0)
        return; /* the same batch: recorded from its log */
    release_intents(a, batch, sel, n);
}

/* True when the contract refused this batch epoch here already. */
static bool refused_before(const struct veil_anchorer *a, uint64_t batch)
{
    return a->refused && a->refused_batch == batch;
}

/* How many of this node's assignments of the batch epoch are recorded in
 * the batch whose root is `root` (all of them when it is this node's). */
static uint32_t recorded_in(const struct item *it, size_t n, uint64_t batch, const uint8_t root[32])
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += it[i].batch == batch && it[i].st == IT_DONE && !it[i].single &&
             memcmp(it[i].root, root, 32) == 0;
    return k;
}

/* Sends one anchorBatch over `sel` (all of one batch epoch). */
static void send_batch(struct veil_anchorer *a, uint64_t batch, struct item **sel, size_t n)
{
    uint8_t root[32];
    char **pj = NULL;
    veil_err err = {0};
    if (build(a, sel, n, root, &pj, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "batch not built", "error=\"%s\"", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (record(a, sel[i], batch, root, pj[i], NULL) != 0) {
            proofs_free(pj, n);
            return;
        }
    if (test_crash_before(a)) {
        proofs_free(pj, n);
        return;
    }
    veil_tx_result res;
    char rh[65];
    veil_hex_encode(rh, sizeof rh, root, 32);
    if (veil_contract_anchor_batch(a->chain, a->cluster_id, batch, root, (uint32_t)n, &res, &err) !=
        0) {
        if (err.code == VEIL_E_EXISTS)
            batch_refused(a, batch, sel, n, root);
        else
            veil_log(VEIL_LOG_WARN, SUB, "batch anchor failed", "epoch=%llu count=%zu error=\"%s\"",
                     (unsigned long long)batch, n, err.msg);
        proofs_free(pj, n);
        return;
    }
    a->sent_batches++;
    char txh[67] = "0x";
    veil_hex_encode(txh + 2, sizeof txh - 2, res.tx_hash, 32);
    veil_log(VEIL_LOG_INFO, SUB, "batch anchored", "epoch=%llu count=%zu root=0x%s tx=%s gas=%llu",
             (unsigned long long)batch, n, rh, txh, (unsigned long long)res.receipt.gas_used);
    test_crash_after(a, res.tx_hash);
    /* mined is not final: the intents stay until the log is confirmed (a
     * reorg may drop the transaction; step 4 then sends the batch again) */
    for (size_t i = 0; i < n && a->confirmations == 0; i++)
        record(a, sel[i], batch, root, pj[i], res.tx_hash);
    veil_tx_result_clear(&res);
    proofs_free(pj, n);
}

/* The sender's unmined transactions, read once per pass when needed. */
struct pending_view {
    bool loaded, unknown; /* unknown: pending ones exist but cannot be read */
    veil_pending_tx *tx;
    size_t n;
};

static bool bytes_have(const uint8_t *p, size_t len, const uint8_t v[32])
{
    for (size_t off = 0; off + 32 <= len; off++)
        if (memcmp(p + off, v, 32) == 0)
            return true;
    return false;
}

/* True when an unmined transaction of ours carries `v` (a batch root or a
 * single commitment), or may (pending ones that cannot be read): resending
 * now could anchor the same thing twice. */
static bool pending_holds(struct veil_anchorer *a, struct pending_view *pv, const uint8_t v[32])
{
    if (!pv->loaded) {
        uint64_t n_pending = 0;
        veil_err err = {0};
        pv->loaded = true;
        if (veil_chain_pending_txs(a->chain, &pv->tx, &pv->n, &n_pending, &err) != 0) {
            pv->unknown = n_pending > 0 || err.code != VEIL_E_UNSUPPORTED;
            veil_log(VEIL_LOG_WARN, SUB, "cannot read pending transactions",
                     "pending=%llu error=\"%s\"", (unsigned long long)n_pending, err.msg);
        }
    }
    if (pv->unknown)
        return true;
    for (size_t i = 0; i < pv->n; i++)
        if (bytes_have(pv->tx[i].input, pv->tx[i].input_len, v)) {
            char h[67] = "0x";
            veil_hex_encode(h + 2, sizeof h - 2, pv->tx[i].hash, 32);
            veil_log(VEIL_LOG_INFO, SUB, "anchor transaction still pending, not sending again",
                     "nonce=%llu tx=%s", (unsigned long long)pv->tx[i].nonce, h);
            return true;
        }
    return false;
}

/* Items of one batch epoch whose anchor belongs to its batch: those not
 * recorded yet and those recorded in a batch (not singly). */
static size_t batch_members(struct item *it, size_t n, uint64_t batch, bool include_done,
                            struct item **sel)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (it[i].batch != batch)
            continue;
        if (it[i].st == IT_NONE || (include_done && it[i].st == IT_DONE && !it[i].single))
            sel[k++] = &it[i];
    }
    return k;
}

/* A full scan (from block 0) sees every anchoring log: a recorded row
 * whose transaction has none was recorded from a log a reorg dropped (the
 * code before the confirmation rule recorded at depth 0). The sender turns
 * it back into an intent (step 4 sends it again unless it is pending or on
 * chain); another node releases it (matched again from the chain). */
static void reverify_rows(struct veil_anchorer *a, struct item *it, size_t n,
                          const struct chain_log *logs, size_t nl)
{
    for (size_t i = 0; i < n; i++) {
        struct item *x = &it[i];
        uint8_t tx[32];
        if (x->st != IT_DONE || !hex32(tx, x->tx_hex) || tx_has_log(logs, nl, tx))
            continue;
        veil_log(VEIL_LOG_WARN, SUB, "recorded anchor transaction not on chain: anchoring again",
                 "job=%.16s epoch=%llu tx=%s", x->job_hex, (unsigned long long)x->row_epoch,
                 x->tx_hex);
        bool single = x->single;
        if (!a->sender) {
            record(a, x, x->row_epoch, RELEASED_ROOT, "[]", NULL);
            x->st = IT_NONE;
            continue;
        }
        uint8_t root[32];
        memcpy(root, x->root, 32);
        char *proof = strdup(x->proof_json ? x->proof_json : "[]");
        if (proof && record(a, x, x->row_epoch, root, proof, NULL) == 0)
            x->single = single;
        free(proof);
    }
}

static void anchorer_pass(struct veil_anchorer *a, uint64_t now_ms)
{
    if (a->crash_pending) {
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: crashing before the anchor was sent", NULL);
        _exit(86);
    }
    struct item *it = NULL;
    size_t n = 0;
    veil_err err = {0};
    if (load_items(a, &it, &n, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot read assignments", "error=\"%s\"", err.msg);
        return;
    }
    size_t pending = 0;
    for (size_t i = 0; i < n; i++)
        pending += it[i].st != IT_DONE;
    bool full = a->scanned_to == 0; /* a (re)started node: every row is checked once */
    if (pending == 0 && (!full || n == 0)) {
        items_free(it, n);
        return;
    }
    struct chain_log *logs = NULL;
    size_t nl = 0;
    struct item **sel = calloc(n, sizeof *sel);
    if (!sel || fetch_logs(a, &logs, &nl, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "anchor scan failed", "error=\"%s\"",
                 sel ? err.msg : "out of memory");
        free(sel);
        items_free(it, n);
        return;
    }
    if (full)
        reverify_rows(a, it, n, logs, nl);
    /* 1. single anchors on chain */
    for (size_t i = 0; i < n; i++) {
        struct item *x = &it[i];
        if (x->st == IT_DONE)
            continue;
        const uint8_t *tx = find_single_log(logs, nl, x->job, x->commitment, false);
        if (!tx)
            continue;
        uint8_t leaf[32];
        veil_merkle_leaf(leaf, a->keccak, a->cluster_id, x->job, x->commitment);
        if (record(a, x, x->epoch, leaf, "[]", tx) == 0)
            x->single = true;
    }
    /* 2. intents (this sender's, before a crash or a failed send) whose
     * batch is on chain */
    for (size_t i = 0; i < n; i++) {
        struct item *x = &it[i];
        if (x->st != IT_INTENT)
            continue;
        const uint8_t *tx = find_batch_log(logs, nl, x->root, false);
        if (tx) {
            uint8_t root[32];
            memcpy(root, x->root, 32);
            char *proof = strdup(x->proof_json ? x->proof_json : "[]");
            if (proof)
                record(a, x, x->row_epoch, root, proof, tx);
            free(proof);
        }
    }
    /* 3. batches on chain over what this node recorded: its own tree over
     * the batch epoch's commitments must give the anchored root */
    for (size_t i = 0; i < n; i++) {
        if (it[i].st != IT_NONE || it[i].seen)
            continue;
        uint64_t b = it[i].batch;
        size_t k = batch_members(it, n, b, true, sel);
        for (size_t j = 0; j < k; j++)
            sel[j]->seen = true;
        uint8_t root[32];
        char **pj = NULL;
        if (build(a, sel, k, root, &pj, &err) != 0)
            continue;
        const uint8_t *tx = find_batch_log(logs, nl, root, false);
        for (size_t j = 0; tx && j < k; j++)
            if (sel[j]->st == IT_NONE)
                record(a, sel[j], b, root, pj[j], tx);
        proofs_free(pj, k);
    }
    if (!a->sender && !a->acting)
        goto out;
    if (!a->sender)
        veil_log(VEIL_LOG_DEBUG, SUB, "standing in for the anchor sender", "pending=%zu", pending);
    struct pending_view pv = {0};
    /* 4. the sender: intents not on chain are sent again (same root),
     * unless their transaction is still waiting to be mined */
    for (size_t i = 0; i < n; i++) {
        struct item *x = &it[i];
        if (x->st != IT_INTENT)
            continue;
        if (x->single) {
            /* ...unless it is a batch of one (root = leaf) already mined or
             * pending: sending it alone would anchor it twice */
            if (!find_single_log(logs, nl, x->job, x->commitment, true) &&
                !find_batch_log(logs, nl, x->root, true) &&
                !pending_holds(a, &pv, x->commitment) && !pending_holds(a, &pv, x->root))
                send_single(a, x);
            x->st = IT_DONE; /* handled in this pass */
            continue;
        }
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (it[j].st == IT_INTENT && memcmp(it[j].root, x->root, 32) == 0 &&
                it[j].row_epoch == x->row_epoch)
                sel[k++] = &it[j];
        if (find_batch_log(logs, nl, x->root, true) || pending_holds(a, &pv, x->root)) {
            /* mined but not yet confirmed, or not mined: wait */
            for (size_t j = 0; j < k; j++)
                sel[j]->st = IT_DONE; /* handled in this pass */
            continue;
        }
        uint8_t other[32];
        uint32_t count;
        veil_err e2 = {0};
        int found = veil_contract_find_batch_root(a->chain, a->cluster_id, x->row_epoch, other,
                                                  &count, &e2);
        if (found == 0 && memcmp(other, x->root, 32) == 0) {
            /* this very batch, confirmed before the rescan window: read
             * from block 0 next pass (step 2 records it); never sent twice */
            a->scanned_to = 0;
        } else if (found == 0) {
            /* another batch holds the epoch (the contract takes one per
             * epoch): these are matched against it */
            veil_log(VEIL_LOG_INFO, SUB, "another batch holds the epoch: intents released",
                     "epoch=%llu count=%zu", (unsigned long long)x->row_epoch, k);
            release_intents(a, x->row_epoch, sel, k);
        } else if (e2.code == VEIL_E_NOTFOUND && refused_before(a, x->row_epoch)) {
            /* refused by the contract, its log not readable yet: wait */
        } else if (e2.code == VEIL_E_NOTFOUND) {
            for (size_t j = 0; j < k; j++)
                sel[j]->st = IT_NONE; /* rebuilt and re-recorded by send_batch */
            send_batch(a, x->row_epoch, sel, k);
        } /* else: cannot tell, next pass */
        for (size_t j = 0; j < k; j++)
            if (sel[j]->st != IT_DONE)
                sel[j]->st = IT_DONE; /* handled in this pass (the store keeps the truth) */
    }
    /* 5. new commitments */
    for (size_t i = 0; i < n; i++) {
        struct item *x = &it[i];
        if (x->st != IT_NONE)
            continue;
        /* a stand-in waits past the sender's longest hold too: a sender
         * merely cut off from it (a partition) sends first */
        uint64_t extra = a->sender ? 0 : a->max_hold_ms + a->takeover_ms;
        if (!a->batch) {
            if (now_ms >= (x->epoch + 1) * a->interval_ms + extra)
                send_single(a, x);
            continue;
        }
        uint64_t b = x->batch;
        /* the batch epoch [b*batch_ms, (b+1)*batch_ms) must be over, plus a
         * delay for rounds of its last epochs still being decided */
        uint64_t end = (b + 1) * (a->batch_ms ? a->batch_ms : a->interval_ms);
        if (now_ms < end + a->delay_ms + extra)
            continue;
        if (b >= a->hold_batch && now_ms < end + a->delay_ms + a->max_hold_ms)
            continue; /* a round in flight may still belong here */
        size_t k = batch_members(it, n, b, false, sel);
        uint8_t root[32];
        uint32_t count = 0;
        veil_err e2 = {0};
        if (veil_contract_find_batch_root(a->chain, a->cluster_id, b, root, &count, &e2) == 0) {
            if (!a->sender)
                continue; /* the sender's batch (or another stand-in's) went out */
            /* the epoch's batch is anchored already: these came late, for
             * sure when this node's rows make up the whole batch; otherwise
             * (another node's batch) they may be in it: proofs from peers
             * first */
            if (recorded_in(it, n, b, root) != count &&
                now_ms < proof_due_ms(a, b) + PROOF_FETCH_GRACE_MS) {
                for (size_t j = 0; j < k; j++)
                    sel[j]->st = IT_DONE; /* next pass */
                continue;
            }
            for (size_t j = 0; j < k; j++) {
                veil_log(VEIL_LOG_INFO, SUB, "late for its batch, anchored alone",
                         "job=%.16s epoch=%llu", sel[j]->job_hex, (unsigned long long)b);
                send_single(a, sel[j]);
            }
            continue;
        }
        if (e2.code != VEIL_E_NOTFOUND) {
            veil_log(VEIL_LOG_WARN, SUB, "cannot look up the batch", "epoch=%llu error=\"%s\"",
                     (unsigned long long)b, e2.msg);
            for (size_t j = 0; j < k; j++)
                sel[j]->st = IT_DONE; /* next pass */
            continue;
        }
        if (refused_before(a, b)) {
            for (size_t j = 0; j < k; j++)
                sel[j]->st = IT_DONE; /* refused: its batch's log is awaited */
            continue;
        }
        if (!a->sender)
            veil_log(VEIL_LOG_WARN, SUB, "anchor sender silent: anchoring its batch instead",
                     "epoch=%llu commitments=%zu", (unsigned long long)b, k);
        send_batch(a, b, sel, k);
        for (size_t j = 0; j < k; j++)
            if (sel[j]->st == IT_NONE)
                sel[j]->st = IT_DONE; /* failed: next pass */
    }
    veil_pending_txs_free(pv.tx, pv.n);
out:
    logs_free(logs, nl);
    free(sel);
    items_free(it, n);
}

/* ---- proofs from peers ---- */

size_t veil_anchorer_missing(struct veil_anchorer *a, uint64_t now_ms, struct veil_proof_query *q,
                             size_t cap)
{
    struct item *it = NULL;
    size_t n = 0, k = 0;
    veil_err err = {0};
    if (!a->batch || load_items(a, &it, &n, &err) != 0)
        return 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        if (it[i].st != IT_NONE || now_ms < proof_due_ms(a, it[i].batch))
            continue;
        memcpy(q[k].job, it[i].job, 32);
        memcpy(q[k].commitment, it[i].commitment, 32);
        k++;
    }
    items_free(it, n);
    return k;
}

/* "["0x..", ...]" -> siblings; false when it is not such a list. */
static bool proof_from_json(const char *text, struct veil_proof_answer *x)
{
    json_t *arr = json_loads(text, 0, NULL);
    bool ok = json_is_array(arr) && json_array_size(arr) <= VEIL_PROOF_DEPTH_MAX;
    size_t i;
    json_t *v;
    x->depth = 0;
    json_array_foreach(ok ? arr : NULL, i, v)
    {
        const char *h = json_string_value(v);
        if (!h || strncmp(h, "0x", 2) != 0 || !hex32(x->proof[i], h + 2)) {
            ok = false;
            break;
        }
        x->depth++;
    }
    json_decref(arr);
    return ok;
}

static char *proof_to_json(const struct veil_proof_answer *x)
{
    json_t *arr = json_array();
    for (unsigned k = 0; arr && k < x->depth; k++) {
        char h[67] = "0x";
        veil_hex_encode(h + 2, sizeof h - 2, x->proof[k], 32);
        json_array_append_new(arr, json_string(h));
    }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return text;
}

size_t veil_anchorer_answer(struct veil_anchorer *a, const struct veil_proof_query *q, size_t n,
                            struct veil_proof_answer *out)
{
    struct item *it = NULL;
    size_t ni = 0, k = 0;
    veil_err err = {0};
    if (load_items(a, &it, &ni, &err) != 0)
        return 0;
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < ni; i++) {
            const struct item *x = &it[i];
            if (x->st != IT_DONE || x->single || memcmp(x->commitment, q[j].commitment, 32) != 0 ||
                memcmp(x->job, q[j].job, 32) != 0)
                continue;
            struct veil_proof_answer *r = &out[k];
            memset(r, 0, sizeof *r);
            memcpy(r->job, x->job, 32);
            memcpy(r->commitment, x->commitment, 32);
            r->epoch = x->row_epoch;
            memcpy(r->root, x->root, 32);
            if (x->tx_hex[0] && hex32(r->tx, x->tx_hex + 2) && proof_from_json(x->proof_json, r))
                k++;
            break;
        }
    items_free(it, ni);
    return k;
}

/* True when a scan saw `root` in a BatchAnchored log of this cluster and
 * `epoch` at least a->confirmations deep. Otherwise err says why; a root
 * not seen at all asks the next pass to read the chain from block 0 (the
 * batch may lie before the window the scans read again). */
static bool root_confirmed(struct veil_anchorer *a, uint64_t epoch, const uint8_t root[32],
                           veil_err *err)
{
    bool epoch_seen = false;
    for (size_t i = 0; i < a->n_roots; i++) {
        if (a->roots[i].epoch != epoch)
            continue;
        epoch_seen = true;
        if (veil_memeq_ct(a->roots[i].root, root, 32))
            return true;
    }
    if (epoch_seen) {
        veil_err_set(err, VEIL_E_INVALID, "the root is not the one anchored for epoch %llu",
                     (unsigned long long)epoch);
        return false;
    }
    a->rescan = true;
    veil_err_set(err, VEIL_E_STATE,
                 "no batch of epoch %llu seen %llu blocks deep yet: not confirmed, asked again "
                 "later",
                 (unsigned long long)epoch, (unsigned long long)a->confirmations);
    return false;
}

int veil_anchorer_accept(struct veil_anchorer *a, const struct veil_proof_answer *x, veil_err *err)
{
    struct item *it = NULL, *mine = NULL;
    size_t n = 0;
    if (load_items(a, &it, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n && !mine; i++)
        if (memcmp(it[i].commitment, x->commitment, 32) == 0 && memcmp(it[i].job, x->job, 32) == 0)
            mine = &it[i];
    int rc = -1;
    char *pj = proof_to_json(x);
    bool ok = false;
    if (!mine || mine->st != IT_NONE)
        veil_err_set(err, VEIL_E_STATE, "not an unanchored assignment of this node");
    else if (x->epoch != mine->batch)
        veil_err_set(err, VEIL_E_INVALID, "batch epoch %llu, the assignment's is %llu",
                     (unsigned long long)x->epoch, (unsigned long long)mine->batch);
    else if (!pj ||
             veil_anchor_verify_json(a->keccak, x->root, a->cluster_id, x->job, x->commitment, pj,
                                     &ok, err) != 0 ||
             !ok)
        veil_err_set(err, VEIL_E_INVALID, "the proof does not lead to its root");
    else if (!root_confirmed(a, x->epoch, x->root, err))
        ; /* err says why: asked again later */
    else
        rc = record(a, mine, x->epoch, x->root, pj, x->tx);
    free(pj);
    items_free(it, n);
    return rc;
}

/* ---- off the loop (issue 18) ---- */

/* A pass on a worker: `copy` is the anchorer as the loop saw it at the
 * tick, with the workers' store connection and empty root lists. */
struct anchor_job {
    uv_work_t work;
    struct veil_anchorer *a;
    struct veil_anchorer copy;
    uint64_t now_ms;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The roots a pass found join the anchorer's list. */
static void roots_merge(struct veil_anchorer *a, struct veil_anchor_root *found, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (roots_add(&a->roots, &a->n_roots, &a->cap_roots, found[i].epoch, found[i].root) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "confirmed batch root not kept",
                     "epoch=%llu error=\"out of memory\"", (unsigned long long)found[i].epoch);
}

static void pass_work(uv_work_t *w)
{
    struct anchor_job *j = w->data;
    anchorer_pass(&j->copy, j->now_ms);
}

static bool pass_start(struct veil_anchorer *a, uint64_t now_ms);

/* On the loop: the scan state the pass moved on is the anchorer's now. */
static void pass_after(uv_work_t *w, int status)
{
    struct anchor_job *j = w->data;
    struct veil_anchorer *a = j->a;
    const struct veil_anchorer *c = &j->copy;
    a->busy = false;
    if (status == 0) {
        a->scanned_to = c->scanned_to; /* a rescan asked meanwhile: the next pass */
        a->refused = c->refused;
        a->refused_batch = c->refused_batch;
        a->sent_batches = c->sent_batches;
        a->sent_singles = c->sent_singles;
        a->crash_pending = c->crash_pending;
        roots_merge(a, c->found, c->n_found);
    }
    free(j->copy.found);
    free(j);
    if (a->again) {
        a->again = false;
        pass_start(a, wall_ms());
    }
    if (a->host.end)
        a->host.end(a->host.ctx); /* last: the daemon may be freed in it */
}

/* Hands a pass to a worker; false when none was started. */
static bool pass_start(struct veil_anchorer *a, uint64_t now_ms)
{
    veil_err err = {0};
    if (!a->wstore && veil_store_open_again(a->store, &a->wstore, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "anchor pass not started", "error=\"%s\"", err.msg);
        return false;
    }
    if (a->host.begin && !a->host.begin(a->host.ctx))
        return false; /* the daemon is stopping */
    struct anchor_job *j = calloc(1, sizeof *j);
    if (!j) {
        if (a->host.end)
            a->host.end(a->host.ctx);
        return false;
    }
    j->work.data = j;
    j->a = a;
    j->now_ms = now_ms;
    j->copy = *a;
    j->copy.store = a->wstore;
    j->copy.host = (struct veil_anchor_host){0};
    j->copy.roots = j->copy.found = NULL;
    j->copy.n_roots = j->copy.cap_roots = j->copy.n_found = j->copy.cap_found = 0;
    if (a->rescan) {
        j->copy.scanned_to = 0;
        a->rescan = false;
    }
    if (uv_queue_work(a->host.loop, &j->work, pass_work, pass_after) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "anchor pass not started", "error=\"cannot queue\"");
        free(j);
        if (a->host.end)
            a->host.end(a->host.ctx);
        return false;
    }
    a->busy = true;
    return true;
}

void veil_anchorer_tick(struct veil_anchorer *a, uint64_t now_ms)
{
    if (!a->host.loop) {
        anchorer_pass(a, now_ms);
        roots_merge(a, a->found, a->n_found);
        a->n_found = 0;
        return;
    }
    if (a->busy) {
        a->again = true;
        return;
    }
    pass_start(a, now_ms);
}

void veil_anchorer_free(struct veil_anchorer *a)
{
    if (a->wstore)
        veil_store_close(a->wstore);
    a->wstore = NULL;
    free(a->roots);
    free(a->found);
    a->roots = a->found = NULL;
    a->n_roots = a->cap_roots = a->n_found = a->cap_found = 0;
}
