// SPDX-License-Identifier: Apache-2.0
/*
 * api_server.c - test helper for test_node_cli.sh: serves the node's local
 * HTTP API from a state store in DATA_DIR on a free loopback port (written to
 * DATA_DIR/api.port) with two registered nodes, until SIGTERM or SIGINT. It
 * stands in for veild until the daemon wires the API in.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <veil/node.h>

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
    snprintf(n1.peer_id, sizeof n1.peer_id, "12D3KooWAlphaNodeAlphaNodeAlphaNodeAlphaNodeAlpha01");
    snprintf(n1.organization, sizeof n1.organization, "acme");
    struct veil_store_node n2 = {.alive = false, .last_epoch = 7};
    snprintf(n2.peer_id, sizeof n2.peer_id, "12D3KooWBetaNodeBetaNodeBetaNodeBetaNodeBetaNode02");
    snprintf(n2.organization, sizeof n2.organization, "globex");
    struct veil_api_config cfg = {
        .listen = "127.0.0.1:0", .token_file = token_file, .submitter = "12D3KooWsubmitter"};
    if (veil_store_node_upsert(store, &n1, &err) != 0 ||
        veil_store_node_upsert(store, &n2, &err) != 0 ||
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
