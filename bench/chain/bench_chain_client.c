// SPDX-License-Identifier: Apache-2.0
/*
 * bench_chain_client.c - the C client against a running anvil: gas actually
 * paid per transaction (receipt gasUsed, 21,000 base included) for the
 * registry's hot paths, and 1,000 sequential eth_calls (time, peak RSS).
 * Prints one JSON object. bench_chain.sh starts anvil and runs it.
 *
 *   bench_chain_client RPC PRIVATE_KEY [CALLS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <veil/chain.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int die(const char *what, const veil_err *err)
{
    fprintf(stderr, "bench_chain_client: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return die("usage: bench_chain_client RPC KEY [CALLS]", NULL);
    int calls = argc > 3 ? atoi(argv[3]) : 1000;
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0)
        return die("init", &err);
    uint8_t sk[32];
    const char *kh = strncmp(argv[2], "0x", 2) == 0 ? argv[2] + 2 : argv[2];
    veil_eth_key key;
    if (veil_hex_decode(sk, 32, kh, strlen(kh), false, &err) != 32 ||
        veil_eth_key_from_secret(&key, sk, &err) != 0)
        return die("key", &err);
    veil_chain_options o = {.rpc_url = argv[1], .signer = &key};
    veil_chain_client *c;
    if (veil_chain_client_open(&c, &o, &err) != 0)
        return die("open", &err);
    veil_tx_result r;
    veil_eth_address contract;
    if (veil_contract_deploy(c, &contract, &r, &err) != 0)
        return die("deploy", &err);
    uint64_t gas_deploy = r.receipt.gas_used;
    veil_tx_result_clear(&r);
    const char *orgs[] = {"bench"};
    uint32_t org_of[] = {0};
    uint64_t cid;
    if (veil_contract_create_cluster(c, "bench", orgs, 1, &key.address, org_of, 1, 1, &cid, &r,
                                     &err) != 0)
        return die("create", &err);
    uint64_t gas_cluster = r.receipt.gas_used;
    veil_tx_result_clear(&r);
    uint8_t peer[32];
    memset(peer, 0x5a, sizeof peer);
    if (veil_contract_register_node(c, cid, &key.address, peer, 32, &r, &err) != 0)
        return die("register", &err);
    uint64_t gas_register = r.receipt.gas_used;
    veil_tx_result_clear(&r);
    uint8_t job[32], ah[32];
    memset(job, 0x11, 32);
    memset(ah, 0x22, 32);
    if (veil_contract_anchor_deployment(c, cid, job, ah, &r, &err) != 0)
        return die("anchor", &err);
    uint64_t gas_anchor = r.receipt.gas_used;
    veil_tx_result_clear(&r);
    static uint8_t leaves[256][32];
    for (int i = 0; i < 256; i++) {
        job[0] = (uint8_t)i;
        veil_chain_merkle_leaf(cid, job, ah, leaves[i]);
    }
    /* A real epoch number, as veild anchors them: unix time over the default
     * 10 s telemetry interval (veil_epoch_of): four significant bytes. */
    uint64_t epoch = (uint64_t)time(NULL) / 10;
    uint8_t root[32];
    if (veil_chain_merkle_root((const uint8_t(*)[32])leaves, 256, root, &err) != 0 ||
        veil_contract_anchor_batch(c, cid, epoch, root, 256, &r, &err) != 0)
        return die("batch", &err);
    uint64_t gas_batch = r.receipt.gas_used;
    veil_tx_result_clear(&r);

    /* 1,000 sequential eth_calls of getActiveNodes (one ABI encode, one
     * HTTP round trip, one ABI decode each). */
    long rss_before = peak_rss_kib();
    double t0 = now_s();
    for (int i = 0; i < calls; i++) {
        veil_eth_address *nodes;
        size_t n;
        if (veil_contract_active_nodes(c, cid, &nodes, &n, &err) != 0 || n != 1)
            return die("eth_call", &err);
        free(nodes);
    }
    double dt = now_s() - t0;
    printf("{\"bench\":\"chain_client\",\"tx_gas_total\":{\"deploy\":%llu,\"createCluster\":%llu,"
           "\"registerNode\":%llu,\"anchorDeployment\":%llu,\"anchorBatch256\":%llu,"
           "\"anchorBatch256_per_deployment\":%.1f,"
           "\"anchorBatch_epoch\":%llu},"
           "\"eth_call\":{\"calls\":%d,\"seconds\":%.3f,\"per_call_ms\":%.3f,\"calls_per_s\":%.0f,"
           "\"peak_rss_kib_before\":%ld,\"peak_rss_kib_after\":%ld}}\n",
           (unsigned long long)gas_deploy, (unsigned long long)gas_cluster,
           (unsigned long long)gas_register, (unsigned long long)gas_anchor,
           (unsigned long long)gas_batch, (double)gas_batch / 256.0,
           (unsigned long long)epoch, calls, dt,
           dt * 1000.0 / calls, calls / dt, rss_before, peak_rss_kib());
    veil_chain_client_close(c);
    return 0;
}
