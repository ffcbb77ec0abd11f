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
    {"tun", VEIL_CONFIG_BOOL, NULL, "false", 0, 0, "system mode: the overlay behind a TUN"},
    {"tun_name", VEIL_CONFIG_STRING, NULL, "veil0", 0, 0, "TUN interface name"},
    {"listen", VEIL_CONFIG_INT, NULL, "0", 0, 65535, "underlay UDP port (0 = any)"},
    {"bind", VEIL_CONFIG_STRING, NULL, "0.0.0.0", 0, 0, "underlay UDP address"},
    {"endpoint", VEIL_CONFIG_STRING, NULL, NULL, 0, 0, "underlay address told to the realm"},
    {"underlay_mtu", VEIL_CONFIG_INT, NULL, "1500", 576, 65535, "underlay MTU"},
    {"peer_records", VEIL_CONFIG_LIST, NULL, NULL, 0, 0, "static peers: signed records (hex)"},
};

static const struct option up_opts[] = {{"config", required_argument, NULL, 'c'},
                                        {"name", required_argument, NULL, 'N'},
                                        {"dir", required_argument, NULL, 'd'},
                                        {"nats", required_argument, NULL, 'n'},
                                        {"ca", required_argument, NULL, 'A'},
                                        {"enroll-creds", required_argument, NULL, 'e'},
                                        {"token", required_argument, NULL, 't'},
                                        {"cluster", required_argument, NULL, 'C'},
                                        {"eth-address", required_argument, NULL, 'E'},
                                        {"guardian-key", required_argument, NULL, 'g'},
                                        {"beacon", required_argument, NULL, 'b'},
                                        {"tun", no_argument, NULL, 'T'},
                                        {"tun-name", required_argument, NULL, 'I'},
                                        {"listen", required_argument, NULL, 'L'},
                                        {"bind", required_argument, NULL, 'B'},
                                        {"endpoint", required_argument, NULL, 'P'},
                                        {"underlay-mtu", required_argument, NULL, 'M'},
                                        {"peer-record", required_argument, NULL, 'R'},
                                        {NULL, 0, NULL, 0}};

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
    case 'T':
        return "tun";
    case 'I':
        return "tun_name";
    case 'L':
        return "listen";
    case 'B':
        return "bind";
    case 'P':
        return "endpoint";
    case 'M':
        return "underlay_mtu";
    case 'R':
        return "peer_records";
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
        if (key_of(c) && veil_config_set(cfg, key_of(c), c == 'T' ? "true" : optarg,
                                         VEIL_CONFIG_FROM_FLAG, origin, err) != 0)
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

static void tun_config(const veil_config *cfg, struct veil_conflux_tun_config *out)
{
    memset(out, 0, sizeof *out);
    out->ifname = veil_config_str(cfg, "tun_name", "veil0");
    out->bind_ip = veil_config_str(cfg, "bind", "0.0.0.0");
    out->port = (uint16_t)veil_config_int(cfg, "listen", 0);
    out->endpoint_ip = veil_config_str(cfg, "endpoint", NULL);
    out->underlay_mtu = (unsigned)veil_config_int(cfg, "underlay_mtu", 1500);
    const struct veil_config_value *recs = veil_config_get(cfg, "peer_records");
    if (recs && recs->n_items) {
        out->peer_records = (const char *const *)recs->items;
        out->n_peer_records = recs->n_items;
    }
}

static void print_tun(veil_conflux_tun *t, const char *what)
{
    struct veil_conflux_tun_info i;
    veil_conflux_tun_info(t, &i);
    if (strcmp(what, "up") == 0) {
        printf("conflux: tun up ipv4=%s/%u ipv6=%s mtu=%u port=%u\n", i.addr.ipv4, i.addr.prefix,
               i.ipv6, i.mtu, i.port);
    } else {
        printf("conflux: tun stats {\"records_applied\":%llu,\"records_refused\":%llu,"
               "\"revocations\":%llu,\"renewals\":%llu,\"handshakes_completed\":%llu,"
               "\"drop_auth\":%llu,\"drop_realm\":%llu,\"tx_data\":%llu,\"rx_data\":%llu,"
               "\"spoofed\":%llu,\"no_route\":%llu,\"nat\":%d,\"relayed_dsts\":%u,"
               "\"paths_built\":%llu,\"route_switches\":%llu,\"cells_sent\":%llu,"
               "\"cells_forwarded\":%llu,\"cells_delivered\":%llu,\"cells_refused\":%llu,"
               "\"relayed_in\":%llu,\"relayed_out\":%llu,\"probes_sent\":%llu,"
               "\"probes_answered\":%llu,\"summaries_applied\":%llu,\"summaries_refused\":%llu,"
               "\"punch_offers\":%llu,\"punch_answers\":%llu,\"punches\":%llu}\n",
               (unsigned long long)i.records_applied, (unsigned long long)i.records_refused,
               (unsigned long long)i.revocations, (unsigned long long)i.renewals,
               (unsigned long long)i.anchor.handshakes_completed,
               (unsigned long long)i.anchor.dropped[VEIL_ANCHOR_DROP_AUTH],
               (unsigned long long)i.anchor.dropped[VEIL_ANCHOR_DROP_REALM],
               (unsigned long long)i.anchor.tx_data, (unsigned long long)i.anchor.rx_data,
               (unsigned long long)i.overlay.spoofed, (unsigned long long)i.overlay.no_route,
               (int)i.route.nat, i.route.relayed_dsts, (unsigned long long)i.route.paths_built,
               (unsigned long long)i.route.switches, (unsigned long long)i.route.cells_sent,
               (unsigned long long)i.route.cells_forwarded,
               (unsigned long long)i.route.cells_delivered,
               (unsigned long long)i.route.cells_refused, (unsigned long long)i.overlay.relayed_in,
               (unsigned long long)i.overlay.relayed_out, (unsigned long long)i.route.probes_sent,
               (unsigned long long)i.route.probes_answered,
               (unsigned long long)i.route.summaries_applied,
               (unsigned long long)i.summaries_refused, (unsigned long long)i.route.punch_offers,
               (unsigned long long)i.route.punch_answers, (unsigned long long)i.route.punches);
    }
    fflush(stdout);
}

/* Starts the agent, and in --tun mode the overlay on it; 0 or an exit code. */
static int start_all(const veil_config *cfg, struct veil_conflux_config *ac, veil_conflux **a,
                     veil_conflux_tun **t, veil_err *err)
{
    bool tun = veil_config_bool(cfg, "tun", false);
    if (tun && (*t = veil_conflux_tun_new(err)) == NULL)
        return veil_cli_fail(err);
    if (tun)
        veil_conflux_tun_hooks(*t, &ac->hooks);
    if (veil_conflux_start(a, ac, err) != 0)
        return veil_cli_fail(err);
    struct veil_conflux_tun_config tc;
    tun_config(cfg, &tc);
    if (tun && veil_conflux_tun_start(*t, *a, &tc, err) != 0) {
        veil_err_wrap(err, "--tun");
        return veil_cli_fail(err);
    }
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
    veil_conflux_tun *t = NULL;
    rc = start_all(&cfg, &ac, &a, &t, &err);
    if (rc != 0) {
        veil_conflux_stop(a); /* hooks end before the overlay goes */
        veil_conflux_tun_free(t);
        veil_config_free(&cfg);
        return rc;
    }
    struct veil_conflux_status st;
    veil_conflux_get_status(a, &st);
    printf("conflux: up node=%s realm=%s server=%s\n", st.name, st.realm, st.server);
    if (t)
        print_tun(t, "up");
    fflush(stdout);
    struct timespec tick = {0, 200 * 1000 * 1000};
    while (sigtimedwait(&set, NULL, &tick) < 0 && !veil_conflux_wait_shutdown(a, 0))
        ;
    veil_conflux_get_status(a, &st);
    if (t)
        print_tun(t, "stats");
    veil_conflux_stop(a);
    veil_conflux_tun_free(t);
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
             "                       [--guardian-key N...] [--beacon 2s]\n"
             "                       [--tun [--tun-name veil0] [--listen PORT] [--bind IP]\n"
             "                        [--endpoint IP] [--underlay-mtu 1500]\n"
             "                        [--peer-record HEX[,HEX...]]]\n\n"
             "Loads (or creates) the node identity in DIR/identity.nk, proves it to\n"
             "Guardian through the enrollment account (admitted by the one-time token, by\n"
             "the node's active registration in on-chain cluster ID, or as an already\n"
             "enrolled identity), then connects to Master with the issued user JWT\n"
             "(through libnats callbacks: nothing is written to disk) and mTLS\n"
             "certificate, renews them before expiry, publishes liveness and health, and\n"
             "answers Guardian's signed commands. Fails over between the servers given.\n"
             "CONFIG is YAML with the same keys (name, dir, nats, ca, enroll_creds, token,\n"
             "cluster, eth_address, guardian_key, beacon); flags override it. Exits 0 on\n"
             "SIGINT/SIGTERM or a Guardian shutdown.\n\n"
             "--tun (system mode, needs CAP_NET_ADMIN): also creates the TUN interface,\n"
             "gives it the IPv4 address Guardian assigned from the realm's pool (in the\n"
             "certificate) and the IPv6 address derived from the identity, routes the\n"
             "realm's pool and IPv6 prefix to it, sets its MTU to the underlay's minus the\n"
             "Anchor overhead, and carries the realm's traffic peer to peer over UDP\n"
             "(--bind/--listen). Members learn each other from signed peer records on the\n"
             "realm's topology subject (the endpoint told is --endpoint, else --bind, else\n"
             "the local address toward Master); Guardian's revocations end a peer's\n"
             "sessions at once; renewed certificates are presented from then on. No\n"
             "packet goes through Master. The interface is removed on exit. --peer-record\n"
             "adds static peers (their signed records, as the topology subject carries).\n",
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
