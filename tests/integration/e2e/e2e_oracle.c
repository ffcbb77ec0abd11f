// SPDX-License-Identifier: Apache-2.0
/*
 * e2e_oracle.c - the plaintext oracle of the end-to-end placement tests
 * (owned by the veild integration): given a job spec and each node's
 * test-only capacity, prints where the policy places each replica, the nodes
 * ordered as a round orders its candidates (by peer ID bytes).
 *
 *   e2e_oracle JOB.yaml PEER_ID=CAPACITY...   -> one line per replica:
 *                                               a peer ID or "unschedulable"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>
#include <veil/p2p.h>
#include <veil/privacy.h>

struct node {
    veil_p2p_peer_id id;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    struct veil_telemetry_q q;
};

static int cmp_node(const void *a, const void *b)
{
    const struct node *x = a, *y = b;
    size_t n = x->id.len < y->id.len ? x->id.len : y->id.len;
    int c = memcmp(x->id.bytes, y->id.bytes, n);
    return c ? c : (int)x->id.len - (int)y->id.len;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    if (argc < 3 || argc - 2 > 64) {
        fprintf(stderr, "usage: e2e_oracle JOB.yaml PEER_ID=CAPACITY...\n");
        return 2;
    }
    struct veil_job_spec spec;
    if (veil_job_spec_load(&spec, argv[1], &err) != 0) {
        fprintf(stderr, "e2e_oracle: %s\n", err.msg);
        return 1;
    }
    /* the daemons round capacities to the default classes (hook H1) */
    struct veil_privacy_policy privacy;
    veil_privacy_policy_default(&privacy);
    struct node nodes[64];
    size_t n = 0;
    for (int i = 2; i < argc; i++, n++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "e2e_oracle: want PEER_ID=CAPACITY, got %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        struct veil_telemetry_raw raw;
        if (veil_p2p_peer_id_parse(argv[i], &nodes[n].id, &err) != 0 ||
            veil_telemetry_test_override_parse(eq + 1, &raw, &err) != 0) {
            fprintf(stderr, "e2e_oracle: %s\n", err.msg);
            return 1;
        }
        snprintf(nodes[n].text, sizeof nodes[n].text, "%s", argv[i]);
        veil_telemetry_quantize_free(&raw, &nodes[n].q);
        veil_privacy_class_res(&privacy, nodes[n].q.res, VEIL_RES_COUNT);
    }
    qsort(nodes, n, sizeof nodes[0], cmp_node);
    struct veil_telemetry_q qs[64];
    for (size_t i = 0; i < n; i++)
        qs[i] = nodes[i].q;
    struct veil_sched_request req = {0};
    req.policy = spec.policy;
    req.latency_to = spec.latency_to;
    req.latency_weight = spec.latency_weight;
    req.load_weight = spec.load_weight;
    req.region = spec.region;
    req.zone = spec.zone;
    struct veil_sched_result out[VEIL_JOB_MAX_REPLICAS];
    bool impossible = veil_telemetry_quantize_request(&spec, req.res, &err) != 0;
    if (!impossible &&
        veil_sched_replicas(&req, qs, NULL, n, spec.replicas, out, NULL, &err) != 0) {
        fprintf(stderr, "e2e_oracle: %s\n", err.msg);
        return 1;
    }
    for (uint32_t r = 0; r < spec.replicas; r++)
        puts(!impossible && out[r].found ? nodes[out[r].index].text : "unschedulable");
    veil_job_spec_free(&spec);
    return 0;
}
