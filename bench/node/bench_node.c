// SPDX-License-Identifier: Apache-2.0
/*
 * bench_node.c - figures for docs/BENCHMARKS.md about the node's building
 * blocks, one JSON object per line:
 *   - the plaintext scheduling round (the oracle) per cluster size and the
 *     number of radix-integer operations the encrypted circuit performs;
 *   - bytes on the wire for each cluster message (telemetry without its
 *     ciphertext: the envelope overhead);
 *   - Merkle batch root + all proofs (BLAKE2b stand-in for Keccak);
 *   - job spec parse + canonicalize + id; state store job inserts (fsync'd).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <veil/node.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_schedule(void)
{
    static const size_t sizes[] = {4, 8, 16, 32, 64, 256, 1024};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s];
        struct veil_telemetry_q *nodes = calloc(n, sizeof *nodes);
        for (size_t i = 0; i < n; i++)
            for (int r = 0; r < VEIL_RES_COUNT; r++)
                nodes[i].res[r] = (uint16_t)((i * 7919 + (size_t)r * 104729) % 60000);
        for (int q = 0; q < 6; q++) {
            int p = q % 3;
            bool confidential = q >= 3;
            /* two resources requested (cpu, memory), no constraints */
            struct veil_sched_request req = {
                .res = {50, 16, 0, 0}, .policy = (enum veil_policy)p, .confidential = confidential};
            struct veil_sched_result res;
            struct veil_sched_ops ops = {0};
            veil_sched_round(&req, nodes, NULL, n, &res, &ops, NULL);
            int iters = (int)(200000 / n) + 1;
            double t0 = now_s();
            for (int k = 0; k < iters; k++)
                veil_sched_round(&req, nodes, NULL, n, &res, NULL, NULL);
            double per = (now_s() - t0) / iters;
            printf("{\"bench\":\"node_schedule_plain\",\"nodes\":%zu,\"policy\":\"%s\","
                   "\"request\":\"%s\","
                   "\"round_us\":%.3f,\"fhe_ops\":%llu,\"fhe_ops_per_node\":%.1f,"
                   "\"lt\":%llu,\"ne\":%llu,\"lt_scalar\":%llu,\"ne_scalar\":%llu,"
                   "\"and\":%llu,\"not\":%llu,\"sum_bits\":%llu,\"sum_masked\":%llu,"
                   "\"sum_terms\":%llu,\"flag_top\":%llu,\"argmin\":%llu,"
                   "\"argmin_inputs\":%llu,\"const\":%llu}\n",
                   n, veil_policy_name((enum veil_policy)p),
                   confidential ? "confidential" : "public", per * 1e6,
                   (unsigned long long)veil_sched_ops_total(&ops),
                   (double)veil_sched_ops_total(&ops) / (double)n, (unsigned long long)ops.lt,
                   (unsigned long long)ops.ne, (unsigned long long)ops.lt_scalar,
                   (unsigned long long)ops.ne_scalar, (unsigned long long)ops.and_,
                   (unsigned long long)ops.not_, (unsigned long long)ops.sum_bits,
                   (unsigned long long)ops.sum_masked, (unsigned long long)ops.sum_terms,
                   (unsigned long long)ops.flag_top, (unsigned long long)ops.argmin,
                   (unsigned long long)ops.argmin_inputs, (unsigned long long)ops.constant);
        }
        free(nodes);
    }
}

static void bench_messages(void)
{
    struct veil_peer_id peer = {.len = 38};
    uint8_t sk[64];
    veil_random_bytes(sk, sizeof sk);
    veil_buf b;
    veil_buf_init(&b);
    struct veil_msg_telemetry t = {
        .epoch = 1, .node = peer, .ciphertext = (const uint8_t *)"x", .ciphertext_len = 1};
    veil_msg_telemetry_encode(&b, &t, NULL);
    printf("{\"bench\":\"node_msg_bytes\",\"message\":\"telemetry_envelope\",\"bytes\":%zu,"
           "\"note\":\"plus the ciphertext length; total capped at %d\"}\n",
           b.len - 1, VEIL_MSG_MAX_BYTES);
    veil_buf_reset(&b);
    struct veil_msg_sched_digest d = {.scheduler = peer};
    veil_msg_sched_digest_encode(&b, &d, NULL);
    printf("{\"bench\":\"node_msg_bytes\",\"message\":\"sched_digest\",\"bytes\":%zu}\n", b.len);
    veil_buf_reset(&b);
    struct veil_msg_assignment a = {.schedulable = true, .node = peer};
    veil_msg_assignment_encode(&b, &a, NULL);
    printf("{\"bench\":\"node_msg_bytes\",\"message\":\"assignment\",\"bytes\":%zu}\n", b.len);
    veil_buf_reset(&b);
    struct veil_msg_container_status c = {.node = peer, .state = VEIL_CONTAINER_RUNNING};
    strcpy(c.container_id, "veil-0123456789abcdef");
    veil_msg_container_status_encode(&b, &c, NULL);
    printf("{\"bench\":\"node_msg_bytes\",\"message\":\"container_status\",\"bytes\":%zu}\n",
           b.len);
    veil_buf_free(&b);
}

static void bench_merkle(void)
{
    const struct veil_hasher h = {veil_hash256_blake2b, NULL};
    static const size_t sizes[] = {1, 16, 1000};
    for (size_t s = 0; s < VEIL_ARRAY_LEN(sizes); s++) {
        size_t n = sizes[s];
        uint8_t(*leaves)[32] = calloc(n, 32);
        for (size_t i = 0; i < n; i++) {
            uint8_t job[32] = {(uint8_t)i, (uint8_t)(i >> 8)}, com[32] = {1};
            veil_merkle_leaf(leaves[i], &h, 1, job, com);
        }
        uint8_t root[32], proof[VEIL_MERKLE_MAX_DEPTH][32];
        size_t np = 0;
        double t0 = now_s();
        veil_merkle_root(root, &h, (const uint8_t(*)[32])leaves, n, NULL);
        double t_root = now_s() - t0;
        veil_merkle_proof(proof, &np, &h, (const uint8_t(*)[32])leaves, n, n - 1, NULL);
        printf("{\"bench\":\"node_merkle\",\"leaves\":%zu,\"root_ms\":%.3f,\"proof_hashes\":%zu,"
               "\"proof_bytes\":%zu}\n",
               n, t_root * 1e3, np, np * 32);
        free(leaves);
    }
}

static void bench_jobspec_and_store(void)
{
    const char *spec = "name: web\nimage: busybox:1.36\ncommand: [/bin/sh, -c, 'echo hi']\n"
                       "resources: {cpu: 500m, memory: 64Mi}\nreplicas: 3\npolicy: spread\n";
    int iters = 20000;
    double t0 = now_s();
    for (int i = 0; i < iters; i++) {
        struct veil_job_spec s;
        uint8_t id[32], nonce[VEIL_JOB_NONCE_LEN] = {0};
        veil_job_spec_parse(&s, spec, strlen(spec), "job.yaml", NULL);
        veil_job_id(id, &s, (const uint8_t *)"p", 1, nonce, NULL);
        veil_job_spec_free(&s);
    }
    printf("{\"bench\":\"node_jobspec\",\"parse_canon_id_us\":%.2f}\n",
           (now_s() - t0) / iters * 1e6);

    char dir[] = "/tmp/veil-bench-node-XXXXXX";
    if (!mkdtemp(dir))
        return;
    veil_store *st;
    if (veil_store_open(&st, dir, NULL) == 0) {
        int jobs = 200;
        t0 = now_s();
        for (int i = 0; i < jobs; i++) {
            char id[65];
            snprintf(id, sizeof id, "%064x", i);
            if (veil_store_job_insert(st, id, "web", "{}", "p", "00", 3, NULL) != 0) {
                fprintf(stderr, "bench_node: job insert failed\n");
                jobs = i + 1;
                break;
            }
        }
        printf("{\"bench\":\"node_store\",\"job_insert_ms\":%.3f,\"note\":\"one transaction "
               "with 3 replicas, WAL, synchronous=FULL\"}\n",
               (now_s() - t0) / jobs * 1e3);
        veil_store_close(st);
    }
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_node: could not remove %s\n", dir);
}

int main(void)
{
    if (veil_crypto_init(NULL) != 0)
        return 1;
    bench_schedule();
    bench_messages();
    bench_merkle();
    bench_jobspec_and_store();
    return 0;
}
