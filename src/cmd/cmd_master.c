// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_master.c - `veil master config`: writes the nats-server configuration
 * of Master (a super cluster of stock nats-server processes) from a Guardian
 * directory: operator mode, full resolver, gateways, routes, TLS.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/guardian.h>

#include "cli.h"

enum { OPT_CLUSTERS = 1000, OPT_SERVERS, OPT_BASE_PORT, OPT_HOST, OPT_HOSTS, OPT_CLIENT_VERIFY };

static int int_arg(const char *text, int lo, int hi, int *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (text[0] == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_master(int argc, char **argv, const char **dir, const char **out,
                        struct veil_master_opts *o, veil_strlist *hosts)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"clusters", required_argument, NULL, OPT_CLUSTERS},
                                         {"servers", required_argument, NULL, OPT_SERVERS},
                                         {"base-port", required_argument, NULL, OPT_BASE_PORT},
                                         {"host", required_argument, NULL, OPT_HOST},
                                         {"hosts", required_argument, NULL, OPT_HOSTS},
                                         {"client-verify", no_argument, NULL, OPT_CLIENT_VERIFY},
                                         {NULL, 0, NULL, 0}};
    const char *path = "veil master config";
    int c, bad = 0;
    while ((c = getopt_long(argc, argv, "d:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            *dir = optarg;
            break;
        case 'o':
            *out = optarg;
            break;
        case OPT_CLUSTERS:
            bad |= int_arg(optarg, 1, 16, &o->clusters);
            break;
        case OPT_SERVERS:
            bad |= int_arg(optarg, 1, 16, &o->servers);
            break;
        case OPT_BASE_PORT:
            bad |= int_arg(optarg, 1024, 65000, &o->base_port);
            break;
        case OPT_HOST:
            o->host = optarg;
            break;
        case OPT_HOSTS:
            veil_strlist_free(hosts);
            bad |= veil_strlist_split(hosts, optarg, NULL);
            break;
        case OPT_CLIENT_VERIFY:
            o->client_verify = true;
            break;
        default:
            return veil_cli_usage_error(path, "bad option");
        }
        if (bad)
            return veil_cli_usage_error(path, "--clusters/--servers want 1-16, --base-port "
                                              "1024-65000");
    }
    if (*dir == NULL || *out == NULL || optind != argc)
        return veil_cli_usage_error(path, "-d GUARDIAN_DIR and -o CONFDIR are required");
    if (hosts->n > 0 && hosts->n != (size_t)(o->clusters * o->servers))
        return veil_cli_usage_error(path, "--hosts wants %d addresses (clusters x servers)",
                                    o->clusters * o->servers);
    o->hosts = hosts->n > 0 ? (const char *const *)hosts->items : NULL;
    return VEIL_EXIT_OK;
}

static int run_config(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct veil_master_opts o = {.clusters = 2, .servers = 2};
    const char *dir = NULL, *out = NULL;
    veil_err err = {0};
    veil_guardian *g = NULL;
    (void)ctx;
    veil_strlist hosts = {0};
    int rc = parse_master(argc, argv, &dir, &out, &o, &hosts);
    if (rc == VEIL_EXIT_OK && veil_guardian_open(&g, dir, &err) != 0)
        rc = veil_cli_fail(&err);
    if (rc == VEIL_EXIT_OK && veil_master_config(g, &o, out, &err) != 0)
        rc = veil_cli_fail(&err);
    veil_guardian_close(g);
    veil_strlist_free(&hosts);
    if (rc != VEIL_EXIT_OK)
        return rc;
    for (int c = 0; c < o.clusters; c++)
        for (int s = 0; s < o.servers; s++)
            printf("%s/c%d-s%d.conf client=%d\n", out, c, s,
                   veil_master_client_port(
                       &(struct veil_master_opts){.servers = o.servers,
                                                  .base_port = o.base_port ? o.base_port : 14222},
                       c, s));
    return VEIL_EXIT_OK;
}

static const struct veil_cli_command master_config = {
    .name = "config",
    .summary = "write nats-server configs for a Master super cluster",
    .usage = "Usage: veil master config -d GUARDIAN_DIR -o CONFDIR [--clusters C] [--servers S]\n"
             "                          [--base-port P] [--host ADDR | --hosts A1,A2,...]\n"
             "                          [--client-verify]\n\n"
             "Writes CONFDIR/c<c>-s<s>.conf for C clusters (default 2) of S servers\n"
             "(default 2): routes inside each cluster, gateways between clusters, operator\n"
             "mode with the system account and a `full` resolver preloaded with every\n"
             "account, TLS on client, route and gateway listeners (certificates from\n"
             "Guardian's CA). Server i (= c*S + s) listens on P+10i (client, default P\n"
             "14222), P+10i+1 (route), P+10i+2 (gateway), P+10i+3 (monitoring).\n"
             "Every server binds --host (default 127.0.0.1); on real hosts give --hosts, one\n"
             "address or DNS name per server in c0-s0, c0-s1, ..., c1-s0, ... order. Copy\n"
             "CONFDIR to each host and run `nats-server -c CONFDIR/c<c>-s<s>.conf` there.\n"
             "--client-verify also requires client certificates from Guardian's CA.\n",
    .run = run_config,
};
static const struct veil_cli_command *const master_subs[] = {&master_config, NULL};

const struct veil_cli_command veil_cmd_master = {
    .name = "master",
    .summary = "Master (the NATS super cluster carrying VeilNet control traffic)",
    .usage = "Usage: veil master config -d GUARDIAN_DIR -o CONFDIR [options]\n",
    .subcommands = master_subs,
};
