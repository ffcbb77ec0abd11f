// SPDX-License-Identifier: Apache-2.0
/*
 * anchor_tool.c - drives veild's anchorer (src/node/daemon_anchor.c) against
 * a real chain for the anchoring tests: deploys VeilRegistry, creates a
 * cluster with this key as founder and active node, stores assignments of
 * one finished batch epoch in a fresh SQLite store, then runs anchorer
 * passes the way veild does. Not installed; anchor_*.sh drive it.
 *
 *   anchor_tool setup RPC KEY DIR              deploy + cluster + node + store;
 *                                              prints "contract cluster"
 *   anchor_tool tick RPC KEY DIR CONTRACT CLUSTER RECEIPT_MS
 *                                              one pass with a fresh chain
 *                                              client (a restarted veild)
 *   anchor_tool reorg RPC KEY DIR CONTRACT CLUSTER RECEIPT_MS
 *                                              one running sender (one chain
 *                                              client, depth 2): a pass, an
 *                                              anvil_reorg of depth 2, a pass,
 *                                              2 blocks mined, a pass
 *   anchor_tool count RPC DIR CONTRACT CLUSTER  BatchAnchored logs of epoch 0
 *                                              and the anchors the store has
 *   anchor_tool check RPC DIR CONTRACT CLUSTER  the same, and how many anchors
 *                                              name the transaction of the
 *                                              epoch's (first) batch log
 *   anchor_tool proof RPC FROM TO CONTRACT CLUSTER
 *                                              proofs from a peer: TO's
 *                                              anchorer (a pass, then its
 *                                              missing assignments) asks
 *                                              FROM's, and accepts the
 *                                              answers; prints "answered=N
 *                                              kept=K" and the refusals
 *
 * RPC may list several endpoints ("URL1,URL2"); the logs are read paged.
 * ANCHOR_CONFIRMATIONS (tick): the anchorer's confirmation depth (default 0,
 * a chain that mines only when asked). ANCHOR_ASSIGNMENTS (setup): how many
 * assignments the store gets (default N_ASSIGNMENTS).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <veil/chain.h>
#include <veil/node.h>

#include "../../../src/node/daemon_anchor.h"

#define N_ASSIGNMENTS 3
#define EPOCH_MS      1000

static int die(const char *what, const veil_err *err)
{
    fprintf(stderr, "anchor_tool: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static void keccak_hash(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx)
{
    (void)ctx;
    veil_keccak k;
    veil_keccak_init(&k);
    for (size_t i = 0; i < n; i++)
        veil_keccak_update(&k, parts[i].data, parts[i].len);
    veil_keccak_final(&k, out);
}

static int open_client(const char *rpc, const char *key_hex, long receipt_ms,
                       veil_chain_client **c, veil_eth_key *key, veil_err *err)
{
    uint8_t sk[32];
    if (strncmp(key_hex, "0x", 2) == 0)
        key_hex += 2;
    if (key_hex[0] && (veil_hex_decode(sk, 32, key_hex, strlen(key_hex), false, err) != 32 ||
                       veil_eth_key_from_secret(key, sk, err) != 0))
        return -1;
    veil_chain_options o = {.rpc_url = rpc,
                            .signer = key_hex[0] ? key : NULL,
                            .receipt_timeout_ms = receipt_ms,
                            .rpc = {.retries = 1, .backoff_ms = 50, .timeout_ms = 5000}};
    return veil_chain_client_open(c, &o, err);
}

static int store_assignments(const char *dir, veil_err *err)
{
    veil_store *st;
    if (veil_store_open(&st, dir, err) != 0)
        return -1;
    int rc = 0;
    const char *want = getenv("ANCHOR_ASSIGNMENTS");
    int n = want ? atoi(want) : N_ASSIGNMENTS;
    for (int i = 0; i < n && rc == 0; i++) {
        uint8_t job[32], out_digest[32], com[32];
        veil_random_bytes(job, 32);
        veil_random_bytes(out_digest, 32);
        struct veil_store_assignment a = {.replica = 0, .epoch = 0};
        veil_hex_encode(a.job_id, sizeof a.job_id, job, 32);
        veil_hex_encode(a.output_digest, sizeof a.output_digest, out_digest, 32);
        snprintf(a.node, sizeof a.node, "node-%d", i);
        memset(a.signature, 'a', 128);
        veil_keccak256(job, 32, com); /* any 32 bytes: the anchorer hashes them as given */
        veil_hex_encode(a.commitment, sizeof a.commitment, com, 32);
        rc = veil_store_job_insert(st, a.job_id, "job", "{}", "tester", a.job_id, 1, err);
        if (rc == 0)
            rc = veil_store_replica_set_state(st, a.job_id, 0, VEIL_REPLICA_SCHEDULING, NULL, err);
        if (rc == 0)
            rc = veil_store_replica_set_state(st, a.job_id, 0, VEIL_REPLICA_AWAITING_DECRYPTION,
                                              NULL, err);
        if (rc == 0)
            rc = veil_store_assignment_record(st, &a, err);
    }
    veil_store_close(st);
    return rc;
}

static int cmd_setup(char **argv)
{
    veil_err err = {0};
    veil_chain_client *c;
    veil_eth_key key;
    if (open_client(argv[2], argv[3], 30000, &c, &key, &err) != 0)
        return die("open", &err);
    veil_eth_address contract;
    veil_tx_result res;
    if (veil_contract_deploy(c, &contract, &res, &err) != 0)
        return die("deploy", &err);
    veil_tx_result_clear(&res);
    veil_chain_client_set_contract(c, &contract);
    const char *orgs[] = {"org"};
    uint32_t forg[] = {0};
    uint64_t cluster;
    if (veil_contract_create_cluster(c, "anchors", orgs, 1, &key.address, forg, 1, 1, &cluster,
                                     &res, &err) != 0)
        return die("create cluster", &err);
    veil_tx_result_clear(&res);
    uint8_t peer[32];
    veil_random_bytes(peer, 32);
    if (veil_contract_register_node(c, cluster, &key.address, peer, 32, &res, &err) != 0)
        return die("register node", &err);
    veil_tx_result_clear(&res);
    if (store_assignments(argv[4], &err) != 0)
        return die("store", &err);
    char ah[43];
    veil_eth_address_format(&contract, ah);
    printf("%s %llu\n", ah, (unsigned long long)cluster);
    veil_chain_client_close(c);
    return 0;
}

static int rpc_do(veil_chain_client *c, const char *method, const char *params)
{
    char *res = NULL;
    uint8_t *revert = NULL;
    size_t revert_len = 0;
    veil_err err = {0};
    int rc =
        veil_rpc_call(veil_chain_client_rpc(c), method, params, &res, &revert, &revert_len, &err);
    free(res);
    free(revert);
    if (rc != 0)
        return die(method, &err);
    return 0;
}

/* Passes of one anchorer (a veild that keeps running) around a reorg. */
static int reorg_passes(struct veil_anchorer *a)
{
    veil_anchorer_tick(a, 10 * EPOCH_MS);
    if (rpc_do(a->chain, "anvil_reorg", "[2,[]]") != 0)
        return 1;
    veil_anchorer_tick(a, 10 * EPOCH_MS);
    if (rpc_do(a->chain, "anvil_mine", "[2]") != 0)
        return 1;
    veil_anchorer_tick(a, 10 * EPOCH_MS);
    return 0;
}

static int cmd_tick(char **argv, bool reorg)
{
    veil_err err = {0};
    veil_chain_client *c;
    veil_eth_key key;
    if (open_client(argv[2], argv[3], atol(argv[7]), &c, &key, &err) != 0)
        return die("open", &err);
    veil_eth_address contract;
    if (veil_eth_address_parse(argv[5], &contract, &err) != 0)
        return die("contract", &err);
    veil_chain_client_set_contract(c, &contract);
    veil_store *st;
    if (veil_store_open(&st, argv[4], &err) != 0)
        return die("store", &err);
    struct veil_hasher kh = {.fn = keccak_hash};
    const char *conf = getenv("ANCHOR_CONFIRMATIONS");
    struct veil_anchorer a = {.store = st,
                              .confirmations = conf ? strtoull(conf, NULL, 10) : 0,
                              .chain = c,
                              .contract = contract,
                              .cluster_id = strtoull(argv[6], NULL, 10),
                              .keccak = &kh,
                              .sender = true,
                              .batch = true,
                              .interval_ms = EPOCH_MS,
                              .batch_ms = EPOCH_MS,
                              .hold_batch = UINT64_MAX};
    if (reorg) {
        a.confirmations = 2;
        if (reorg_passes(&a) != 0)
            return 1;
    } else {
        veil_anchorer_tick(&a, 10 * EPOCH_MS); /* epoch 0 is long over */
    }
    printf("sent_batches=%llu sent_singles=%llu failovers=%llu endpoint=%s\n",
           (unsigned long long)a.sent_batches, (unsigned long long)a.sent_singles,
           (unsigned long long)veil_rpc_failovers(veil_chain_client_rpc(c)),
           veil_rpc_endpoint(veil_chain_client_rpc(c)));
    veil_store_close(st);
    veil_chain_client_close(c);
    return 0;
}

static int cmd_count(char **argv, bool check)
{
    veil_err err = {0};
    veil_chain_client *c;
    veil_eth_key key;
    if (open_client(argv[2], "", 30000, &c, &key, &err) != 0)
        return die("open", &err);
    veil_eth_address contract;
    if (veil_eth_address_parse(argv[4], &contract, &err) != 0)
        return die("contract", &err);
    uint64_t cluster = strtoull(argv[5], NULL, 10);
    uint8_t t0[32];
    veil_contract_batch_topic(cluster, t0);
    const uint8_t *topics[1] = {t0};
    uint64_t head;
    veil_eth_log *logs;
    size_t n;
    veil_rpc *rpc = veil_chain_client_rpc(c);
    if (veil_rpc_block_number(rpc, &head, &err) != 0 ||
        veil_rpc_get_logs_paged(rpc, &contract, 0, head, topics, 1, 0, &logs, &n, &err) != 0)
        return die("logs", &err);
    size_t batches = 0;
    char batch_tx[67] = "";
    for (size_t i = 0; i < n; i++) {
        veil_contract_batch b;
        if (!logs[i].removed && veil_contract_decode_batch_log(&logs[i], &b, NULL) == 0 &&
            b.epoch == 0 && batches++ == 0) {
            batch_tx[0] = '0';
            batch_tx[1] = 'x';
            veil_hex_encode(batch_tx + 2, sizeof batch_tx - 2, logs[i].tx_hash, 32);
        }
    }
    veil_eth_logs_free(logs, n);
    veil_store *st;
    if (veil_store_open(&st, argv[3], &err) != 0)
        return die("store", &err);
    json_t *anc = veil_store_list_json(st, "anchors", &err);
    size_t done = 0, matching = 0;
    size_t i;
    json_t *row;
    json_array_foreach(anc, i, row)
    {
        const char *tx = json_string_value(json_object_get(row, "tx_hash"));
        done += tx && tx[0];
        matching += tx && batch_tx[0] && strcmp(tx, batch_tx) == 0;
    }
    json_decref(anc);
    if (check)
        printf("batches=%zu anchored=%zu matching=%zu\n", batches, done, matching);
    else
        printf("batches=%zu anchored=%zu\n", batches, done);
    veil_store_close(st);
    veil_chain_client_close(c);
    return 0;
}

static struct veil_anchorer anchorer_at(veil_store *st, veil_chain_client *c,
                                        const veil_eth_address *contract, uint64_t cluster,
                                        const struct veil_hasher *kh, uint64_t conf)
{
    return (struct veil_anchorer){.store = st,
                                  .confirmations = conf,
                                  .chain = c,
                                  .contract = *contract,
                                  .cluster_id = cluster,
                                  .keccak = kh,
                                  .batch = true,
                                  .interval_ms = EPOCH_MS,
                                  .batch_ms = EPOCH_MS,
                                  .hold_batch = UINT64_MAX};
}

/* TO asks FROM for the proofs it misses, as daemon_sync.c does between
 * two nodes, and keeps what veil_anchorer_accept takes. */
static int cmd_proof(char **argv)
{
    veil_err err = {0};
    veil_chain_client *c;
    veil_eth_key key;
    veil_eth_address contract;
    veil_store *from, *to;
    if (open_client(argv[2], "", 30000, &c, &key, &err) != 0 ||
        veil_eth_address_parse(argv[5], &contract, &err) != 0 ||
        veil_store_open(&from, argv[3], &err) != 0 || veil_store_open(&to, argv[4], &err) != 0)
        return die("open", &err);
    veil_chain_client_set_contract(c, &contract);
    struct veil_hasher kh = {.fn = keccak_hash};
    const char *conf = getenv("ANCHOR_CONFIRMATIONS");
    uint64_t cluster = strtoull(argv[6], NULL, 10);
    struct veil_anchorer a = anchorer_at(from, c, &contract, cluster, &kh, 0);
    struct veil_anchorer b =
        anchorer_at(to, c, &contract, cluster, &kh, conf ? strtoull(conf, NULL, 10) : 2);
    veil_anchorer_tick(&b, 10 * EPOCH_MS); /* its own scan first, as the anchor tick */
    struct veil_proof_query q[VEIL_PROOF_QUERY_MAX];
    struct veil_proof_answer ans[VEIL_PROOF_QUERY_MAX];
    size_t nq = veil_anchorer_missing(&b, UINT64_MAX / 2, q, VEIL_PROOF_QUERY_MAX);
    size_t na = veil_anchorer_answer(&a, q, nq, ans);
    size_t kept = 0;
    for (size_t i = 0; i < na; i++) {
        veil_err e2 = {0};
        if (veil_anchorer_accept(&b, &ans[i], &e2) == 0)
            kept++;
        else
            printf("refused: %s\n", e2.msg);
    }
    printf("missing=%zu answered=%zu kept=%zu\n", nq, na, kept);
    veil_anchorer_free(&a);
    veil_anchorer_free(&b);
    veil_store_close(from);
    veil_store_close(to);
    veil_chain_client_close(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (veil_log_init_from_env(NULL) != 0)
        return 2;
    if (argc == 5 && strcmp(argv[1], "setup") == 0)
        return cmd_setup(argv);
    if (argc == 8 && strcmp(argv[1], "tick") == 0)
        return cmd_tick(argv, false);
    if (argc == 8 && strcmp(argv[1], "reorg") == 0)
        return cmd_tick(argv, true);
    if (argc == 6 && strcmp(argv[1], "count") == 0)
        return cmd_count(argv, false);
    if (argc == 6 && strcmp(argv[1], "check") == 0)
        return cmd_count(argv, true);
    if (argc == 7 && strcmp(argv[1], "proof") == 0)
        return cmd_proof(argv);
    fprintf(stderr, "usage: see the top of anchor_tool.c\n");
    return 2;
}
