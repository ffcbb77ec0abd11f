// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_cluster.c - `veil cluster init` (owned by the veild integration):
 * creates a cluster end to end. It generates the cluster's FHE keys (the
 * decryptor keeps client.key; every node gets public.key and server.key;
 * public.tfhers is the public key in TFHE-rs format for Zama SDK clients),
 * or with --key-holders runs the threshold ceremony (src/threshold: one
 * sealed share per key holder, the squashing key, no secret key kept),
 * deploys the VeilRegistry contract (or reuses --contract), creates the
 * cluster with the given operators, records the FHE public-key hash, the
 * designated decryptor, the allowed image digests and the shard size and
 * redundancy of sharded rounds in the on-chain policy, and writes the
 * cluster bundle that `veil node join` consumes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include <veil/chain.h>
#include <veil/fhe.h>
#include <veil/node.h>
#include <veil/p2p.h>
#include <veil/tfhers.h>
#include <veil/threshold.h>

#include "../node/daemon.h"
#include "cli.h"

#define MAX_OPERATORS 32
#define MAX_IMAGES    32
#define MAX_HOLDERS   VEIL_TH_MAX_HOLDERS

static const char cluster_init_usage[] =
    "Usage: veil cluster init --rpc URL -o DIR --keystore FILE [options]\n"
    "\n"
    "Creates a cluster: FHE keys, the registry contract (deployed unless --contract),\n"
    "the cluster on chain with its operators, the policy (FHE public-key hash,\n"
    "designated decryptor, allowed image digests), and the bundle DIR that\n"
    "'veil node join DIR' consumes. DIR/decryptor/client.key is the FHE secret key:\n"
    "hand it only to the designated decryptor's node.\n"
    "\n"
    "Options:\n"
    "  --rpc URL              Ethereum JSON-RPC endpoint (required)\n"
    "  -o, --out DIR          bundle directory to create (required)\n"
    "  --keystore FILE        founder's keystore (password: --password-file or\n"
    "                         VEIL_KEYSTORE_PASSWORD)\n"
    "  --password-file FILE   keystore password file\n"
    "  --contract ADDR        reuse a deployed VeilRegistry instead of deploying\n"
    "  --name NAME            cluster name (default \"veil\")\n"
    "  --operator ADDR@ORG    an operator (repeatable; the founder is always one)\n"
    "  --decryptor ADDR       the designated decryptor's node address (default: founder)\n"
    "  --allow-image DIGEST   an allowed image digest sha256:<hex> (repeatable;\n"
    "                         none = every image is allowed)\n"
    "  --scheduler POLICY     default scheduling policy recorded on chain (binpack)\n"
    "  --shard-size N         sharded rounds: above N alive members a round is split\n"
    "                         into shards of about N candidates each (1..65536; 0 or\n"
    "                         absent = never sharded); on chain, changed by a policy vote\n"
    "  --shard-redundancy R   schedulers per shard, 1..3 (0 or absent = 3)\n"
    "  --no-batch-replicas    one round per replica (default: a job's replicas placed in\n"
    "                         one round); on chain, changed by a policy vote\n"
    "  --no-node-keys         placement keys computed in the circuit (default: by the\n"
    "                         candidates, published encrypted); on chain likewise\n"
    "  --key-holders LIST     threshold decryption instead of a designated decryptor:\n"
    "                         ADDR=PEER_ID,... (node address and libp2p peer ID of each\n"
    "                         key holder, in share order; run 'veil node join' once on\n"
    "                         each first, or give the peer ID of its p2p.key). The\n"
    "                         dealer writes DIR/share-I.key sealed to holder I, the\n"
    "                         squashing key and DIR/threshold.pub; no secret key is kept\n"
    "  --threshold T          tolerated holders (t-of-n: any 2T+1 agreeing holders decrypt;\n"
    "                         n >= 2T+1, with n >= 3T+1 any T wrong or missing are corrected)\n"
    "  --json                 print the result as JSON\n";

/* A decimal 0..max for flag; usage errors are printed. */
static int parse_count(const char *path, const char *flag, const char *text, long max, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || end == text || *end || v < 0 || v > max)
        return veil_cli_usage_error(path, "%s wants 0..%ld, got '%s'", flag, max, text);
    *out = v;
    return 0;
}

static int parse_digest(const char *text, uint8_t out[32])
{
    if (strncmp(text, "sha256:", 7) == 0)
        text += 7;
    return veil_hex_decode(out, 32, text, strlen(text), true, NULL) == 32 ? 0 : -1;
}

/* The key holders of a threshold cluster: node address and Ed25519 key. */
struct holders {
    unsigned n, t;
    veil_eth_address addr[MAX_HOLDERS];
    uint8_t pk[MAX_HOLDERS][VEIL_TH_PK_SIZE];
};

/* "ADDR=PEER_ID,..." -> holders; usage errors are printed. */
static int parse_holders(const char *arg, unsigned t, struct holders *hs, const char *path)
{
    char buf[4096];
    if (strlen(arg) >= sizeof buf)
        return veil_cli_usage_error(path, "--key-holders: too long");
    snprintf(buf, sizeof buf, "%s", arg);
    hs->t = t;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        veil_err err = {0};
        veil_p2p_peer_id pid;
        if (hs->n == MAX_HOLDERS)
            return veil_cli_usage_error(path, "--key-holders: at most %u", MAX_HOLDERS);
        if (!eq)
            return veil_cli_usage_error(path, "--key-holders: '%s' is not ADDR=PEER_ID", item);
        *eq = '\0';
        if (veil_eth_address_parse(item, &hs->addr[hs->n], &err) != 0 ||
            veil_p2p_peer_id_parse(eq + 1, &pid, &err) != 0 ||
            veil_p2p_peer_id_ed25519_key(&pid, hs->pk[hs->n], &err) != 0)
            return veil_cli_usage_error(path, "--key-holders '%s': %s", item, err.msg);
        hs->n++;
    }
    veil_err err = {0};
    if (veil_th_check_params(hs->n, t, &err) != 0)
        return veil_cli_usage_error(path, "--key-holders/--threshold: %s", err.msg);
    return 0;
}

/* The cluster's public key also in TFHE-rs's format (DIR/public.tfhers), so
 * a client holding only Zama's SDK (node-tfhe, tfhe in the browser) can
 * encrypt a confidential job's request for this cluster (issue 17). */
static int export_public_tfhers(const char *pub, const char *dir, veil_err *err)
{
    char path[600];
    veil_fhe_public *pk = NULL;
    snprintf(path, sizeof path, "%s/public.tfhers", dir);
    int rc = veil_fhe_public_load(pub, &pk, err);
    if (rc == 0)
        rc = veil_fhe_public_export_tfhers(pk, path, err);
    veil_fhe_public_free(pk);
    return rc == 0 ? 0 : veil_err_wrap(err, "TFHE-rs public key %s", path);
}

/* A designated decryptor's keys: DIR/public.key and DIR/server.key for every
 * node, DIR/decryptor/client.key for the decryptor alone. */
static int designated_keys(const char *out, const char *pub, const char *srv, char *cli,
                           size_t cli_cap, veil_err *err)
{
    char keydir[400], tmp[500];
    snprintf(keydir, sizeof keydir, "%s/decryptor", out);
    if (veil_fhe_keygen_dir(keydir, err) != 0)
        return -1;
    snprintf(cli, cli_cap, "%s/client.key", keydir);
    snprintf(tmp, sizeof tmp, "%s/public.key", keydir);
    if (rename(tmp, pub) != 0)
        return veil_err_set(err, VEIL_E_IO, "rename %s: %s", tmp, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/server.key", keydir);
    if (rename(tmp, srv) != 0)
        return veil_err_set(err, VEIL_E_IO, "rename %s: %s", tmp, strerror(errno));
    return 0;
}

static int run_init(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    const char *path = "veil cluster init";
    enum {
        O_RPC = 256,
        O_KEYSTORE,
        O_PW,
        O_CONTRACT,
        O_NAME,
        O_OPERATOR,
        O_DECRYPTOR,
        O_IMAGE,
        O_SCHED,
        O_HOLDERS,
        O_THRESHOLD,
        O_SHARD_SIZE,
        O_SHARD_REDUNDANCY,
        O_NO_BATCH,
        O_NO_NODE_KEYS,
        O_JSON
    };
    static const struct option opts[] = {
        {"rpc", required_argument, NULL, O_RPC},
        {"out", required_argument, NULL, 'o'},
        {"keystore", required_argument, NULL, O_KEYSTORE},
        {"password-file", required_argument, NULL, O_PW},
        {"contract", required_argument, NULL, O_CONTRACT},
        {"name", required_argument, NULL, O_NAME},
        {"operator", required_argument, NULL, O_OPERATOR},
        {"decryptor", required_argument, NULL, O_DECRYPTOR},
        {"allow-image", required_argument, NULL, O_IMAGE},
        {"scheduler", required_argument, NULL, O_SCHED},
        {"key-holders", required_argument, NULL, O_HOLDERS},
        {"threshold", required_argument, NULL, O_THRESHOLD},
        {"shard-size", required_argument, NULL, O_SHARD_SIZE},
        {"shard-redundancy", required_argument, NULL, O_SHARD_REDUNDANCY},
        {"no-batch-replicas", no_argument, NULL, O_NO_BATCH},
        {"no-node-keys", no_argument, NULL, O_NO_NODE_KEYS},
        {"json", no_argument, NULL, O_JSON},
        {NULL, 0, NULL, 0}};
    const char *rpc = NULL, *out = NULL, *keystore = NULL, *pwfile = NULL, *contract = NULL;
    const char *name = "veil", *decryptor = NULL, *sched = "binpack", *holders_arg = NULL;
    long threshold = -1, shard_size = 0, shard_redundancy = 0;
    unsigned sched_flags = 0; /* VEIL_POLICY_SCHED_*: the policy's switches, each turning one off */
    const char *operators[MAX_OPERATORS];
    size_t n_operators = 0;
    static uint8_t images[MAX_IMAGES][32];
    size_t n_images = 0;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case O_RPC:
            rpc = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case O_KEYSTORE:
            keystore = optarg;
            break;
        case O_PW:
            pwfile = optarg;
            break;
        case O_CONTRACT:
            contract = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_OPERATOR:
            if (n_operators == MAX_OPERATORS)
                return veil_cli_usage_error(path, "too many --operator");
            operators[n_operators++] = optarg;
            break;
        case O_DECRYPTOR:
            decryptor = optarg;
            break;
        case O_IMAGE:
            if (n_images == MAX_IMAGES)
                return veil_cli_usage_error(path, "too many --allow-image");
            if (parse_digest(optarg, images[n_images]) != 0)
                return veil_cli_usage_error(path, "--allow-image wants sha256:<64 hex>, got '%s'",
                                            optarg);
            n_images++;
            break;
        case O_SCHED:
            sched = optarg;
            break;
        case O_HOLDERS:
            holders_arg = optarg;
            break;
        case O_THRESHOLD: {
            char *end = NULL;
            threshold = strtol(optarg, &end, 10);
            if (!end || *end || threshold < 1 || threshold > 7)
                return veil_cli_usage_error(path, "--threshold wants 1..7, got '%s'", optarg);
            break;
        }
        case O_SHARD_SIZE:
            if (parse_count(path, "--shard-size", optarg, VEIL_POLICY_MAX_SHARD_SIZE,
                            &shard_size) != 0)
                return VEIL_EXIT_USAGE;
            break;
        case O_SHARD_REDUNDANCY:
            if (parse_count(path, "--shard-redundancy", optarg, VEIL_POLICY_MAX_SHARD_REDUNDANCY,
                            &shard_redundancy) != 0)
                return VEIL_EXIT_USAGE;
            break;
        case O_NO_BATCH:
            sched_flags |= VEIL_POLICY_SCHED_NO_BATCH;
            break;
        case O_NO_NODE_KEYS:
            sched_flags |= VEIL_POLICY_SCHED_NO_NODE_KEYS;
            break;
        case O_JSON:
            json = true;
            break;
        default:
            return veil_cli_usage_error(path, "unknown option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error(path, "unexpected argument '%s'", argv[optind]);
    if (!rpc)
        return veil_cli_usage_error(path, "--rpc URL is required");
    if (out && strlen(out) > 300)
        return veil_cli_usage_error(path, "-o DIR: path too long");
    if (!out)
        return veil_cli_usage_error(path, "-o DIR is required");
    if (!keystore)
        keystore = veil_config_str(ctx->config, "keystore", NULL);
    if (!keystore)
        return veil_cli_usage_error(path, "--keystore FILE is required");
    if (!holders_arg != (threshold < 0))
        return veil_cli_usage_error(path, "--key-holders and --threshold go together");
    if (holders_arg && decryptor)
        return veil_cli_usage_error(path, "--decryptor or --key-holders, not both");
    struct holders hs = {0};
    if (holders_arg && parse_holders(holders_arg, (unsigned)threshold, &hs, path) != 0)
        return VEIL_EXIT_USAGE;
    if (strcmp(sched, "binpack") != 0 && strcmp(sched, "spread") != 0 &&
        strcmp(sched, "priority") != 0)
        return veil_cli_usage_error(path, "--scheduler: binpack, spread or priority");

    /* Operators: the founder first (organization "founder"), then the others. */
    veil_eth_address founders[MAX_OPERATORS + 1];
    uint32_t founder_orgs[MAX_OPERATORS + 1];
    char org_store[MAX_OPERATORS + 1][64];
    const char *org_names[MAX_OPERATORS + 1];
    size_t n_orgs = 0, n_founders = 0;
    veil_err err = {0};
    veil_chain_client *cc = NULL;
    if (veil_daemon_chain_open(rpc, 0, contract, keystore, pwfile, &cc, &err) != 0)
        return veil_cli_fail(&err);
    int rc = VEIL_EXIT_FAILURE;
    const veil_eth_address *me = veil_chain_client_signer(cc);
    founders[n_founders] = *me;
    snprintf(org_store[0], sizeof org_store[0], "founder");
    org_names[0] = org_store[0];
    n_orgs = 1;
    founder_orgs[n_founders++] = 0;
    for (size_t i = 0; i < n_operators; i++) {
        const char *at = strchr(operators[i], '@');
        char addr[64];
        size_t al = at ? (size_t)(at - operators[i]) : strlen(operators[i]);
        const char *org = at ? at + 1 : "founder";
        if (al >= sizeof addr || strlen(org) >= sizeof org_store[0] || !*org) {
            rc = veil_cli_usage_error(path, "bad --operator '%s' (ADDR@ORG)", operators[i]);
            goto done;
        }
        memcpy(addr, operators[i], al);
        addr[al] = '\0';
        veil_eth_address a;
        if (veil_eth_address_parse(addr, &a, &err) != 0) {
            rc = veil_cli_usage_error(path, "--operator '%s': %s", operators[i], err.msg);
            goto done;
        }
        if (memcmp(a.b, me->b, 20) == 0)
            continue; /* the founder is already listed */
        size_t k = 0;
        while (k < n_orgs && strcmp(org_names[k], org) != 0)
            k++;
        if (k == n_orgs) {
            snprintf(org_store[n_orgs], sizeof org_store[0], "%s", org);
            org_names[n_orgs] = org_store[n_orgs];
            n_orgs++;
        }
        founders[n_founders] = a;
        founder_orgs[n_founders++] = (uint32_t)k;
    }
    veil_eth_address dec = *me;
    if (decryptor && veil_eth_address_parse(decryptor, &dec, &err) != 0) {
        rc = veil_cli_usage_error(path, "--decryptor: %s", err.msg);
        goto done;
    }

    /* FHE keys: public.key and server.key in the bundle; the client key
     * apart (a designated decryptor) or never written (threshold: shares). */
    char pub[500], srv[500], cli[500] = "", thp[500] = "", sqk[500] = "";
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        veil_err_set(&err, VEIL_E_IO, "cannot create %s: %s", out, strerror(errno));
        goto fail;
    }
    snprintf(pub, sizeof pub, "%s/public.key", out);
    snprintf(srv, sizeof srv, "%s/server.key", out);
    uint8_t fhe_hash[32];
    if (holders_arg) {
        snprintf(thp, sizeof thp, "%s/%s", out, VEIL_THRESHOLD_PUBLIC_FILE);
        snprintf(sqk, sizeof sqk, "%s/%s", out, VEIL_SQUASH_KEY_FILE);
        if (veil_th_ceremony(out, hs.n, hs.t, (const uint8_t(*)[VEIL_TH_PK_SIZE])hs.pk, 0, &err) !=
                0 ||
            veil_daemon_keyset_keccak(pub, thp, fhe_hash, &err) != 0)
            goto fail;
    } else if (designated_keys(out, pub, srv, cli, sizeof cli, &err) != 0 ||
               veil_daemon_file_keccak(pub, fhe_hash, &err) != 0) {
        goto fail;
    }
    if (export_public_tfhers(pub, out, &err) != 0)
        goto fail;

    veil_eth_address caddr;
    veil_tx_result res;
    if (!contract) {
        if (veil_contract_deploy(cc, &caddr, &res, &err) != 0)
            goto fail;
        veil_tx_result_clear(&res);
        veil_chain_client_close(cc);
        cc = NULL;
        char ctext[43];
        veil_eth_address_format(&caddr, ctext);
        if (veil_daemon_chain_open(rpc, 0, ctext, keystore, pwfile, &cc, &err) != 0)
            goto fail;
    } else if (veil_eth_address_parse(contract, &caddr, &err) != 0) {
        goto fail;
    }
    uint64_t cluster_id;
    if (veil_contract_create_cluster(cc, name, org_names, n_orgs, founders, founder_orgs,
                                     n_founders, 1, &cluster_id, &res, &err) != 0)
        goto fail;
    veil_tx_result_clear(&res);

    veil_contract_policy pol = {0};
    pol.image_digests = images;
    pol.n_image_digests = n_images;
    pol.scheduler_policy = (char *)sched;
    memcpy(pol.fhe_key_hash, fhe_hash, 32);
    pol.decryptors = holders_arg ? hs.addr : &dec;
    pol.n_decryptors = holders_arg ? hs.n : 1;
    pol.shard_size = (uint32_t)shard_size;
    pol.shard_redundancy = (uint8_t)shard_redundancy;
    pol.sched_flags = (uint8_t)sched_flags;
    uint64_t proposal;
    if (veil_contract_propose_policy(cc, cluster_id, &pol, 3600, &proposal, &res, &err) != 0)
        goto fail;
    veil_tx_result_clear(&res);
    /* Threshold 1: the founder's proposal executes at once; check it did. */
    veil_contract_policy got = {0};
    if (veil_contract_get_policy(cc, cluster_id, &got, &err) != 0)
        goto fail;
    bool ok = got.version >= 1 && memcmp(got.fhe_key_hash, fhe_hash, 32) == 0 &&
              got.shard_size == pol.shard_size && got.shard_redundancy == pol.shard_redundancy &&
              got.sched_flags == pol.sched_flags;
    veil_contract_policy_clear(&got);
    if (!ok) {
        veil_err_set(&err, VEIL_E_STATE, "the cluster policy was not applied on chain");
        goto fail;
    }

    struct veil_bundle b = {0};
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.rpc_url, sizeof b.rpc_url, "%s", rpc);
    b.chain_id = veil_chain_client_chain_id(cc);
    veil_eth_address_format(&caddr, b.contract);
    b.cluster_id = cluster_id;
    veil_eth_address_format(holders_arg ? &hs.addr[0] : &dec, b.decryptor);
    snprintf(b.threshold_public, sizeof b.threshold_public, "%s", thp);
    snprintf(b.squash_key, sizeof b.squash_key, "%s", sqk);
    b.fhe_key_hash[0] = '0';
    b.fhe_key_hash[1] = 'x';
    veil_hex_encode(b.fhe_key_hash + 2, sizeof b.fhe_key_hash - 2, fhe_hash, 32);
    snprintf(b.public_key, sizeof b.public_key, "%.480s", pub);
    snprintf(b.server_key, sizeof b.server_key, "%.480s", srv);
    if (veil_bundle_save(&b, out, &err) != 0)
        goto fail;
    if (json && holders_arg) {
        printf("{\"bundle\":\"%s\",\"contract\":\"%s\",\"cluster_id\":%llu,\"chain_id\":%llu,"
               "\"key_holders\":%u,\"threshold\":%u,\"fhe_key_hash\":\"%s\","
               "\"shares\":\"%s/share-N.key\",\"shard_size\":%ld,\"shard_redundancy\":%ld,"
               "\"sched_flags\":%u}\n",
               out, b.contract, (unsigned long long)cluster_id, (unsigned long long)b.chain_id,
               hs.n, hs.t, b.fhe_key_hash, out, shard_size, shard_redundancy, sched_flags);
    } else if (json) {
        printf("{\"bundle\":\"%s\",\"contract\":\"%s\",\"cluster_id\":%llu,\"chain_id\":%llu,"
               "\"decryptor\":\"%s\",\"fhe_key_hash\":\"%s\",\"client_key\":\"%s\","
               "\"shard_size\":%ld,\"shard_redundancy\":%ld,\"sched_flags\":%u}\n",
               out, b.contract, (unsigned long long)cluster_id, (unsigned long long)b.chain_id,
               b.decryptor, b.fhe_key_hash, cli, shard_size, shard_redundancy, sched_flags);
    } else {
        printf("cluster %llu \"%s\" on chain %llu, registry %s\n", (unsigned long long)cluster_id,
               name, (unsigned long long)b.chain_id, b.contract);
        printf("bundle: %s (give it to every node)\n", out);
        if (shard_size)
            printf("sharded rounds: shards of %ld, %ld schedulers each\n", shard_size,
                   shard_redundancy ? shard_redundancy : (long)VEIL_MAX_SCHEDULERS);
        if (sched_flags)
            printf("scheduling: %s, %s\n",
                   sched_flags & VEIL_POLICY_SCHED_NO_BATCH ? "one round per replica"
                                                            : "a job's replicas in one round",
                   sched_flags & VEIL_POLICY_SCHED_NO_NODE_KEYS ? "keys in the circuit"
                                                                : "node-computed keys");
        if (holders_arg) {
            printf("%u key holders, threshold %u, key-set hash %s\n", hs.n, hs.t, b.fhe_key_hash);
            printf("shares: %s/share-1.key .. share-%u.key (each only for its holder's node: "
                   "veil node join --share)\n",
                   out, hs.n);
        } else {
            printf("decryptor %s, FHE public-key hash %s\n", b.decryptor, b.fhe_key_hash);
            printf("FHE secret key: %s (only for the decryptor's node)\n", cli);
        }
    }
    rc = VEIL_EXIT_OK;
    goto done;
fail:
    rc = veil_cli_fail(&err);
done:
    if (cc)
        veil_chain_client_close(cc);
    return rc;
}

static const struct veil_cli_command cmd_cluster_init = {
    .name = "init",
    .summary = "create a cluster: FHE keys, contract, on-chain policy, bundle",
    .usage = cluster_init_usage,
    .run = run_init,
};

static const struct veil_cli_command *const cluster_subs[] = {&cmd_cluster_init, NULL};

const struct veil_cli_command veil_cmd_cluster = {
    .name = "cluster",
    .summary = "create a cluster (keys, contract, policy, bundle)",
    .usage = "Usage: veil cluster init --rpc URL -o DIR --keystore FILE [options]\n",
    .subcommands = cluster_subs,
};
