// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_guardian.c - `veil guardian ...`: the offline administration of a
 * Guardian directory (init, realms, enrollment tokens, offline credential
 * issuance, data-plane certificates, revocation with a push to Master, the
 * audit log), plus the daemon (`serve`) and admin commands to online nodes
 * (`cmd`), which live in src/guardian/serve*.c and admin*.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <veil/guardian.h>
#include <veil/guardian_serve.h>

#include "cli.h"

/* Options shared by the leaves. */
struct gopts {
    const char *dir, *realm, *name, *taints, *out, *servers, *ca, *pubkey, *node_name, *pool;
    int64_t ttl_ms, max_payload;
    uint64_t cluster;
    int64_t after;
    bool no_push, service;
};

enum {
    OPT_REALM = 1000,
    OPT_NAME,
    OPT_TAINTS,
    OPT_TTL,
    OPT_SERVERS,
    OPT_CA,
    OPT_PUBKEY,
    OPT_CLUSTER,
    OPT_AFTER,
    OPT_NO_PUSH,
    OPT_SERVICE,
    OPT_MAX_PAYLOAD,
    OPT_POOL
};

static const struct option LONG_OPTS[] = {{"dir", required_argument, NULL, 'd'},
                                          {"out", required_argument, NULL, 'o'},
                                          {"realm", required_argument, NULL, OPT_REALM},
                                          {"name", required_argument, NULL, OPT_NAME},
                                          {"taints", required_argument, NULL, OPT_TAINTS},
                                          {"ttl", required_argument, NULL, OPT_TTL},
                                          {"servers", required_argument, NULL, OPT_SERVERS},
                                          {"ca", required_argument, NULL, OPT_CA},
                                          {"pubkey", required_argument, NULL, OPT_PUBKEY},
                                          {"cluster", required_argument, NULL, OPT_CLUSTER},
                                          {"after", required_argument, NULL, OPT_AFTER},
                                          {"no-push", no_argument, NULL, OPT_NO_PUSH},
                                          {"service", no_argument, NULL, OPT_SERVICE},
                                          {"max-payload", required_argument, NULL, OPT_MAX_PAYLOAD},
                                          {"pool", required_argument, NULL, OPT_POOL},
                                          {NULL, 0, NULL, 0}};

static int parse_number(const char *text, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* --max-payload: a size (64k) or "none" (-1: no limit in the user JWT). */
static int parse_payload(const char *text, int64_t *out)
{
    uint64_t n = 0;
    veil_err err = {0};
    if (strcmp(text, "none") == 0) {
        *out = -1;
        return 0;
    }
    if (veil_parse_size(text, &n, &err) != 0 || n < 1 || n > VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT)
        return -1;
    *out = (int64_t)n;
    return 0;
}

static int set_opt(struct gopts *o, int c, const char *path)
{
    veil_err err = {0};
    uint64_t n = 0;
    switch (c) {
    case 'd':
        o->dir = optarg;
        return 0;
    case 'o':
        o->out = optarg;
        return 0;
    case OPT_REALM:
        o->realm = optarg;
        return 0;
    case OPT_NAME:
        o->node_name = optarg;
        return 0;
    case OPT_TAINTS:
        o->taints = optarg;
        return 0;
    case OPT_SERVERS:
        o->servers = optarg;
        return 0;
    case OPT_CA:
        o->ca = optarg;
        return 0;
    case OPT_PUBKEY:
        o->pubkey = optarg;
        return 0;
    case OPT_NO_PUSH:
        o->no_push = true;
        return 0;
    case OPT_SERVICE:
        o->service = true;
        return 0;
    case OPT_POOL:
        o->pool = optarg;
        return 0;
    case OPT_TTL:
        if (veil_parse_duration_ms(optarg, &o->ttl_ms, &err) != 0 || o->ttl_ms < 1000)
            return veil_cli_usage_error(path, "--ttl wants a duration of at least 1s (15m, 1h)");
        return 0;
    case OPT_CLUSTER:
        if (parse_number(optarg, &o->cluster) != 0 || o->cluster == 0)
            return veil_cli_usage_error(path, "--cluster wants a positive cluster id");
        return 0;
    case OPT_MAX_PAYLOAD:
        if (parse_payload(optarg, &o->max_payload) != 0)
            return veil_cli_usage_error(path, "--max-payload wants 1 .. 64m (64k), or none");
        return 0;
    case OPT_AFTER:
        if (parse_number(optarg, &n) != 0 || n > INT64_MAX)
            return veil_cli_usage_error(path, "--after wants an audit entry id");
        o->after = (int64_t)n;
        return 0;
    default:
        return veil_cli_usage_error(path, "bad option");
    }
}

/* Parses options; `npos` positional arguments are required (name in o->name). */
static int parse(int argc, char **argv, const char *path, int npos, struct gopts *o)
{
    memset(o, 0, sizeof(*o));
    int c;
    while ((c = getopt_long(argc, argv, "d:o:", LONG_OPTS, NULL)) != -1)
        if (set_opt(o, c, path) != 0)
            return VEIL_EXIT_USAGE;
    if (o->dir == NULL)
        return veil_cli_usage_error(path, "-d GUARDIAN_DIR is required");
    if (argc - optind != npos)
        return veil_cli_usage_error(path, npos ? "expected one NAME" : "unexpected argument");
    o->name = npos ? argv[optind] : NULL;
    return VEIL_EXIT_OK;
}

static int open_or_fail(const struct gopts *o, veil_guardian **g)
{
    veil_err err = {0};
    if (veil_guardian_open(g, o->dir, &err) != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

static int run_init(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian init", 0, &o);
    if (rc != VEIL_EXIT_OK)
        return rc;
    struct veil_guardian_init_opts io = {.operator_name = o.node_name};
    if (o.node_name != NULL && !veil_guardian_name_valid(o.node_name))
        return veil_cli_usage_error("veil guardian init", "--name: 1-63 of [A-Za-z0-9_-]");
    if (veil_guardian_init(o.dir, &io, &err) != 0)
        return veil_cli_fail(&err);
    veil_guardian *g = NULL;
    if ((rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    printf("guardian initialised in %s\noperator system-account %s\ncommand-key %s\n"
           "offline root key: %s/offline/root.key (move it off this host)\n",
           o.dir, veil_guardian_system_account(g), veil_guardian_command_public(g), o.dir);
    veil_guardian_close(g);
    return VEIL_EXIT_OK;
}

static int run_realm_create(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_realm r;
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian realm create", 1, &o);
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_realm_create(g, o.name, &r, &err);
    if (rc == 0 && o.cluster != 0)
        rc = veil_guardian_realm_bind_cluster(g, o.name, o.cluster, &err);
    if (rc == 0 && o.pool != NULL)
        rc = veil_guardian_realm_set_pool(g, o.name, o.pool, &err);
    veil_guardian_close(g);
    if (rc != 0)
        return veil_cli_fail(&err);
    printf("realm %s account %s signing-key %s\n", r.name, r.account, r.signing_key);
    return VEIL_EXIT_OK;
}

static int run_realm_list(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_realm *list = NULL;
    size_t n = 0;
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian realm list", 0, &o);
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_realm_list(g, &list, &n, &err);
    veil_guardian_close(g);
    if (rc != 0)
        return veil_cli_fail(&err);
    for (size_t i = 0; i < n; i++)
        printf("%s %s cluster=%llu\n", list[i].name, list[i].account,
               (unsigned long long)list[i].chain_cluster);
    free(list);
    return VEIL_EXIT_OK;
}

static int run_realm_bind(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian realm bind", 1, &o);
    if (rc == VEIL_EXIT_OK && o.cluster == 0)
        return veil_cli_usage_error("veil guardian realm bind", "--cluster ID is required");
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_realm_bind_cluster(g, o.name, o.cluster, &err);
    veil_guardian_close(g);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_token_create(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    veil_strlist taints = {0};
    char token[VEIL_GUARDIAN_TOKEN_MAX];
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian token create", 0, &o);
    if (rc == VEIL_EXIT_OK && o.realm == NULL)
        return veil_cli_usage_error("veil guardian token create", "--realm R is required");
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    int64_t ttl = o.ttl_ms ? o.ttl_ms / 1000 : 3600;
    rc = veil_strlist_split(&taints, o.taints ? o.taints : "", &err);
    if (rc == 0)
        rc = veil_guardian_token_create(g, o.realm, &taints, ttl, token, &err);
    veil_strlist_free(&taints);
    veil_guardian_close(g);
    if (rc != 0)
        return veil_cli_fail(&err);
    printf("%s\n", token);
    veil_memzero(token, sizeof(token));
    return VEIL_EXIT_OK;
}

/* A realm's service user: everything inside the realm (Guardian itself, and
 * operators' tools); recorded as a serial, not as a node. */
static int issue_service(veil_guardian *g, const struct gopts *o, struct veil_guardian_issued *is,
                         veil_err *err)
{
    veil_jwt perms;
    struct veil_guardian_realm r;
    if (veil_guardian_realm_get(g, o->realm, &r, err) != 0)
        return -1;
    veil_jwt_init(&perms, VEIL_JWT_USER);
    int rc = veil_guardian_service_permissions(&perms, err);
    if (rc == 0)
        rc = veil_guardian_issue_custom(g, o->realm, o->node_name, &perms, o->ttl_ms / 1000, is,
                                        err);
    veil_jwt_free(&perms);
    return rc;
}

static int run_issue(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    veil_strlist taints = {0};
    struct veil_guardian_issued is = {0};
    const char *path = "veil guardian issue";
    (void)ctx;
    int rc = parse(argc, argv, path, 0, &o);
    if (rc == VEIL_EXIT_OK && (o.realm == NULL || o.node_name == NULL || o.out == NULL))
        return veil_cli_usage_error(path, "--realm R, --name NAME and -o FILE are required");
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    struct veil_guardian_issue_req req = {.realm = o.realm,
                                          .name = o.node_name,
                                          .taints = o.taints ? &taints : NULL,
                                          .ttl_s = o.ttl_ms / 1000,
                                          .max_payload = o.max_payload};
    rc = veil_strlist_split(&taints, o.taints ? o.taints : "", &err);
    if (rc == 0)
        rc = o.service ? issue_service(g, &o, &is, &err) : veil_guardian_issue(g, &req, &is, &err);
    if (rc == 0)
        rc = veil_creds_write(o.out, is.jwt, &is.user, &err);
    if (rc == 0)
        printf("%s serial=%llu expires=%lld\n", o.out, (unsigned long long)is.serial,
               (long long)is.expires);
    veil_guardian_issued_free(&is);
    veil_strlist_free(&taints);
    veil_guardian_close(g);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int write_pair(const char *prefix, const struct veil_ca_leaf *leaf, veil_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s.crt", prefix);
    if (veil_file_write_atomic(path, leaf->chain_pem, strlen(leaf->chain_pem), 0644, err) != 0)
        return -1;
    if (leaf->key_pem == NULL)
        return 0;
    snprintf(path, sizeof(path), "%s.key", prefix);
    return veil_key_file_write(path, leaf->key_pem, strlen(leaf->key_pem), err);
}

static int run_cert(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_ca_leaf leaf = {0};
    uint8_t *pem = NULL;
    size_t len = 0;
    const char *path = "veil guardian cert";
    (void)ctx;
    int rc = parse(argc, argv, path, 0, &o);
    if (rc == VEIL_EXIT_OK && (o.realm == NULL || o.node_name == NULL || o.out == NULL))
        return veil_cli_usage_error(path, "--realm R, --name NAME and -o PREFIX are required");
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = o.pubkey ? veil_file_read(o.pubkey, 16384, &pem, &len, &err) : 0;
    if (rc == 0)
        rc = veil_guardian_issue_cert(g, o.realm, o.node_name, (const char *)pem, o.ttl_ms / 1000,
                                      &leaf, &err);
    if (rc == 0)
        rc = write_pair(o.out, &leaf, &err);
    if (rc == 0)
        printf("%s.crt serial=%016llx not_after=%lld\n", o.out, (unsigned long long)leaf.serial,
               (long long)leaf.not_after);
    veil_ca_leaf_free(&leaf);
    free(pem);
    veil_guardian_close(g);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

/* Master's client URLs: --servers, else GUARDIAN_DIR/master.servers. */
static char *servers_of(const struct gopts *o)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    if (o->servers != NULL)
        return strdup(o->servers);
    snprintf(path, sizeof(path), "%s/master.servers", o->dir);
    if (veil_file_read(path, 65536, &data, &len, NULL) != 0)
        return NULL;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = '\0';
    return (char *)data;
}

static int push_revocation(veil_guardian *g, const struct gopts *o, const char *account,
                           const char *jwt, veil_err *err)
{
    char ca[4096];
    char *servers = servers_of(o);
    if (servers == NULL || o->no_push) {
        fprintf(stderr, "veil: revocation recorded but not pushed (no Master servers known)\n");
        free(servers);
        return 0;
    }
    snprintf(ca, sizeof(ca), "%s/ca/root.crt", o->dir);
    bool tls = strstr(servers, "tls://") != NULL;
    int rc = veil_guardian_push(g, servers, o->ca ? o->ca : tls ? ca : NULL, account, jwt, err);
    free(servers);
    return rc;
}

static int run_revoke(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    char *jwt = NULL, account[VEIL_NKEY_PUBLIC_LEN + 1];
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian revoke", 1, &o);
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_revoke(g, o.name, &jwt, account, &err);
    if (rc == 0)
        rc = push_revocation(g, &o, account, jwt, &err);
    if (rc == 0)
        printf("revoked %s (account %s)\n", o.name, account);
    free(jwt);
    veil_guardian_close(g);
    return rc == 0 ? VEIL_EXIT_OK : veil_cli_fail(&err);
}

static int run_audit(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_audit_entry *list = NULL;
    size_t n = 0;
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian audit", 0, &o);
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_audit_list(g, o.after, 0, &list, &n, &err);
    veil_guardian_close(g);
    if (rc != 0)
        return veil_cli_fail(&err);
    for (size_t i = 0; i < n; i++)
        printf("%lld %lld %s %s %s\n", (long long)list[i].id, (long long)list[i].at_ms,
               list[i].actor, list[i].action, list[i].detail);
    veil_guardian_audit_list_free(list, n);
    return VEIL_EXIT_OK;
}

static int run_nodes(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    struct gopts o;
    veil_err err = {0};
    veil_guardian *g = NULL;
    struct veil_guardian_node *list = NULL;
    size_t n = 0;
    char taints[1024];
    (void)ctx;
    int rc = parse(argc, argv, "veil guardian nodes", 0, &o);
    if (rc != VEIL_EXIT_OK || (rc = open_or_fail(&o, &g)) != VEIL_EXIT_OK)
        return rc;
    rc = veil_guardian_node_list(g, o.realm, &list, &n, &err);
    veil_guardian_close(g);
    if (rc != 0)
        return veil_cli_fail(&err);
    for (size_t i = 0; i < n; i++) {
        taints[0] = '\0';
        for (size_t t = 0; t < list[i].taints.n; t++)
            snprintf(taints + strlen(taints), sizeof(taints) - strlen(taints), "%s%s", t ? "," : "",
                     list[i].taints.items[t]);
        printf("%s realm=%s taints=%s user=%s enrolled=%lld%s\n", list[i].name, list[i].realm,
               taints, list[i].user_key, (long long)list[i].enrolled,
               list[i].revoked ? " revoked" : "");
    }
    veil_guardian_node_list_free(list, n);
    return VEIL_EXIT_OK;
}

static int run_serve(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    return veil_guardian_serve_main(argc, argv);
}

static int run_cmd(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    return veil_guardian_admin_main(argc, argv);
}

/* ---------------------------------------------------------------- commands */

static const struct veil_cli_command g_init = {
    .name = "init",
    .summary = "create a Guardian directory (operator, system account, CA)",
    .usage = "Usage: veil guardian init -d DIR [--name OPERATOR]\n\n"
             "Creates DIR (0700): the operator nkey, the command-signing key, the system and\n"
             "enrollment accounts, the operator JWT, an X.509 CA (offline root whose key is\n"
             "DIR/offline/root.key - move it off the host - and an online intermediate) and\n"
             "the SQLite state. Refuses a directory that already holds a Guardian.\n",
    .run = run_init,
};
static const struct veil_cli_command g_realm_create = {
    .name = "create",
    .summary = "create a realm (a NATS account with a signing key)",
    .usage =
        "Usage: veil guardian realm create -d DIR [--cluster ID] [--pool CIDR] NAME\n\n"
        "NAME: 1-63 characters of [A-Za-z0-9_-]. --cluster binds an on-chain Veil\n"
        "cluster: its registered nodes enroll into this realm. --pool sets the IPv4\n"
        "pool its nodes' overlay addresses come from (default " VEIL_GUARDIAN_DEFAULT_POOL ").\n",
    .run = run_realm_create,
};
static const struct veil_cli_command g_realm_list = {
    .name = "list",
    .summary = "list realms",
    .usage = "Usage: veil guardian realm list -d DIR\n",
    .run = run_realm_list,
};
static const struct veil_cli_command g_realm_bind = {
    .name = "bind",
    .summary = "bind an on-chain cluster to a realm",
    .usage = "Usage: veil guardian realm bind -d DIR --cluster ID NAME\n",
    .run = run_realm_bind,
};
static const struct veil_cli_command *const g_realm_subs[] = {&g_realm_create, &g_realm_list,
                                                              &g_realm_bind, NULL};
static const struct veil_cli_command g_realm = {
    .name = "realm",
    .summary = "manage realms",
    .usage = "Usage: veil guardian realm <create|list|bind> -d DIR ...\n",
    .subcommands = g_realm_subs,
};
static const struct veil_cli_command g_token_create = {
    .name = "create",
    .summary = "create a one-time enrollment token",
    .usage = "Usage: veil guardian token create -d DIR --realm R [--taints a,b] [--ttl 1h]\n\n"
             "Prints the token (vgt1.<id>.<secret>); only a hash of the secret is kept.\n"
             "A node presenting it once joins realm R with the given taints.\n",
    .run = run_token_create,
};
static const struct veil_cli_command *const g_token_subs[] = {&g_token_create, NULL};
static const struct veil_cli_command g_token = {
    .name = "token",
    .summary = "enrollment tokens",
    .usage = "Usage: veil guardian token create -d DIR --realm R [--taints a,b] [--ttl D]\n",
    .subcommands = g_token_subs,
};
static const struct veil_cli_command g_issue = {
    .name = "issue",
    .summary = "issue a node's NATS credentials offline (.creds)",
    .usage = "Usage: veil guardian issue -d DIR --realm R --name NAME [--taints a,b]\n"
             "                           [--ttl D] [--max-payload 64k|none] [--service]\n"
             "                           -o FILE.creds\n\n"
             "Writes a standard .creds file (user JWT + nkey seed, mode 0600) whose\n"
             "publish/subscribe allow-lists cover only the node's own subjects and its\n"
             "realm's shared ones. Default lifetime 15m. A node name is fixed to its realm.\n"
             "The servers refuse the node's messages over --max-payload (default 64k).\n"
             "--service issues a realm service user instead (everything inside the realm,\n"
             "nothing outside it), e.g. for Guardian's own connection or operator tools.\n",
    .run = run_issue,
};
static const struct veil_cli_command g_cert = {
    .name = "cert",
    .summary = "issue a data-plane certificate (SAN veil://<realm>/<node>)",
    .usage = "Usage: veil guardian cert -d DIR --realm R --name NAME [--pubkey PEM]\n"
             "                          [--ttl D] -o PREFIX\n\n"
             "Writes PREFIX.crt (leaf + intermediate) and, without --pubkey, a fresh\n"
             "P-256 key PREFIX.key (0600). The node must be enrolled and not revoked.\n",
    .run = run_cert,
};
static const struct veil_cli_command g_revoke = {
    .name = "revoke",
    .summary = "revoke a node and push the realm account to Master",
    .usage = "Usage: veil guardian revoke -d DIR [--servers URLS] [--ca FILE] [--no-push] NAME\n\n"
             "Adds every user key NAME was issued to its realm account's revocations,\n"
             "re-signs the account JWT and pushes it on $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE;\n"
             "the servers then close NAME's connections. URLS default to DIR/master.servers\n"
             "(written by `veil master config`), the CA to DIR/ca/root.crt.\n",
    .run = run_revoke,
};
static const struct veil_cli_command g_audit = {
    .name = "audit",
    .summary = "print the audit log",
    .usage = "Usage: veil guardian audit -d DIR [--after ID]\n\n"
             "One line per entry: id, time (ms), actor, action, details.\n",
    .run = run_audit,
};
static const struct veil_cli_command g_nodes = {
    .name = "nodes",
    .summary = "list enrolled nodes",
    .usage = "Usage: veil guardian nodes -d DIR [--realm R]\n\n"
             "One line per node: name, realm, taints, current NATS user key, enrollment\n"
             "time, and \"revoked\" for revoked nodes.\n",
    .run = run_nodes,
};
static const struct veil_cli_command g_serve = {
    .name = "serve",
    .summary = "run the Guardian daemon (enrollment, renewal, admin commands)",
    .usage = "Usage: veil guardian serve -d DIR [--nats URL[,URL...]] [--ca FILE] [--ttl 15m]\n"
             "                           [--cert-ttl D] [--max-payload 64k|none]\n"
             "                           [--chain-rpc URL --contract ADDR]\n\n"
             "Answers enrollment (a one-time token, or active registration in the on-chain\n"
             "cluster bound to a realm, with --chain-rpc/--contract) and renewal; issues\n"
             "user JWTs (--ttl, default 15m) and mTLS certificates (--cert-ttl, default the\n"
             "JWT lifetime). The servers refuse a node's message larger than --max-payload\n"
             "(default 64k: control traffic only). Servers default to DIR/master.servers,\n"
             "the CA to DIR/ca/root.crt. Every request and answer is audited. Stops on\n"
             "SIGINT/SIGTERM.\n",
    .run = run_serve,
};
static const struct veil_cli_command g_cmd = {
    .name = "cmd",
    .summary = "send a signed admin command to an online node",
    .usage = "Usage: veil guardian cmd -d DIR [--nats URLS] [--ca FILE] [--timeout 10s] NODE\n"
             "                         query|taint-add T|taint-remove T|invalidate-keys|\n"
             "                         shutdown [--hard]\n"
             "       veil guardian cmd -d DIR --enroll-creds FILE [--ttl 24h]\n\n"
             "Sends a command signed by Guardian (timestamp, nonce) to NODE through Master\n"
             "and prints the node's signed JSON answer; exit 1 if the node refuses.\n"
             "shutdown --hard also revokes NODE. --enroll-creds writes the enrollment\n"
             "credential (may only publish enrollment requests) to FILE and its client\n"
             "certificate to FILE.tls (both 0600).\n",
    .run = run_cmd,
};
static const struct veil_cli_command *const g_subs[] = {&g_init,  &g_realm,  &g_token, &g_issue,
                                                        &g_cert,  &g_revoke, &g_nodes, &g_audit,
                                                        &g_serve, &g_cmd,    NULL};

const struct veil_cli_command veil_cmd_guardian = {
    .name = "guardian",
    .summary = "VeilNet authority: realms, enrollment, credentials, revocation",
    .usage = "Usage: veil guardian <command> -d DIR [options]\n\n"
             "Guardian decides who joins VeilNet, under which identity and in which realm,\n"
             "and mints every NATS credential and data-plane certificate.\n",
    .subcommands = g_subs,
};
