// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_conflux.c - `veil conflux up|id`: the Conflux agent's control side as a
 * program. `up` layers its settings (defaults < -c CONFIG YAML < flags),
 * enrolls with Guardian, stays connected to Master until SIGINT/SIGTERM or a
 * Guardian shutdown command; `id` prints (creating it if needed) the node
 * identity an operator registers on chain.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/conflux.h>

#include "cli.h"

static const struct veil_config_key conflux_keys[] = {
    {"name", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "node name asked of Guardian"},
    {"dir", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "agent directory (identity.nk)"},
    {"nats", VEIL_CONFIG_LIST, NULL, NULL, 0, 0, "Master client URLs"},
    {"ca", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "Guardian's root CA certificate"},
    {"enroll_creds", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "enrollment-account .creds"},
    {"token", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "one-time enrollment token"},
    {"cluster", VEIL_CONFIG_INT, NULL, NULL, 1, INT64_MAX, "on-chain cluster id"},
    {"eth_address", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "the node's registry address"},
    {"guardian_key", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "pinned Guardian command key (N...)"},
    {"beacon", VEIL_CONFIG_DURATION, NULL, "2s", 0, 0, "liveness/health period"},
};

static const struct option up_opts[] = {
    {"config", required_argument, NULL, 'c'},      {"name", required_argument, NULL, 'N'},
    {"dir", required_argument, NULL, 'd'},         {"nats", required_argument, NULL, 'n'},
    {"ca", required_argument, NULL, 'A'},          {"enroll-creds", required_argument, NULL, 'e'},
    {"token", required_argument, NULL, 't'},       {"cluster", required_argument, NULL, 'C'},
    {"eth-address", required_argument, NULL, 'E'}, {"guardian-key", required_argument, NULL, 'g'},
    {"beacon", required_argument, NULL, 'b'},      {NULL, 0, NULL, 0}};

static const char *key_of(int opt)
{
    switch (opt) {
    case 'N':
        return "name";
    case 'd':
        return "dir";
    case 'n':
        return "nats";
    case 'A':
        return "ca";
    case 'e':
        return "enroll_creds";
    case 't':
        return "token";
    case 'C':
        return "cluster";
    case 'E':
        return "eth_address";
    case 'g':
        return "guardian_key";
    case 'b':
        return "beacon";
    }
    return NULL;
}

/* Layers the file (if any) under the flags; 0, or a CLI exit code. */
static int load_settings(int argc, char **argv, veil_config *cfg, veil_err *err)
{
    const char *file = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:d:", up_opts, NULL)) != -1) {
        if (c == 'c')
            file = optarg;
        else if (!key_of(c))
            return veil_cli_usage_error("veil conflux up", "bad option");
    }
    if (optind != argc)
        return veil_cli_usage_error("veil conflux up", "unexpected argument '%s'", argv[optind]);
    if (veil_config_init(cfg, conflux_keys, VEIL_ARRAY_LEN(conflux_keys), err) != 0)
        return veil_cli_fail(err);
    if (file && veil_config_load_file(cfg, file, err) != 0)
        return veil_cli_fail(err);
    veil_cli_reset_getopt();
    while ((c = getopt_long(argc, argv, "c:d:", up_opts, NULL)) != -1) {
        char origin[64];
        snprintf(origin, sizeof origin, "flag --%s", key_of(c) ? key_of(c) : "config");
        if (key_of(c) &&
            veil_config_set(cfg, key_of(c), optarg, VEIL_CONFIG_FROM_FLAG, origin, err) != 0)
            return veil_cli_usage_error("veil conflux up", "%s", err->msg);
    }
    return 0;
}

static int to_agent_config(const veil_config *cfg, struct veil_conflux_config *out)
{
    const struct veil_config_value *nats = veil_config_get(cfg, "nats");
    memset(out, 0, sizeof *out);
    out->name = veil_config_str(cfg, "name", NULL);
    out->dir = veil_config_str(cfg, "dir", NULL);
    out->ca_file = veil_config_str(cfg, "ca", NULL);
    out->enroll_creds = veil_config_str(cfg, "enroll_creds", NULL);
    out->token = veil_config_str(cfg, "token", NULL);
    out->cluster_id = (uint64_t)veil_config_int(cfg, "cluster", 0);
    out->eth_address = veil_config_str(cfg, "eth_address", NULL);
    out->guardian_key = veil_config_str(cfg, "guardian_key", NULL);
    out->beacon_ms = veil_config_int(cfg, "beacon", 2000);
    if (nats && nats->n_items) {
        out->servers = (const char *const *)nats->items;
        out->n_servers = nats->n_items;
    }
    if (!out->dir || !out->n_servers)
        return veil_cli_usage_error("veil conflux up", "--dir and --nats (or dir/nats in -c) are "
                                                       "required");
    if (!out->enroll_creds)
        return veil_cli_usage_error("veil conflux up", "--enroll-creds is required");
    if (!out->cluster_id != !out->eth_address)
        return veil_cli_usage_error("veil conflux up", "--cluster and --eth-address go together");
    return 0;
}

static int run_up(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    veil_config cfg = {0};
    veil_err err = {0};
    struct veil_conflux_config ac;
    int rc = load_settings(argc, argv, &cfg, &err);
    if (rc == 0)
        rc = to_agent_config(&cfg, &ac);
    if (rc != 0) {
        veil_config_free(&cfg);
        return rc;
    }
    /* block the signals before libnats starts threads; wait for them here */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a TLS write to a server that died */
    veil_conflux *a = NULL;
    if (veil_conflux_start(&a, &ac, &err) != 0) {
        veil_config_free(&cfg);
        return veil_cli_fail(&err);
    }
    struct veil_conflux_status st;
    veil_conflux_get_status(a, &st);
    printf("conflux: up node=%s realm=%s server=%s\n", st.name, st.realm, st.server);
    fflush(stdout);
    struct timespec tick = {0, 200 * 1000 * 1000};
    while (sigtimedwait(&set, NULL, &tick) < 0 && !veil_conflux_wait_shutdown(a, 0))
        ;
    veil_conflux_get_status(a, &st);
    veil_conflux_stop(a);
    veil_config_free(&cfg);
    printf("conflux: down node=%s%s\n", st.name,
           st.shutdown_requested ? " (Guardian shutdown)" : "");
    return VEIL_EXIT_OK;
}

static int run_id(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0}};
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c != 'd')
            return veil_cli_usage_error("veil conflux id", "bad option");
        dir = optarg;
    }
    if (!dir || optind != argc)
        return veil_cli_usage_error("veil conflux id", "expected --dir DIR only");
    veil_err err = {0};
    veil_nkey id;
    if (veil_crypto_init(&err) != 0 || veil_conflux_identity_load(&id, dir, &err) != 0)
        return veil_cli_fail(&err);
    char nk[VEIL_NKEY_PUBLIC_LEN + 1], hex[65];
    veil_nkey_public_text(&id, nk);
    (void)veil_hex_encode(hex, sizeof hex, id.pub, 32);
    veil_nkey_wipe(&id);
    printf("{\"key\":\"0x%s\",\"nats_user\":\"%s\"}\n", hex, nk);
    return VEIL_EXIT_OK;
}

static const struct veil_cli_command conflux_up = {
    .name = "up",
    .summary = "enroll with Guardian and stay connected to Master",
    .usage = "Usage: veil conflux up [-c CONFIG] [--dir DIR] [--name NAME] --nats URL[,URL...]\n"
             "                       [--ca FILE] --enroll-creds FILE\n"
             "                       [--token TOKEN | --cluster ID --eth-address ADDR]\n"
             "                       [--guardian-key N...] [--beacon 2s]\n\n"
             "Loads (or creates) the node identity in DIR/identity.nk, proves it to\n"
             "Guardian through the enrollment account (admitted by the one-time token, by\n"
             "the node's active registration in on-chain cluster ID, or as an already\n"
             "enrolled identity), then connects to Master with the issued user JWT\n"
             "(through libnats callbacks: nothing is written to disk) and mTLS\n"
             "certificate, renews them before expiry, publishes liveness and health, and\n"
             "answers Guardian's signed commands. Fails over between the servers given.\n"
             "CONFIG is YAML with the same keys (name, dir, nats, ca, enroll_creds, token,\n"
             "cluster, eth_address, guardian_key, beacon); flags override it. Exits 0 on\n"
             "SIGINT/SIGTERM or a Guardian shutdown.\n",
    .run = run_up,
};
static const struct veil_cli_command conflux_id = {
    .name = "id",
    .summary = "print the node identity (created if missing)",
    .usage = "Usage: veil conflux id --dir DIR\n\n"
             "Prints the Ed25519 identity key (the peer key to register on chain) and the\n"
             "NATS user key of the agent in DIR, creating the identity if needed.\n",
    .run = run_id,
};
static const struct veil_cli_command *const conflux_subcommands[] = {&conflux_up, &conflux_id,
                                                                     NULL};

const struct veil_cli_command veil_cmd_conflux = {
    .name = "conflux",
    .summary = "the VeilNet agent (control side)",
    .usage = "Usage: veil conflux <command> [options]\n\n"
             "Conflux joins a node to VeilNet: enrollment with Guardian, the control\n"
             "connection to Master, admin commands.\n",
    .subcommands = conflux_subcommands,
};
