// SPDX-License-Identifier: Apache-2.0
/*
 * api_server.c - test helper for test_node_cli.sh: serves the node's local
 * HTTP API from a state store in DATA_DIR on a free loopback port (written to
 * DATA_DIR/api.port) with two registered nodes, until SIGTERM or SIGINT. It
 * stands in for veild until the daemon wires the API in.
 *
 * The store also holds four jobs placed as gossip would have left them on
 * this node ("12D3KooWsubmitter"), so that the CLI test can check what the
 * API shows of each (hook H4): job aa.. by Alpha, replica 0 on this node and
 * replica 1 on Beta; job bb.. by Alpha on Beta; job cc.. by Alpha, still
 * pending; job dd.. by this node: replica 0 on Beta (anchored, with a
 * holders' note), replica 1 on this node, replica 2 unschedulable. The
 * replicas 0 of aa.. and dd.. are anchored.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <veil/node.h>

#define SELF  "12D3KooWsubmitter"
#define ALPHA "12D3KooWAlphaNodeAlphaNodeAlphaNodeAlphaNodeAlpha01"
#define BETA  "12D3KooWBetaNodeBetaNodeBetaNodeBetaNodeBetaNode02"
/* a proof sibling of dd../0's anchor (any hash: the CLI test checks that
 * the submitter's node does not show it) */
#define BETA_LEAF "8888888888888888888888888888888888888888888888888888888888888888"

static void hex_id(char out[65], char c)
{
    memset(out, c, 64);
    out[64] = '\0';
}

/* Job `c`x64, its replica `replica` walked to assigned on `node` ("" :
 * unschedulable), the path a round takes; its commitment is `c`x63 then
 * the replica's digit. */
static int place(veil_store *store, char c, uint32_t replica, const char *node, veil_err *err)
{
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    struct veil_store_assignment a = {.replica = replica, .epoch = 5};
    hex_id(a.job_id, c);
    snprintf(a.node, sizeof a.node, "%s", node);
    memset(a.output_digest, 'e', 64);
    memset(a.signature, 'f', 128);
    memset(a.commitment, c, 63);
    a.commitment[63] = (char)('0' + replica);
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++)
        if (veil_store_replica_set_state(store, a.job_id, replica, path[i], NULL, err) != 0)
            return -1;
    return veil_store_assignment_record(store, &a, err);
}

static int add_job(veil_store *store, char c, const char *submitter, uint32_t replicas,
                   veil_err *err)
{
    char id[65];
    hex_id(id, c);
    return veil_store_job_insert(store, id, "seeded", "{\"name\":\"seeded\"}", submitter,
                                 "00000000000000000000000000000000", replicas, err);
}

/* An anchor of replica 0 of job `c`x64 in batch epoch 9 (not the
 * assignment's epoch 5: the API ties an anchor to its assignment by
 * commitment). */
static int anchor(veil_store *store, char c, veil_err *err)
{
    struct veil_store_anchor an = {.epoch = 9, .proof_json = "[\"" BETA_LEAF "\"]"};
    memset(an.commitment, c, 63);
    an.commitment[63] = '0';
    memset(an.root, '9', 64);
    snprintf(an.tx_hash, sizeof an.tx_hash, "0x%064d", 7);
    return veil_store_anchor_record(store, &an, err);
}

static int seed_jobs(veil_store *store, veil_err *err)
{
    if (add_job(store, 'a', ALPHA, 2, err) != 0 || place(store, 'a', 0, SELF, err) != 0 ||
        place(store, 'a', 1, BETA, err) != 0 || add_job(store, 'b', ALPHA, 1, err) != 0 ||
        place(store, 'b', 0, BETA, err) != 0 || add_job(store, 'c', ALPHA, 1, err) != 0 ||
        add_job(store, 'd', SELF, 3, err) != 0 || place(store, 'd', 0, BETA, err) != 0 ||
        place(store, 'd', 1, SELF, err) != 0 || place(store, 'd', 2, "", err) != 0)
        return -1;
    char id[65];
    hex_id(id, 'd');
    return veil_store_replica_set_note(store, id, 0, "assignment signed by key holders 1,2 (t=1)",
                                       err) == 0 &&
                   anchor(store, 'd', err) == 0 && anchor(store, 'a', err) == 0
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: node_api_server DATA_DIR\n");
        return 2;
    }
    veil_err err = {0};
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* before MHD's thread starts */
    veil_store *store;
    veil_api *api;
    char token_file[4096], port_file[4096];
    snprintf(token_file, sizeof token_file, "%s/api.token", argv[1]);
    snprintf(port_file, sizeof port_file, "%s/api.port", argv[1]);
    if (veil_crypto_init(&err) != 0 || veil_store_open(&store, argv[1], &err) != 0) {
        fprintf(stderr, "node_api_server: %s\n", err.msg);
        return 1;
    }
    struct veil_store_node n1 = {.alive = true, .last_epoch = 12};
    snprintf(n1.peer_id, sizeof n1.peer_id, ALPHA);
    snprintf(n1.organization, sizeof n1.organization, "acme");
    struct veil_store_node n2 = {.alive = false, .last_epoch = 7};
    snprintf(n2.peer_id, sizeof n2.peer_id, BETA);
    snprintf(n2.organization, sizeof n2.organization, "globex");
    struct veil_api_config cfg = {
        .listen = "127.0.0.1:0", .token_file = token_file, .submitter = SELF};
    if (veil_store_node_upsert(store, &n1, &err) != 0 ||
        veil_store_node_upsert(store, &n2, &err) != 0 || seed_jobs(store, &err) != 0 ||
        veil_api_start(&api, &cfg, store, &err) != 0) {
        fprintf(stderr, "node_api_server: %s\n", err.msg);
        return 1;
    }
    char port[16];
    int n = snprintf(port, sizeof port, "%u\n", (unsigned)veil_api_port(api));
    if (veil_file_write_atomic(port_file, port, (size_t)n, 0644, &err) != 0) {
        fprintf(stderr, "node_api_server: %s\n", err.msg);
        return 1;
    }
    int sig;
    sigwait(&set, &sig);
    veil_api_stop(api);
    veil_store_close(store);
    return 0;
}
