// SPDX-License-Identifier: Apache-2.0
/*
 * chain_tool.c - test driver for the chain script tests: signs a transaction
 * from explicit fields (compared byte for byte with `cast mktx`), hammers
 * the nonce manager from several threads, and checks the log follower
 * across an anvil reorg. Not installed; tests/integration/chain runs it.
 *
 *   chain_tool mktx 1559|legacy CHAIN NONCE GAS MAXFEE|GASPRICE PRIO VALUE TO|- DATA KEY
 *   chain_tool nonce-stress RPC KEY THREADS PER_THREAD
 *   chain_tool follow-reorg RPC KEY
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/chain.h>

static int die(const char *what, const veil_err *err)
{
    fprintf(stderr, "chain_tool: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static int key_of(const char *hex, veil_eth_key *key, veil_err *err)
{
    uint8_t sk[32];
    if (strncmp(hex, "0x", 2) == 0)
        hex += 2;
    if (veil_hex_decode(sk, 32, hex, strlen(hex), false, err) != 32)
        return veil_err_set(err, VEIL_E_PARSE, "bad key");
    return veil_eth_key_from_secret(key, sk, err);
}

static int cmd_mktx(int argc, char **argv)
{
    if (argc != 12)
        return die("usage: mktx TYPE CHAIN NONCE GAS FEE PRIO VALUE TO DATA KEY", NULL);
    veil_err err = {0};
    veil_tx tx = {0};
    tx.type = strcmp(argv[2], "legacy") == 0 ? VEIL_TX_LEGACY : VEIL_TX_EIP1559;
    tx.chain_id = strtoull(argv[3], NULL, 0);
    tx.nonce = strtoull(argv[4], NULL, 0);
    tx.gas_limit = strtoull(argv[5], NULL, 0);
    tx.gas_price = tx.max_fee_per_gas = strtoull(argv[6], NULL, 0);
    tx.max_priority_fee_per_gas = strtoull(argv[7], NULL, 0);
    uint64_t value = strtoull(argv[8], NULL, 0);
    for (int i = 0; i < 8; i++)
        tx.value[31 - i] = (uint8_t)(value >> (8 * i));
    if (strcmp(argv[9], "-") != 0) {
        if (veil_eth_address_parse(argv[9], &tx.to, &err) != 0)
            return die("to", &err);
        tx.has_to = true;
    }
    static uint8_t data[65536];
    const char *dh = argv[10];
    if (strncmp(dh, "0x", 2) == 0)
        dh += 2;
    long n = strlen(dh) ? veil_hex_decode(data, sizeof data, dh, strlen(dh), false, &err) : 0;
    if (n < 0)
        return die("data", &err);
    tx.data = data;
    tx.data_len = (size_t)n;
    veil_eth_key key;
    if (key_of(argv[11], &key, &err) != 0)
        return die("key", &err);
    veil_buf raw;
    veil_buf_init(&raw);
    uint8_t h[32];
    if (veil_tx_sign(&tx, &key, &raw, h, &err) != 0)
        return die("sign", &err);
    char *hex = malloc(2 * raw.len + 1);
    veil_hex_encode(hex, 2 * raw.len + 1, raw.data, raw.len);
    printf("0x%s\n", hex);
    free(hex);
    veil_buf_free(&raw);
    return 0;
}

struct stress {
    veil_chain_client *c;
    int per_thread;
    int failures;
};

static void *stress_thread(void *arg)
{
    struct stress *s = arg;
    veil_eth_address to = {{0}};
    to.b[19] = 0x42;
    for (int i = 0; i < s->per_thread; i++) {
        veil_tx_result res;
        veil_err err = {0};
        if (veil_chain_send(s->c, &to, NULL, 0, &res, &err) != 0) {
            fprintf(stderr, "send: %s\n", err.msg);
            s->failures++;
        }
        veil_tx_result_clear(&res);
    }
    return NULL;
}

static int cmd_nonce_stress(int argc, char **argv)
{
    if (argc != 6)
        return die("usage: nonce-stress RPC KEY THREADS PER_THREAD", NULL);
    veil_err err = {0};
    veil_eth_key key;
    if (key_of(argv[3], &key, &err) != 0)
        return die("key", &err);
    int threads = atoi(argv[4]), per = atoi(argv[5]);
    if (threads < 1 || threads > 32 || per < 1)
        return die("bad counts", NULL);
    veil_chain_options o = {.rpc_url = argv[2], .signer = &key, .receipt_timeout_ms = 30000};
    veil_chain_client *c;
    if (veil_chain_client_open(&c, &o, &err) != 0)
        return die("open", &err);
    uint64_t start;
    if (veil_rpc_get_transaction_count(veil_chain_client_rpc(c), &key.address, "latest", &start,
                                       &err) != 0)
        return die("nonce", &err);
    pthread_t th[32];
    struct stress st[32];
    for (int i = 0; i < threads; i++) {
        st[i] = (struct stress){c, per, 0};
        pthread_create(&th[i], NULL, stress_thread, &st[i]);
    }
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failures += st[i].failures;
    }
    uint64_t end, next;
    if (veil_rpc_get_transaction_count(veil_chain_client_rpc(c), &key.address, "latest", &end,
                                       &err) != 0 ||
        veil_chain_next_nonce(c, &next, &err) != 0)
        return die("nonce", &err);
    veil_chain_client_close(c);
    uint64_t want = start + (uint64_t)threads * (uint64_t)per;
    printf("sent %d, failures %d, nonce %llu -> %llu (manager next %llu)\n", threads * per,
           failures, (unsigned long long)start, (unsigned long long)end, (unsigned long long)next);
    /* Every tx mined (receipts waited for) and the count advanced by exactly
     * the number sent: no nonce reused (that send would fail) or skipped
     * (later txs would never mine). */
    return failures == 0 && end == want && next == want ? 0 : 1;
}

struct seen {
    int count;
    uint64_t last_block;
};

static int on_log(const veil_eth_log *log, void *user)
{
    struct seen *s = user;
    s->count++;
    s->last_block = log->block_number;
    return 0;
}

static int rpc_simple(veil_rpc *rpc, const char *method, const char *params)
{
    char *res;
    veil_err err = {0};
    if (veil_rpc_call(rpc, method, params, &res, NULL, NULL, &err) != 0)
        return die(method, &err);
    free(res);
    return 0;
}

/* Events 1 block deep are delivered once; a reorg that replaces the
 * follower's last block is noticed and the follower rewinds. */
static int cmd_follow_reorg(int argc, char **argv)
{
    if (argc != 4)
        return die("usage: follow-reorg RPC KEY", NULL);
    veil_err err = {0};
    veil_eth_key key;
    if (key_of(argv[3], &key, &err) != 0)
        return die("key", &err);
    veil_chain_options o = {.rpc_url = argv[2], .signer = &key, .receipt_timeout_ms = 30000};
    veil_chain_client *c;
    if (veil_chain_client_open(&c, &o, &err) != 0)
        return die("open", &err);
    veil_rpc *rpc = veil_chain_client_rpc(c);
    veil_eth_address contract;
    veil_tx_result res;
    if (veil_contract_deploy(c, &contract, &res, &err) != 0)
        return die("deploy", &err);
    veil_tx_result_clear(&res);
    const char *orgs[] = {"a"};
    uint32_t org_of[] = {0};
    uint64_t cid;
    if (veil_contract_create_cluster(c, "x", orgs, 1, &key.address, org_of, 1, 1, &cid, &res,
                                     &err) != 0)
        return die("create", &err);
    veil_tx_result_clear(&res);
    /* ClusterCreated + OrganizationAdded + OperatorAdded = 3 logs in one block. */
    veil_log_follower f;
    veil_log_follower_init(&f, 0, 1);
    struct seen s = {0};
    if (veil_log_follower_poll(&f, rpc, &contract, on_log, &s, &err) != 0)
        return die("poll", &err);
    if (s.count != 0)
        return die("delivered a log before it was 1 block deep", NULL);
    if (rpc_simple(rpc, "evm_mine", "[]") != 0)
        return 1;
    if (veil_log_follower_poll(&f, rpc, &contract, on_log, &s, &err) != 0)
        return die("poll", &err);
    if (s.count != 3)
        return die("expected the 3 cluster logs once confirmed", NULL);
    if (veil_log_follower_poll(&f, rpc, &contract, on_log, &s, &err) != 0 || s.count != 3)
        return die("logs delivered twice", NULL);
    /* Replace the last processed block (depth 1 reorg past our head-1). */
    if (rpc_simple(rpc, "anvil_reorg", "[2,[]]") != 0)
        return 1;
    if (veil_log_follower_poll(&f, rpc, &contract, on_log, &s, &err) != 0)
        return die("poll after reorg", &err);
    printf("follower: delivered %d logs, reorgs seen %llu\n", s.count,
           (unsigned long long)f.reorgs_seen);
    veil_chain_client_close(c);
    return f.reorgs_seen >= 1 ? 0 : 1;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0)
        return die("init", &err);
    if (argc >= 2 && strcmp(argv[1], "mktx") == 0)
        return cmd_mktx(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "nonce-stress") == 0)
        return cmd_nonce_stress(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "follow-reorg") == 0)
        return cmd_follow_reorg(argc, argv);
    fprintf(stderr, "usage: chain_tool mktx|nonce-stress|follow-reorg ...\n");
    return 2;
}
