// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_chain.c - `veil chain ...`: the operator's view of the VeilRegistry
 * contract through veil_chain (src/chain): keystore generation, deployment,
 * clusters and organizations, nodes, policy governance, deployment anchors
 * and Merkle inclusion checks, disputes, and the event log.
 *
 * Every leaf accepts the connection options --rpc (config rpc_url, env
 * VEIL_RPC_URL), --contract (contract_address, VEIL_CONTRACT_ADDRESS),
 * --keystore (keystore, VEIL_KEYSTORE) with the password from
 * --password-file, VEIL_KEYSTORE_PASSWORD, keystore_password_file, or a
 * prompt without echo; --chain-id (chain_id) refuses any other chain.
 * Beyond those, a leaf takes only the options its LEAF line lists.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include <veil/chain.h>

#include "cli.h"

#define MAX_LIST 256

/* Everything any leaf may take. Each leaf declares the options it takes
 * (LEAF below), parse_opts refuses the others, and the leaf checks which of
 * its own are required. */
struct chain_opts {
    const char *path;
    const char *rpc, *contract, *keystore, *password_file;
    uint64_t chain_id;
    bool json, legacy;
    long timeout_ms;
    uint64_t cluster;
    bool has_cluster;
    const char *name;
    const char *orgs[MAX_LIST];
    size_t n_orgs;
    const char *operators[MAX_LIST];
    size_t n_operators;
    long threshold;
    const char *node, *peer_id;
    uint64_t ttl;
    uint64_t proposal, dispute, epoch, from_block, confirmations;
    bool has_proposal, has_dispute, has_epoch;
    const char *image_digests[MAX_LIST];
    size_t n_image_digests;
    const char *scheduler;
    const char *weights[MAX_LIST];
    size_t n_weights;
    const char *fhe_key_hash;
    const char *decryptors[MAX_LIST];
    size_t n_decryptors;
    const char *guardian_keys[MAX_LIST];
    size_t n_guardian_keys;
    uint32_t outcomes_per_period, outcome_period_s; /* --outcome-budget N/PERIOD */
    uint64_t shard_size, shard_redundancy;          /* --shard-size, --shard-redundancy */
    uint8_t sched_flags; /* --no-batch-replicas, --no-node-keys: VEIL_POLICY_SCHED_* */
    const char *job, *assignment, *root, *anchor, *evidence, *out;
    const char *leaves[4096];
    size_t n_leaves;
    long count;
    int uphold; /* -1 unset, 0 reject, 1 uphold */
    bool follow;
    unsigned scrypt_log_n;
};

enum {
    O_RPC = 256,
    O_CONTRACT,
    O_KEYSTORE,
    O_PASSWORD_FILE,
    O_CHAIN_ID,
    O_JSON,
    O_LEGACY,
    O_TIMEOUT,
    O_CLUSTER,
    O_NAME,
    O_ORG,
    O_OPERATOR,
    O_THRESHOLD,
    O_NODE,
    O_PEER_ID,
    O_TTL,
    O_PROPOSAL,
    O_IMAGE,
    O_SCHEDULER,
    O_WEIGHT,
    O_FHE,
    O_DECRYPTOR,
    O_GUARDIAN,
    O_JOB,
    O_ASSIGNMENT,
    O_EPOCH,
    O_ROOT,
    O_COUNT,
    O_LEAF,
    O_ANCHOR,
    O_EVIDENCE,
    O_DISPUTE,
    O_UPHOLD,
    O_REJECT,
    O_FOLLOW,
    O_FROM_BLOCK,
    O_CONFIRMATIONS,
    O_OUT,
    O_SCRYPT,
    O_BUDGET,
    O_SHARD_SIZE,
    O_SHARD_REDUNDANCY,
    O_NO_BATCH,
    O_NO_NODE_KEYS,
    O_END_ /* keep last: the masks below have one bit per option */
};

_Static_assert(O_END_ - O_RPC <= 64, "one bit per option in a uint64_t");
#define OPT(id) (UINT64_C(1) << ((id)-O_RPC))
/* Taken by every leaf (with -o/--output): how to reach and sign for the chain. */
#define CONN_OPTS                                                                                  \
    (OPT(O_RPC) | OPT(O_CONTRACT) | OPT(O_KEYSTORE) | OPT(O_PASSWORD_FILE) | OPT(O_CHAIN_ID) |     \
     OPT(O_JSON) | OPT(O_LEGACY) | OPT(O_TIMEOUT))

static const struct option long_opts[] = {
    {"rpc", required_argument, NULL, O_RPC},
    {"contract", required_argument, NULL, O_CONTRACT},
    {"keystore", required_argument, NULL, O_KEYSTORE},
    {"password-file", required_argument, NULL, O_PASSWORD_FILE},
    {"chain-id", required_argument, NULL, O_CHAIN_ID},
    {"output", required_argument, NULL, 'o'},
    {"json", no_argument, NULL, O_JSON},
    {"legacy", no_argument, NULL, O_LEGACY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"cluster", required_argument, NULL, O_CLUSTER},
    {"name", required_argument, NULL, O_NAME},
    {"org", required_argument, NULL, O_ORG},
    {"operator", required_argument, NULL, O_OPERATOR},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"node", required_argument, NULL, O_NODE},
    {"peer-id", required_argument, NULL, O_PEER_ID},
    {"ttl", required_argument, NULL, O_TTL},
    {"proposal", required_argument, NULL, O_PROPOSAL},
    {"image-digest", required_argument, NULL, O_IMAGE},
    {"scheduler", required_argument, NULL, O_SCHEDULER},
    {"weight", required_argument, NULL, O_WEIGHT},
    {"fhe-key-hash", required_argument, NULL, O_FHE},
    {"decryptor", required_argument, NULL, O_DECRYPTOR},
    {"guardian-key", required_argument, NULL, O_GUARDIAN},
    {"job", required_argument, NULL, O_JOB},
    {"assignment", required_argument, NULL, O_ASSIGNMENT},
    {"epoch", required_argument, NULL, O_EPOCH},
    {"root", required_argument, NULL, O_ROOT},
    {"count", required_argument, NULL, O_COUNT},
    {"leaf", required_argument, NULL, O_LEAF},
    {"anchor", required_argument, NULL, O_ANCHOR},
    {"evidence", required_argument, NULL, O_EVIDENCE},
    {"dispute", required_argument, NULL, O_DISPUTE},
    {"uphold", no_argument, NULL, O_UPHOLD},
    {"reject", no_argument, NULL, O_REJECT},
    {"follow", no_argument, NULL, O_FOLLOW},
    {"from-block", required_argument, NULL, O_FROM_BLOCK},
    {"confirmations", required_argument, NULL, O_CONFIRMATIONS},
    {"out", required_argument, NULL, O_OUT},
    {"scrypt-log-n", required_argument, NULL, O_SCRYPT},
    {"outcome-budget", required_argument, NULL, O_BUDGET},
    {"shard-size", required_argument, NULL, O_SHARD_SIZE},
    {"shard-redundancy", required_argument, NULL, O_SHARD_REDUNDANCY},
    {"no-batch-replicas", no_argument, NULL, O_NO_BATCH},
    {"no-node-keys", no_argument, NULL, O_NO_NODE_KEYS},
    {NULL, 0, NULL, 0},
};

#define CONN_USAGE                                                                                 \
    "\nConnection options:\n"                                                                      \
    "  --rpc URL            JSON-RPC endpoint (config rpc_url, env VEIL_RPC_URL;\n"                \
    "                       default http://127.0.0.1:8545)\n"                                      \
    "  --contract ADDR      VeilRegistry address (contract_address, VEIL_CONTRACT_ADDRESS)\n"      \
    "  --keystore FILE      keystore v3 file that signs (keystore, VEIL_KEYSTORE)\n"               \
    "  --password-file F    keystore password (else VEIL_KEYSTORE_PASSWORD, else a prompt)\n"      \
    "  --chain-id N         refuse to sign unless the node is chain N (chain_id)\n"                \
    "  --legacy             send legacy EIP-155 transactions instead of EIP-1559\n"                \
    "  --timeout DURATION   receipt wait (default 60s)\n"                                          \
    "  -o json              machine-readable output\n"

static int parse_u64(const char *path, const char *flag, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end != '\0' || text[0] == '-')
        return veil_cli_usage_error(path, "%s wants a non-negative integer, got '%s'", flag, text);
    *out = v;
    return 0;
}

/* --outcome-budget N/PERIOD: N outcomes per member per PERIOD (a duration:
 * 60s, 1h, or seconds); 0/0 (or 0/anything) means no budget. */
static int parse_budget(struct chain_opts *o, const char *text)
{
    const char *slash = strchr(text, '/');
    char num[24];
    if (!slash || (size_t)(slash - text) >= sizeof num)
        return veil_cli_usage_error(o->path,
                                    "--outcome-budget wants N/PERIOD (e.g. 32/1h), got '%s'", text);
    memcpy(num, text, (size_t)(slash - text));
    num[slash - text] = '\0';
    uint64_t n;
    if (parse_u64(o->path, "--outcome-budget", num, &n) != 0)
        return -1;
    int64_t ms = 0;
    veil_err err = {0};
    if (n > UINT32_MAX)
        return veil_cli_usage_error(o->path, "--outcome-budget: %s outcomes is too many", num);
    if (n > 0 &&
        (veil_parse_duration_ms(slash + 1, &ms, &err) != 0 || ms < 1000 || ms / 1000 > UINT32_MAX))
        return veil_cli_usage_error(o->path, "--outcome-budget: bad period '%s' (1s or more)",
                                    slash + 1);
    o->outcomes_per_period = (uint32_t)n;
    o->outcome_period_s = n ? (uint32_t)(ms / 1000) : 0;
    return 0;
}

static int push(const char *path, const char *flag, const char **list, size_t *n, size_t cap,
                const char *v)
{
    if (*n >= cap)
        return veil_cli_usage_error(path, "too many %s (at most %zu)", flag, cap);
    list[(*n)++] = v;
    return 0;
}

static const char *long_name(int id)
{
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == id)
            return lo->name;
    return "?";
}

/* Parses argv into o, refusing options outside `accepts` (OPT bits) and any
 * positional argument; returns -1 on success, or an exit code. */
static int parse_opts(int argc, char **argv, struct chain_opts *o, uint64_t accepts)
{
    veil_err err = {0};
    o->uphold = -1;
    o->threshold = -1;
    o->count = -1;
    o->ttl = 7 * 24 * 3600;
    int c;
    uint64_t v;
#define U64(field, flag)                                                                           \
    do {                                                                                           \
        if (parse_u64(o->path, flag, optarg, &v) != 0)                                             \
            return VEIL_EXIT_USAGE;                                                                \
        o->field = v;                                                                              \
    } while (0)
#define PUSH(list, n, flag)                                                                        \
    do {                                                                                           \
        if (push(o->path, flag, o->list, &o->n, VEIL_ARRAY_LEN(o->list), optarg) != 0)             \
            return VEIL_EXIT_USAGE;                                                                \
    } while (0)
    while ((c = getopt_long(argc, argv, "o:", long_opts, NULL)) != -1) {
        if (c >= O_RPC && c < O_END_ && !(accepts & OPT(c)))
            return veil_cli_usage_error(o->path, "--%s is not an option of this command",
                                        long_name(c));
        switch (c) {
        case O_RPC:
            o->rpc = optarg;
            break;
        case O_CONTRACT:
            o->contract = optarg;
            break;
        case O_KEYSTORE:
            o->keystore = optarg;
            break;
        case O_PASSWORD_FILE:
            o->password_file = optarg;
            break;
        case O_CHAIN_ID:
            U64(chain_id, "--chain-id");
            break;
        case 'o':
            if (veil_cli_parse_output(optarg, &o->json, &err) != 0)
                return veil_cli_usage_error(o->path, "%s", err.msg);
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_LEGACY:
            o->legacy = true;
            break;
        case O_TIMEOUT: {
            int64_t ms;
            if (veil_parse_duration_ms(optarg, &ms, &err) != 0 || ms <= 0)
                return veil_cli_usage_error(o->path, "--timeout: bad duration '%s'", optarg);
            o->timeout_ms = (long)ms;
            break;
        }
        case O_CLUSTER:
            U64(cluster, "--cluster");
            o->has_cluster = true;
            break;
        case O_NAME:
            o->name = optarg;
            break;
        case O_ORG:
            PUSH(orgs, n_orgs, "--org");
            break;
        case O_OPERATOR:
            PUSH(operators, n_operators, "--operator");
            break;
        case O_THRESHOLD:
            U64(threshold, "--threshold");
            if (o->threshold < 1 || o->threshold > 65535)
                return veil_cli_usage_error(o->path, "--threshold must be 1..65535");
            break;
        case O_NODE:
            o->node = optarg;
            break;
        case O_PEER_ID:
            o->peer_id = optarg;
            break;
        case O_TTL: {
            int64_t ms;
            if (veil_parse_duration_ms(optarg, &ms, &err) != 0 || ms < 1000)
                return veil_cli_usage_error(o->path, "--ttl: bad duration '%s'", optarg);
            o->ttl = (uint64_t)ms / 1000;
            break;
        }
        case O_PROPOSAL:
            U64(proposal, "--proposal");
            o->has_proposal = true;
            break;
        case O_IMAGE:
            PUSH(image_digests, n_image_digests, "--image-digest");
            break;
        case O_SCHEDULER:
            o->scheduler = optarg;
            break;
        case O_WEIGHT:
            PUSH(weights, n_weights, "--weight");
            break;
        case O_FHE:
            o->fhe_key_hash = optarg;
            break;
        case O_DECRYPTOR:
            PUSH(decryptors, n_decryptors, "--decryptor");
            break;
        case O_GUARDIAN:
            PUSH(guardian_keys, n_guardian_keys, "--guardian-key");
            break;
        case O_BUDGET:
            if (parse_budget(o, optarg) != 0)
                return VEIL_EXIT_USAGE;
            break;
        case O_SHARD_SIZE:
            U64(shard_size, "--shard-size");
            if (o->shard_size > VEIL_POLICY_MAX_SHARD_SIZE)
                return veil_cli_usage_error(o->path, "--shard-size: at most %d",
                                            VEIL_POLICY_MAX_SHARD_SIZE);
            break;
        case O_SHARD_REDUNDANCY:
            U64(shard_redundancy, "--shard-redundancy");
            if (o->shard_redundancy > VEIL_POLICY_MAX_SHARD_REDUNDANCY)
                return veil_cli_usage_error(o->path, "--shard-redundancy: 0..%d schedulers",
                                            VEIL_POLICY_MAX_SHARD_REDUNDANCY);
            break;
        case O_NO_BATCH:
            o->sched_flags |= VEIL_POLICY_SCHED_NO_BATCH;
            break;
        case O_NO_NODE_KEYS:
            o->sched_flags |= VEIL_POLICY_SCHED_NO_NODE_KEYS;
            break;
        case O_JOB:
            o->job = optarg;
            break;
        case O_ASSIGNMENT:
            o->assignment = optarg;
            break;
        case O_EPOCH:
            U64(epoch, "--epoch");
            o->has_epoch = true;
            break;
        case O_ROOT:
            o->root = optarg;
            break;
        case O_COUNT:
            U64(count, "--count");
            if (o->count > UINT32_MAX)
                return veil_cli_usage_error(o->path, "--count too large");
            break;
        case O_LEAF:
            PUSH(leaves, n_leaves, "--leaf");
            break;
        case O_ANCHOR:
            o->anchor = optarg;
            break;
        case O_EVIDENCE:
            o->evidence = optarg;
            break;
        case O_DISPUTE:
            U64(dispute, "--dispute");
            o->has_dispute = true;
            break;
        case O_UPHOLD:
            o->uphold = 1;
            break;
        case O_REJECT:
            o->uphold = 0;
            break;
        case O_FOLLOW:
            o->follow = true;
            break;
        case O_FROM_BLOCK:
            U64(from_block, "--from-block");
            break;
        case O_CONFIRMATIONS:
            U64(confirmations, "--confirmations");
            break;
        case O_OUT:
            o->out = optarg;
            break;
        case O_SCRYPT:
            U64(scrypt_log_n, "--scrypt-log-n");
            if (o->scrypt_log_n < 10 || o->scrypt_log_n > 20)
                return veil_cli_usage_error(o->path, "--scrypt-log-n must be 10..20");
            break;
        default:
            return veil_cli_usage_error(o->path, "bad option");
        }
    }
#undef U64
#undef PUSH
    if (optind != argc)
        return veil_cli_usage_error(o->path, "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* ------------------------------------------------------------------ helpers */

static int parse_b32(const char *path, const char *flag, const char *text, uint8_t out[32])
{
    if (!text)
        return veil_cli_usage_error(path, "%s is required", flag);
    if (strncmp(text, "0x", 2) != 0 || strlen(text) != 66 ||
        veil_hex_decode(out, 32, text + 2, 64, false, NULL) != 32)
        return veil_cli_usage_error(path, "%s wants 0x and 64 hex digits, got '%s'", flag, text);
    return 0;
}

static int parse_addr(const char *path, const char *flag, const char *text, veil_eth_address *a)
{
    veil_err err = {0};
    if (!text)
        return veil_cli_usage_error(path, "%s is required", flag);
    if (veil_eth_address_parse(text, a, &err) != 0)
        return veil_cli_usage_error(path, "%s: %s", flag, err.msg);
    return 0;
}

static void hex32(char out[67], const uint8_t b[32])
{
    out[0] = '0';
    out[1] = 'x';
    veil_hex_encode(out + 2, 65, b, 32);
}

/* Reads the keystore password: --password-file, VEIL_KEYSTORE_PASSWORD,
 * keystore_password_file, then a prompt on the terminal without echo. */
static int read_password(const struct chain_opts *o, struct veil_cli_ctx *ctx, bool confirm,
                         char *out, size_t cap, veil_err *err)
{
    const char *file = o->password_file
                           ? o->password_file
                           : veil_config_str(ctx->config, "keystore_password_file", NULL);
    const char *env = getenv("VEIL_KEYSTORE_PASSWORD");
    if (!o->password_file && env) {
        if (strlen(env) >= cap)
            return veil_err_set(err, VEIL_E_RANGE, "VEIL_KEYSTORE_PASSWORD too long");
        strcpy(out, env);
        return 0;
    }
    if (file)
        return veil_secret_file_read_line(file, out, cap, err) != 0
                   ? veil_err_wrap(err, "password file")
                   : 0;
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return veil_err_set(err, VEIL_E_INVALID,
                            "no keystore password: use --password-file or VEIL_KEYSTORE_PASSWORD");
    struct termios old, quiet;
    bool have_term = tcgetattr(fileno(tty), &old) == 0;
    for (int round = 0; round < (confirm ? 2 : 1); round++) {
        char again[256];
        char *dst = round == 0 ? out : again;
        size_t dcap = round == 0 ? cap : sizeof again;
        fputs(round == 0 ? "Keystore password: " : "Repeat password: ", tty);
        fflush(tty);
        if (have_term) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
        }
        char *got = fgets(dst, (int)dcap, tty);
        if (have_term)
            tcsetattr(fileno(tty), TCSAFLUSH, &old);
        fputs("\n", tty);
        if (!got) {
            fclose(tty);
            return veil_err_set(err, VEIL_E_IO, "no password entered");
        }
        dst[strcspn(dst, "\r\n")] = '\0';
        if (round == 1) {
            bool same = strcmp(out, again) == 0;
            veil_memzero(again, sizeof again);
            if (!same) {
                fclose(tty);
                return veil_err_set(err, VEIL_E_INVALID, "passwords do not match");
            }
        }
    }
    fclose(tty);
    return 0;
}

/* Opens the client; `sign` loads the keystore. */
static int open_client(struct chain_opts *o, struct veil_cli_ctx *ctx, bool sign, bool contract,
                       veil_chain_client **out, veil_err *err)
{
    veil_chain_options co = {0};
    co.rpc_url = o->rpc ? o->rpc : veil_config_str(ctx->config, "rpc_url", "http://127.0.0.1:8545");
    co.expected_chain_id =
        o->chain_id ? o->chain_id : (uint64_t)veil_config_int(ctx->config, "chain_id", 0);
    co.receipt_timeout_ms = o->timeout_ms;
    co.tx_type = o->legacy ? VEIL_TX_LEGACY : VEIL_TX_EIP1559;
    co.rpc.retries = 2;
    co.rpc.timeout_ms = 10000;
    const char *caddr =
        o->contract ? o->contract : veil_config_str(ctx->config, "contract_address", NULL);
    if (contract) {
        if (!caddr)
            return veil_err_set(err, VEIL_E_INVALID,
                                "no contract address: use --contract or VEIL_CONTRACT_ADDRESS");
        if (veil_eth_address_parse(caddr, &co.contract, err) != 0)
            return veil_err_wrap(err, "contract address");
        co.has_contract = true;
    }
    veil_eth_key key;
    if (sign) {
        const char *ks = o->keystore ? o->keystore : veil_config_str(ctx->config, "keystore", NULL);
        if (!ks)
            return veil_err_set(
                err, VEIL_E_INVALID,
                "this command signs a transaction: use --keystore or VEIL_KEYSTORE");
        char pw[256];
        if (read_password(o, ctx, false, pw, sizeof pw, err) != 0)
            return -1;
        int rc = veil_keystore_load(ks, pw, &key, err);
        veil_memzero(pw, sizeof pw);
        if (rc != 0)
            return -1;
        co.signer = &key;
    }
    int rc = veil_chain_client_open(out, &co, err);
    if (sign)
        veil_eth_key_wipe(&key);
    return rc;
}

/* Prints the result of a transaction: text or a JSON object with extras. */
static void print_tx(const struct chain_opts *o, const char *what, const veil_tx_result *res,
                     json_t *extra)
{
    char h[67];
    hex32(h, res->tx_hash);
    if (o->json) {
        json_t *j = extra ? extra : json_object();
        json_object_set_new(j, "tx_hash", json_string(h));
        json_object_set_new(j, "block", json_integer((json_int_t)res->receipt.block_number));
        json_object_set_new(j, "gas_used", json_integer((json_int_t)res->receipt.gas_used));
        json_object_set_new(j, "status", json_string(res->receipt.status ? "success" : "failed"));
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(j);
        return;
    }
    printf("%s: tx %s mined in block %llu (gas %llu)\n", what, h,
           (unsigned long long)res->receipt.block_number,
           (unsigned long long)res->receipt.gas_used);
    if (extra) {
        const char *k;
        json_t *v;
        json_object_foreach(extra, k, v)
        {
            char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            printf("%s: %s\n", k, s);
            free(s);
        }
        json_decref(extra);
    }
}

static int fail_client(veil_chain_client *c, const veil_err *err)
{
    veil_chain_client_close(c);
    return veil_cli_fail(err);
}

static int need_cluster(const struct chain_opts *o)
{
    return o->has_cluster ? 0 : veil_cli_usage_error(o->path, "--cluster ID is required");
}

/* ------------------------------------------------------------------ keygen */

static int run_keygen(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (!o->out)
        return veil_cli_usage_error(o->path, "--out FILE is required");
    if (access(o->out, F_OK) == 0) {
        veil_err e;
        veil_err_set(&e, VEIL_E_EXISTS, "%s already exists (refusing to overwrite a key)", o->out);
        return veil_cli_fail(&e);
    }
    veil_err err = {0};
    char pw[256];
    veil_eth_key key;
    if (read_password(o, ctx, true, pw, sizeof pw, &err) != 0 ||
        veil_eth_key_generate(&key, &err) != 0) {
        veil_memzero(pw, sizeof pw);
        return veil_cli_fail(&err);
    }
    veil_keystore_params p = {o->scrypt_log_n ? o->scrypt_log_n : 18, 8, 1};
    int rc = veil_keystore_save(o->out, &key, pw, &p, &err);
    veil_memzero(pw, sizeof pw);
    char addr[43];
    veil_eth_address_format(&key.address, addr);
    veil_eth_key_wipe(&key);
    if (rc != 0)
        return veil_cli_fail(&err);
    if (o->json)
        printf("{\"address\":\"%s\",\"keystore\":\"%s\"}\n", addr, o->out);
    else
        printf("address: %s\nkeystore: %s\n", addr, o->out);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ deploy */

static int run_deploy(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, false, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_eth_address addr;
    veil_tx_result res;
    if (veil_contract_deploy(c, &addr, &res, &err) != 0)
        return fail_client(c, &err);
    char a[43];
    veil_eth_address_format(&addr, a);
    json_t *extra = json_object();
    json_object_set_new(extra, "contract", json_string(a));
    print_tx(o, "deploy", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ cluster, org */

static int run_cluster_create(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (!o->name)
        return veil_cli_usage_error(o->path, "--name is required");
    if (o->n_operators == 0)
        return veil_cli_usage_error(o->path, "at least one --operator ADDR@ORG is required");
    if (o->threshold < 0)
        return veil_cli_usage_error(o->path, "--threshold M is required");
    /* --operator ADDR@ORG: organizations are numbered in order of appearance. */
    static veil_eth_address founders[MAX_LIST];
    static uint32_t founder_orgs[MAX_LIST];
    static char org_store[MAX_LIST][80];
    const char *org_names[MAX_LIST];
    size_t n_orgs = 0;
    for (size_t i = 0; i < o->n_orgs; i++) {
        snprintf(org_store[n_orgs], sizeof org_store[n_orgs], "%s", o->orgs[i]);
        org_names[n_orgs] = org_store[n_orgs];
        n_orgs++;
    }
    for (size_t i = 0; i < o->n_operators; i++) {
        const char *at = strchr(o->operators[i], '@');
        char addr[64];
        size_t al = at ? (size_t)(at - o->operators[i]) : strlen(o->operators[i]);
        if (al >= sizeof addr)
            return veil_cli_usage_error(o->path, "bad --operator '%s'", o->operators[i]);
        memcpy(addr, o->operators[i], al);
        addr[al] = '\0';
        if (parse_addr(o->path, "--operator", addr, &founders[i]) != 0)
            return VEIL_EXIT_USAGE;
        const char *org = at ? at + 1 : "default";
        size_t k = 0;
        while (k < n_orgs && strcmp(org_names[k], org) != 0)
            k++;
        if (k == n_orgs) {
            if (n_orgs >= MAX_LIST || strlen(org) >= sizeof org_store[0])
                return veil_cli_usage_error(o->path, "bad organization '%s'", org);
            snprintf(org_store[n_orgs], sizeof org_store[n_orgs], "%s", org);
            org_names[n_orgs] = org_store[n_orgs];
            n_orgs++;
        }
        founder_orgs[i] = (uint32_t)k;
    }
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint64_t id;
    veil_tx_result res;
    if (veil_contract_create_cluster(c, o->name, org_names, n_orgs, founders, founder_orgs,
                                     o->n_operators, (uint16_t)o->threshold, &id, &res, &err) != 0)
        return fail_client(c, &err);
    json_t *extra = json_object();
    json_object_set_new(extra, "cluster_id", json_integer((json_int_t)id));
    print_tx(o, "cluster create", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_org_add(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (need_cluster(o) != 0)
        return VEIL_EXIT_USAGE;
    if (!o->name || o->n_operators == 0)
        return veil_cli_usage_error(o->path, "--name and at least one --operator are required");
    veil_eth_address ops[MAX_LIST];
    for (size_t i = 0; i < o->n_operators; i++)
        if (parse_addr(o->path, "--operator", o->operators[i], &ops[i]) != 0)
            return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint64_t pid;
    veil_tx_result res;
    if (veil_contract_propose_org(c, o->cluster, o->name, ops, o->n_operators, o->ttl, &pid, &res,
                                  &err) != 0)
        return fail_client(c, &err);
    json_t *extra = json_object();
    json_object_set_new(extra, "proposal_id", json_integer((json_int_t)pid));
    print_tx(o, "org add (proposal; operators vote with 'veil chain policy vote')", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ nodes */

static int parse_peer_id(const char *path, const char *text, uint8_t *out, size_t *len)
{
    veil_err err = {0};
    long n;
    if (!text)
        return veil_cli_usage_error(path, "--peer-id is required");
    if (strncmp(text, "0x", 2) == 0)
        n = veil_hex_decode(out, 64, text + 2, strlen(text) - 2, false, &err);
    else
        n = veil_base58_decode(out, 64, text, strlen(text), &err); /* 12D3KooW... */
    if (n < 2)
        return veil_cli_usage_error(path, "--peer-id: not hex or base58 (%s)", err.msg);
    *len = (size_t)n;
    return 0;
}

static int run_node_register(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    veil_eth_address node;
    uint8_t pid[64];
    size_t pid_len = 0;
    if (need_cluster(o) != 0 || parse_addr(o->path, "--node", o->node, &node) != 0 ||
        parse_peer_id(o->path, o->peer_id, pid, &pid_len) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_tx_result res;
    if (veil_contract_register_node(c, o->cluster, &node, pid, pid_len, &res, &err) != 0)
        return fail_client(c, &err);
    print_tx(o, "node register", &res, NULL);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_node_deactivate(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    veil_eth_address node;
    if (parse_addr(o->path, "--node", o->node, &node) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_tx_result res;
    if (veil_contract_deactivate_node(c, &node, &res, &err) != 0)
        return fail_client(c, &err);
    print_tx(o, "node deactivate", &res, NULL);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_node_list(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (need_cluster(o) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, false, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_eth_address *nodes;
    size_t n;
    if (veil_contract_active_nodes(c, o->cluster, &nodes, &n, &err) != 0)
        return fail_client(c, &err);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        uint64_t cid;
        veil_eth_address op;
        bool active;
        uint8_t key[32];
        if (veil_contract_get_node(c, &nodes[i], &cid, &op, &active, key, &err) != 0) {
            free(nodes);
            json_decref(arr);
            return fail_client(c, &err);
        }
        char a[43], opa[43], k[67];
        veil_eth_address_format(&nodes[i], a);
        veil_eth_address_format(&op, opa);
        hex32(k, key);
        if (o->json)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b}", "node", a, "operator", opa,
                                                 "peer_key", k, "active", active));
        else
            printf("%s operator=%s peer_key=%s\n", a, opa, k);
    }
    if (o->json) {
        char *s = json_dumps(arr, JSON_COMPACT);
        puts(s);
        free(s);
    }
    json_decref(arr);
    free(nodes);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ policy */

static void budget_json(json_t *j, const veil_contract_policy *p)
{
    json_t *b = json_object();
    json_object_set_new(b, "outcomes_per_period", json_integer(p->outcomes_per_period));
    json_object_set_new(b, "period_s", json_integer(p->outcome_period_s));
    json_object_set_new(j, "outcome_budget", b);
}

/* "shards": {"size": N, "redundancy": R}; 0 = never sharded / the default. */
static void shards_json(json_t *j, const veil_contract_policy *p)
{
    json_t *s = json_object();
    json_object_set_new(s, "size", json_integer(p->shard_size));
    json_object_set_new(s, "redundancy", json_integer(p->shard_redundancy));
    json_object_set_new(j, "shards", s);
}

/* "scheduling": {"batch_replicas": B, "node_keys": K}: the switches every
 * node applies (schedFlags: a bit turns one off). */
static void sched_json(json_t *j, const veil_contract_policy *p)
{
    json_t *s = json_object();
    json_object_set_new(s, "batch_replicas",
                        json_boolean(!(p->sched_flags & VEIL_POLICY_SCHED_NO_BATCH)));
    json_object_set_new(s, "node_keys",
                        json_boolean(!(p->sched_flags & VEIL_POLICY_SCHED_NO_NODE_KEYS)));
    json_object_set_new(j, "scheduling", s);
}

static int run_policy_get(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (need_cluster(o) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, false, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_contract_policy p;
    if (veil_contract_get_policy(c, o->cluster, &p, &err) != 0)
        return fail_client(c, &err);
    char h[67], a[43];
    json_t *j = json_object(), *imgs = json_array(), *ws = json_array(), *ds = json_array(),
           *gs = json_array();
    for (size_t i = 0; i < p.n_image_digests; i++) {
        hex32(h, p.image_digests[i]);
        json_array_append_new(imgs, json_string(h));
    }
    for (size_t i = 0; i < p.n_weights; i++)
        json_array_append_new(ws, json_integer(p.weights[i]));
    for (size_t i = 0; i < p.n_decryptors; i++) {
        veil_eth_address_format(&p.decryptors[i], a);
        json_array_append_new(ds, json_string(a));
    }
    for (size_t i = 0; i < p.n_guardian_keys; i++) {
        hex32(h, p.guardian_keys[i]);
        json_array_append_new(gs, json_string(h));
    }
    hex32(h, p.fhe_key_hash);
    json_object_set_new(j, "version", json_integer((json_int_t)p.version));
    json_object_set_new(j, "allowed_image_digests", imgs);
    json_object_set_new(j, "scheduler_policy", json_string(p.scheduler_policy));
    json_object_set_new(j, "scheduler_weights", ws);
    json_object_set_new(j, "fhe_key_hash", json_string(h));
    json_object_set_new(j, "decryptors", ds);
    json_object_set_new(j, "guardian_keys", gs);
    budget_json(j, &p);
    shards_json(j, &p);
    sched_json(j, &p);
    char *s = json_dumps(j, o->json ? JSON_COMPACT : JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(j);
    veil_contract_policy_clear(&p);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_policy_propose(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (need_cluster(o) != 0)
        return VEIL_EXIT_USAGE;
    static uint8_t imgs[MAX_LIST][32], guards[MAX_LIST][32];
    static uint32_t weights[MAX_LIST];
    static veil_eth_address decs[MAX_LIST];
    veil_contract_policy p = {0};
    for (size_t i = 0; i < o->n_image_digests; i++)
        if (parse_b32(o->path, "--image-digest", o->image_digests[i], imgs[i]) != 0)
            return VEIL_EXIT_USAGE;
    for (size_t i = 0; i < o->n_guardian_keys; i++)
        if (parse_b32(o->path, "--guardian-key", o->guardian_keys[i], guards[i]) != 0)
            return VEIL_EXIT_USAGE;
    for (size_t i = 0; i < o->n_decryptors; i++)
        if (parse_addr(o->path, "--decryptor", o->decryptors[i], &decs[i]) != 0)
            return VEIL_EXIT_USAGE;
    for (size_t i = 0; i < o->n_weights; i++) {
        uint64_t w;
        if (parse_u64(o->path, "--weight", o->weights[i], &w) != 0)
            return VEIL_EXIT_USAGE;
        if (w > UINT32_MAX)
            return veil_cli_usage_error(o->path, "--weight too large");
        weights[i] = (uint32_t)w;
    }
    if (o->fhe_key_hash &&
        parse_b32(o->path, "--fhe-key-hash", o->fhe_key_hash, p.fhe_key_hash) != 0)
        return VEIL_EXIT_USAGE;
    p.image_digests = imgs;
    p.n_image_digests = o->n_image_digests;
    p.scheduler_policy = (char *)(o->scheduler ? o->scheduler : "");
    p.weights = weights;
    p.n_weights = o->n_weights;
    p.decryptors = decs;
    p.n_decryptors = o->n_decryptors;
    p.guardian_keys = guards;
    p.n_guardian_keys = o->n_guardian_keys;
    p.outcomes_per_period = o->outcomes_per_period;
    p.outcome_period_s = o->outcome_period_s;
    p.shard_size = (uint32_t)o->shard_size;
    p.shard_redundancy = (uint8_t)o->shard_redundancy;
    p.sched_flags = o->sched_flags;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint64_t pid;
    veil_tx_result res;
    if (veil_contract_propose_policy(c, o->cluster, &p, o->ttl, &pid, &res, &err) != 0)
        return fail_client(c, &err);
    json_t *extra = json_object();
    json_object_set_new(extra, "proposal_id", json_integer((json_int_t)pid));
    print_tx(o, "policy propose", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_policy_vote(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (!o->has_proposal)
        return veil_cli_usage_error(o->path, "--proposal ID is required");
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    bool executed;
    veil_tx_result res;
    if (veil_contract_vote(c, o->proposal, &executed, &res, &err) != 0)
        return fail_client(c, &err);
    json_t *extra = json_object();
    json_object_set_new(extra, "executed", json_boolean(executed));
    print_tx(o, "policy vote", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ anchors */

/* --leaf JOB:ASSIGNMENT (two 0x bytes32) into Merkle leaves. */
static int parse_leaves(const struct chain_opts *o, uint8_t (*leaves)[32], uint8_t (*jobs)[32],
                        uint8_t (*assigns)[32])
{
    for (size_t i = 0; i < o->n_leaves; i++) {
        const char *colon = strchr(o->leaves[i], ':');
        char job[80];
        if (!colon || (size_t)(colon - o->leaves[i]) >= sizeof job)
            return veil_cli_usage_error(o->path, "--leaf wants JOB:ASSIGNMENT, got '%s'",
                                        o->leaves[i]);
        memcpy(job, o->leaves[i], (size_t)(colon - o->leaves[i]));
        job[colon - o->leaves[i]] = '\0';
        if (parse_b32(o->path, "--leaf JOB", job, jobs[i]) != 0 ||
            parse_b32(o->path, "--leaf ASSIGNMENT", colon + 1, assigns[i]) != 0)
            return VEIL_EXIT_USAGE;
        veil_chain_merkle_leaf(o->cluster, jobs[i], assigns[i], leaves[i]);
    }
    return 0;
}

static int run_anchor_deployment(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    uint8_t job[32], ah[32];
    if (need_cluster(o) != 0 || parse_b32(o->path, "--job", o->job, job) != 0 ||
        parse_b32(o->path, "--assignment", o->assignment, ah) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_tx_result res;
    if (veil_contract_anchor_deployment(c, o->cluster, job, ah, &res, &err) != 0)
        return fail_client(c, &err);
    uint8_t aid[32];
    char h[67];
    veil_contract_anchor_id(0, o->cluster, job, ah, aid);
    hex32(h, aid);
    json_t *extra = json_object();
    json_object_set_new(extra, "anchor_id", json_string(h));
    print_tx(o, "anchor deployment", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_anchor_batch(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (need_cluster(o) != 0)
        return VEIL_EXIT_USAGE;
    if (!o->has_epoch)
        return veil_cli_usage_error(o->path, "--epoch N is required");
    uint8_t root[32];
    uint32_t count;
    veil_err err = {0};
    if (o->n_leaves > 0) {
        static uint8_t leaves[4096][32], jobs[4096][32], assigns[4096][32];
        if (parse_leaves(o, leaves, jobs, assigns) != 0)
            return VEIL_EXIT_USAGE;
        if (veil_chain_merkle_root((const uint8_t(*)[32])leaves, o->n_leaves, root, &err) != 0)
            return veil_cli_fail(&err);
        count = (uint32_t)o->n_leaves;
    } else {
        if (parse_b32(o->path, "--root", o->root, root) != 0)
            return VEIL_EXIT_USAGE;
        if (o->count < 1)
            return veil_cli_usage_error(o->path, "--count N is required with --root");
        count = (uint32_t)o->count;
    }
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_tx_result res;
    if (veil_contract_anchor_batch(c, o->cluster, o->epoch, root, count, &res, &err) != 0)
        return fail_client(c, &err);
    char h[67];
    hex32(h, root);
    json_t *extra = json_object();
    json_object_set_new(extra, "merkle_root", json_string(h));
    json_object_set_new(extra, "count", json_integer(count));
    uint8_t ew[32] = {0}, aid[32];
    for (int i = 0; i < 8; i++)
        ew[31 - i] = (uint8_t)(o->epoch >> (8 * i));
    veil_contract_anchor_id(1, o->cluster, ew, root, aid);
    hex32(h, aid);
    json_object_set_new(extra, "anchor_id", json_string(h));
    print_tx(o, "anchor batch", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_anchor_verify(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    uint8_t job[32], ah[32];
    if (need_cluster(o) != 0 || parse_b32(o->path, "--job", o->job, job) != 0 ||
        parse_b32(o->path, "--assignment", o->assignment, ah) != 0)
        return VEIL_EXIT_USAGE;
    if (!o->has_epoch || o->n_leaves == 0)
        return veil_cli_usage_error(o->path, "--epoch and the batch's --leaf list are required");
    static uint8_t leaves[4096][32], jobs[4096][32], assigns[4096][32];
    if (parse_leaves(o, leaves, jobs, assigns) != 0)
        return VEIL_EXIT_USAGE;
    size_t index = o->n_leaves;
    for (size_t i = 0; i < o->n_leaves; i++)
        if (memcmp(jobs[i], job, 32) == 0 && memcmp(assigns[i], ah, 32) == 0)
            index = i;
    veil_err err = {0};
    uint8_t proof[64][32];
    size_t n_proof = 0;
    uint8_t self_leaf[32];
    veil_chain_merkle_leaf(o->cluster, job, ah, self_leaf);
    if (index < o->n_leaves && veil_chain_merkle_proof((const uint8_t(*)[32])leaves, o->n_leaves,
                                                       index, proof, 64, &n_proof, &err) != 0)
        return veil_cli_fail(&err);
    veil_chain_client *c;
    if (open_client(o, ctx, false, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint8_t root[32];
    uint32_t count;
    bool ok = false;
    if (veil_contract_find_batch_root(c, o->cluster, o->epoch, root, &count, &err) != 0)
        return fail_client(c, &err);
    /* A deployment missing from the list gets an empty proof: the contract
     * then answers false unless it is the whole batch. */
    if (veil_contract_verify_inclusion(c, root, o->cluster, job, ah, (const uint8_t(*)[32])proof,
                                       n_proof, &ok, &err) != 0)
        return fail_client(c, &err);
    char h[67];
    hex32(h, root);
    if (o->json) {
        json_t *j = json_pack("{s:b,s:s,s:I,s:I}", "included", ok, "merkle_root", h, "count",
                              (json_int_t)count, "proof_length", (json_int_t)n_proof);
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("%s: deployment %s in batch %llu of cluster %llu (root %s)\n",
               ok ? "included" : "NOT included", o->job, (unsigned long long)o->epoch,
               (unsigned long long)o->cluster, h);
    }
    veil_chain_client_close(c);
    return ok ? VEIL_EXIT_OK : VEIL_EXIT_FAILURE;
}

/* ------------------------------------------------------------------ disputes */

static int run_dispute_open(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    uint8_t anchor[32], evidence[32];
    if (need_cluster(o) != 0 || parse_b32(o->path, "--anchor", o->anchor, anchor) != 0 ||
        parse_b32(o->path, "--evidence", o->evidence, evidence) != 0)
        return VEIL_EXIT_USAGE;
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint64_t did;
    veil_tx_result res;
    if (veil_contract_open_dispute(c, o->cluster, anchor, evidence, &did, &res, &err) != 0)
        return fail_client(c, &err);
    json_t *extra = json_object();
    json_object_set_new(extra, "dispute_id", json_integer((json_int_t)did));
    print_tx(o, "dispute open", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

static int run_dispute_resolve(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    if (!o->has_dispute || o->uphold < 0)
        return veil_cli_usage_error(o->path, "--dispute ID and --uphold or --reject are required");
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, true, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    uint8_t status;
    veil_tx_result res;
    if (veil_contract_resolve_dispute(c, o->dispute, o->uphold == 1, &status, &res, &err) != 0)
        return fail_client(c, &err);
    static const char *names[] = {"?", "open", "upheld", "rejected"};
    json_t *extra = json_object();
    json_object_set_new(extra, "dispute_status", json_string(names[status < 4 ? status : 0]));
    print_tx(o, "dispute resolve (vote)", &res, extra);
    veil_tx_result_clear(&res);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ events */

static volatile sig_atomic_t g_stop;
static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct events_ctx {
    bool json;
    uint64_t cluster;
    bool has_cluster;
};

static int print_event(const veil_eth_log *log, void *user)
{
    struct events_ctx *ec = user;
    /* Every registry event carries the cluster (or a proposal / dispute id)
     * in a topic (topic 1; BatchAnchored's topic 0) and its description says
     * "cluster=N"; with --cluster only cluster-keyed events of it are shown. */
    veil_buf b;
    veil_buf_init(&b);
    if (veil_contract_describe_log(log, &b) != 0) {
        veil_buf_free(&b);
        return 0;
    }
    veil_buf_put_u8(&b, 0);
    const char *text = (const char *)b.data;
    if (ec->has_cluster) {
        char want[48];
        snprintf(want, sizeof want, " cluster=%llu", (unsigned long long)ec->cluster);
        const char *hit = strstr(text, want);
        if (!hit || (hit[strlen(want)] != ' ' && hit[strlen(want)] != '\0')) {
            veil_buf_free(&b);
            return 0;
        }
    }
    char tx[67];
    hex32(tx, log->tx_hash);
    const char *sp = strchr(text, ' ');
    if (ec->json) {
        json_t *j = json_pack(
            "{s:s%,s:I,s:s,s:s}", "event", text, sp ? (size_t)(sp - text) : strlen(text), "block",
            (json_int_t)log->block_number, "tx_hash", tx, "fields", sp ? sp + 1 : "");
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        puts(s);
        free(s);
        json_decref(j);
    } else {
        printf("block=%llu %s tx=%s\n", (unsigned long long)log->block_number, text, tx);
    }
    fflush(stdout);
    veil_buf_free(&b);
    return 0;
}

static int run_events(struct chain_opts *o, struct veil_cli_ctx *ctx)
{
    veil_err err = {0};
    veil_chain_client *c;
    if (open_client(o, ctx, false, true, &c, &err) != 0)
        return veil_cli_fail(&err);
    veil_eth_address contract;
    veil_chain_client_contract(c, &contract);
    struct events_ctx ec = {o->json, o->cluster, o->has_cluster};
    veil_log_follower f;
    veil_log_follower_init(&f, o->from_block, o->confirmations);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    do {
        if (veil_log_follower_poll(&f, veil_chain_client_rpc(c), &contract, print_event, &ec,
                                   &err) != 0) {
            if (!o->follow)
                return fail_client(c, &err);
            fprintf(stderr, "veil: %s (retrying)\n", err.msg);
        }
        for (int i = 0; o->follow && i < 10 && !g_stop; i++)
            usleep(50000);
    } while (o->follow && !g_stop);
    veil_chain_client_close(c);
    return VEIL_EXIT_OK;
}

/* ------------------------------------------------------------------ tables */

/* A leaf: its entry point parses the options it takes (CONN_OPTS | opts)
 * into a chain_opts and hands that to fn. */
#define LEAF(var, nm, path_, opts, sum, use, fn)                                                   \
    static int var##_main(int argc, char **argv, struct veil_cli_ctx *ctx)                         \
    {                                                                                              \
        struct chain_opts o = {.path = path_};                                                     \
        int rc = parse_opts(argc, argv, &o, CONN_OPTS | (opts));                                   \
        return rc >= 0 ? rc : fn(&o, ctx);                                                         \
    }                                                                                              \
    static const struct veil_cli_command var = {                                                   \
        .name = nm, .summary = sum, .usage = use CONN_USAGE, .run = var##_main}

LEAF(cmd_keygen, "keygen", "veil chain keygen", OPT(O_OUT) | OPT(O_SCRYPT),
     "create an Ethereum key in a keystore v3 file",
     "Usage: veil chain keygen --out FILE [--scrypt-log-n N] [-o json]\n\n"
     "Generates a secp256k1 key and writes it encrypted (scrypt, default n=2^18, AES-128-CTR)\n"
     "to FILE (mode 0600); `cast wallet` reads it. Prints the address.\n",
     run_keygen);
LEAF(cmd_deploy, "deploy", "veil chain deploy", 0, "deploy the VeilRegistry contract",
     "Usage: veil chain deploy --keystore FILE [-o json]\n\n"
     "Deploys the VeilRegistry compiled into this program and prints its address.\n",
     run_deploy);
LEAF(cmd_cluster_create, "create", "veil chain cluster create",
     OPT(O_NAME) | OPT(O_OPERATOR) | OPT(O_THRESHOLD) | OPT(O_ORG),
     "create a cluster with its founding operators",
     "Usage: veil chain cluster create --name NAME --operator ADDR@ORG... --threshold M\n"
     "                                 [--org ORG]...\n\n"
     "Creates a cluster governed M-of-N by the operators; each operator belongs to the\n"
     "organization after '@'. Prints the cluster id.\n",
     run_cluster_create);
LEAF(cmd_org_add, "add", "veil chain org add",
     OPT(O_CLUSTER) | OPT(O_NAME) | OPT(O_OPERATOR) | OPT(O_TTL),
     "propose a new organization with its operators",
     "Usage: veil chain org add --cluster ID --name ORG --operator ADDR... [--ttl 7d]\n\n"
     "Opens a governance proposal (with the sender's vote); it takes effect once M\n"
     "operators voted with `veil chain policy vote --proposal ID`.\n",
     run_org_add);
LEAF(cmd_node_register, "register", "veil chain node register",
     OPT(O_CLUSTER) | OPT(O_NODE) | OPT(O_PEER_ID), "register a node (operator only)",
     "Usage: veil chain node register --cluster ID --node ADDR --peer-id PEERID\n\n"
     "PEERID is the libp2p peer ID in base58 (12D3KooW...) or hex: the 32-byte Ed25519\n"
     "key or the full multihash.\n",
     run_node_register);
LEAF(cmd_node_deactivate, "deactivate", "veil chain node deactivate", OPT(O_NODE),
     "deactivate a node (its operator or the node)",
     "Usage: veil chain node deactivate --node ADDR\n", run_node_deactivate);
LEAF(cmd_node_list, "list", "veil chain node list", OPT(O_CLUSTER), "list a cluster's active nodes",
     "Usage: veil chain node list --cluster ID [-o json]\n", run_node_list);
LEAF(cmd_policy_get, "get", "veil chain policy get", OPT(O_CLUSTER),
     "print a cluster's current policy", "Usage: veil chain policy get --cluster ID [-o json]\n",
     run_policy_get);
LEAF(cmd_policy_propose, "propose", "veil chain policy propose",
     OPT(O_CLUSTER) | OPT(O_IMAGE) | OPT(O_SCHEDULER) | OPT(O_WEIGHT) | OPT(O_FHE) |
         OPT(O_DECRYPTOR) | OPT(O_GUARDIAN) | OPT(O_TTL) | OPT(O_BUDGET) | OPT(O_SHARD_SIZE) |
         OPT(O_SHARD_REDUNDANCY) | OPT(O_NO_BATCH) | OPT(O_NO_NODE_KEYS),
     "propose a new cluster policy",
     "Usage: veil chain policy propose --cluster ID [--image-digest B32]... [--scheduler NAME]\n"
     "         [--weight N]... [--fhe-key-hash B32] [--decryptor ADDR]... [--guardian-key B32]...\n"
     "         [--outcome-budget N/PERIOD] [--shard-size N] [--shard-redundancy R]\n"
     "         [--no-batch-replicas] [--no-node-keys] [--ttl 7d]\n\n"
     "Opens a proposal replacing the whole policy (the sender votes yes). B32 = 0x + 64 hex.\n"
     "--outcome-budget 32/1h: each member gets at most 32 placement outcomes (jobs taken\n"
     "into scheduling) per hour, enforced by every node; 0/0 or absent = no budget.\n"
     "--shard-size N: rounds over more than N alive members are split into shards of\n"
     "about N candidates (0 or absent = never sharded), each evaluated by R schedulers\n"
     "(--shard-redundancy 1..3; 0 or absent = 3); every node applies it on PolicyChanged.\n"
     "--no-batch-replicas: one round per replica (default: a job's replicas in one round).\n"
     "--no-node-keys: the placement key computed in the circuit (default: by the candidates,\n"
     "each publishing its key encrypted). Every node applies both alike (docs/SCHEDULING.md).\n",
     run_policy_propose);
LEAF(cmd_policy_vote, "vote", "veil chain policy vote", OPT(O_PROPOSAL),
     "vote yes on a proposal (policy or organization)",
     "Usage: veil chain policy vote --proposal ID\n\n"
     "The vote that reaches the threshold executes the proposal.\n",
     run_policy_vote);
LEAF(cmd_anchor_deployment, "deployment", "veil chain anchor deployment",
     OPT(O_CLUSTER) | OPT(O_JOB) | OPT(O_ASSIGNMENT), "anchor one deployment (active nodes only)",
     "Usage: veil chain anchor deployment --cluster ID --job B32 --assignment B32\n",
     run_anchor_deployment);
LEAF(cmd_anchor_batch, "batch", "veil chain anchor batch",
     OPT(O_CLUSTER) | OPT(O_EPOCH) | OPT(O_LEAF) | OPT(O_ROOT) | OPT(O_COUNT),
     "anchor a Merkle batch of deployments (active nodes only)",
     "Usage: veil chain anchor batch --cluster ID --epoch N (--leaf JOB:ASSIGNMENT... |\n"
     "                               --root B32 --count N)\n\n"
     "With --leaf the Merkle root is computed here (leaf and pair hashing as in\n"
     "VeilRegistry.sol).\n",
     run_anchor_batch);
LEAF(cmd_anchor_verify, "verify", "veil chain anchor verify",
     OPT(O_CLUSTER) | OPT(O_EPOCH) | OPT(O_JOB) | OPT(O_ASSIGNMENT) | OPT(O_LEAF),
     "check a deployment's inclusion in an anchored batch",
     "Usage: veil chain anchor verify --cluster ID --epoch N --job B32 --assignment B32\n"
     "                                --leaf JOB:ASSIGNMENT...\n\n"
     "Finds the batch's anchored root in the logs, builds the proof from the batch's\n"
     "leaves and asks the contract's verifyInclusion. Exits 1 when not included.\n",
     run_anchor_verify);
LEAF(cmd_dispute_open, "open", "veil chain dispute open",
     OPT(O_CLUSTER) | OPT(O_ANCHOR) | OPT(O_EVIDENCE),
     "open a dispute against an anchor (operators)",
     "Usage: veil chain dispute open --cluster ID --anchor B32 --evidence B32\n\n"
     "--anchor is the anchor id printed by `anchor deployment|batch`.\n",
     run_dispute_open);
LEAF(cmd_dispute_resolve, "resolve", "veil chain dispute resolve",
     OPT(O_DISPUTE) | OPT(O_UPHOLD) | OPT(O_REJECT),
     "vote to uphold or reject a dispute (operators)",
     "Usage: veil chain dispute resolve --dispute ID (--uphold | --reject)\n\n"
     "The first side to reach the cluster's threshold decides.\n",
     run_dispute_resolve);
LEAF(cmd_events, "events", "veil chain events",
     OPT(O_CLUSTER) | OPT(O_FROM_BLOCK) | OPT(O_CONFIRMATIONS) | OPT(O_FOLLOW),
     "print the registry's events",
     "Usage: veil chain events [--cluster ID] [--from-block N] [--confirmations N] [--follow]\n\n"
     "Prints events once they are N blocks deep; --follow keeps watching (reorg-aware).\n",
     run_events);

static const struct veil_cli_command *const cluster_subs[] = {&cmd_cluster_create, NULL};
static const struct veil_cli_command *const org_subs[] = {&cmd_org_add, NULL};
static const struct veil_cli_command *const node_subs[] = {&cmd_node_register, &cmd_node_deactivate,
                                                           &cmd_node_list, NULL};
static const struct veil_cli_command *const policy_subs[] = {&cmd_policy_get, &cmd_policy_propose,
                                                             &cmd_policy_vote, NULL};
static const struct veil_cli_command *const anchor_subs[] = {
    &cmd_anchor_deployment, &cmd_anchor_batch, &cmd_anchor_verify, NULL};
static const struct veil_cli_command *const dispute_subs[] = {&cmd_dispute_open,
                                                              &cmd_dispute_resolve, NULL};

static const struct veil_cli_command cmd_cluster = {.name = "cluster",
                                                    .summary = "clusters",
                                                    .usage =
                                                        "Usage: veil chain cluster <command>\n",
                                                    .subcommands = cluster_subs};
static const struct veil_cli_command cmd_org = {.name = "org",
                                                .summary = "organizations",
                                                .usage = "Usage: veil chain org <command>\n",
                                                .subcommands = org_subs};
static const struct veil_cli_command cmd_node = {.name = "node",
                                                 .summary = "nodes",
                                                 .usage = "Usage: veil chain node <command>\n",
                                                 .subcommands = node_subs};
static const struct veil_cli_command cmd_policy = {.name = "policy",
                                                   .summary = "policy and governance proposals",
                                                   .usage = "Usage: veil chain policy <command>\n",
                                                   .subcommands = policy_subs};
static const struct veil_cli_command cmd_anchor = {.name = "anchor",
                                                   .summary =
                                                       "deployment anchors and inclusion proofs",
                                                   .usage = "Usage: veil chain anchor <command>\n",
                                                   .subcommands = anchor_subs};
static const struct veil_cli_command cmd_dispute = {.name = "dispute",
                                                    .summary = "disputes against anchors",
                                                    .usage =
                                                        "Usage: veil chain dispute <command>\n",
                                                    .subcommands = dispute_subs};

static const struct veil_cli_command *const chain_subs[] = {
    &cmd_keygen, &cmd_deploy, &cmd_cluster, &cmd_org,    &cmd_node,
    &cmd_policy, &cmd_anchor, &cmd_dispute, &cmd_events, NULL};

const struct veil_cli_command veil_cmd_chain = {
    .name = "chain",
    .summary = "the VeilRegistry contract on an EVM chain",
    .usage = "Usage: veil chain <command> [options]\n\n"
             "Talks to the VeilRegistry contract over JSON-RPC (default http://127.0.0.1:8545).\n",
    .subcommands = chain_subs,
};
