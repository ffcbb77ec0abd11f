// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_keys.c - `veil keys deal|squash|partial|combine`: threshold decryption
 * by hand (include/veil/threshold.h, docs/THRESHOLD.md). The dealer's
 * ceremony, the squash of one TFHE ciphertext, one key holder's signed
 * partial decryption, and the robust combination of partials into the value,
 * naming the holders whose partials were wrong. Holders are identified by
 * their libp2p Ed25519 identities (veild's node key), given as peer IDs or
 * identity files, or generated beside the shares.
 */
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <veil/fhe.h>
#include <veil/p2p.h>
#include <veil/squash.h>
#include <veil/threshold.h>

#include "cli.h"

#define PATH_CAP 4096

static int parse_uint(const char *text, unsigned max, unsigned *out)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (!*text || *end || text[0] == '-' || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

/* dir/name into out (dir of `beside` when dir is NULL). */
static int sibling(const char *beside, const char *name, char *out, size_t cap, veil_err *err)
{
    char copy[PATH_CAP];
    snprintf(copy, sizeof copy, "%s", beside);
    int w = snprintf(out, cap, "%s/%s", dirname(copy), name);
    if (w < 0 || (size_t)w >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "path too long beside %s", beside);
    return 0;
}

/* ---- deal ---- */

/* One --holders entry: an identity key file (its public half) or a peer ID. */
static int holder_key(const char *entry, uint8_t pk[32], veil_err *err)
{
    struct stat st;
    if (stat(entry, &st) == 0) {
        veil_p2p_keypair kp;
        if (veil_p2p_keypair_load(&kp, entry, err) != 0)
            return veil_err_wrap(err, "holder identity %s", entry);
        memcpy(pk, kp.public_key, 32);
        veil_p2p_keypair_wipe(&kp);
        return 0;
    }
    veil_p2p_peer_id id;
    if (veil_p2p_peer_id_parse(entry, &id, err) != 0 ||
        veil_p2p_peer_id_ed25519_key(&id, pk, err) != 0)
        return veil_err_wrap(err, "holder %s (neither an identity file nor an Ed25519 peer ID)",
                             entry);
    return 0;
}

static int parse_holders(char *list, unsigned n, uint8_t (*pk)[32], veil_err *err)
{
    unsigned count = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (count == n)
            return veil_err_set(err, VEIL_E_INVALID, "--holders names more than n = %u holders", n);
        if (holder_key(tok, pk[count++], err) != 0)
            return -1;
    }
    if (count != n)
        return veil_err_set(err, VEIL_E_INVALID, "--holders names %u holders, n is %u", count, n);
    return 0;
}

/* Fresh identities for every holder (written only once the ceremony worked). */
static int generate_holders(unsigned n, veil_p2p_keypair *kps, uint8_t (*pk)[32], veil_err *err)
{
    for (unsigned i = 0; i < n; i++) {
        if (veil_p2p_keypair_generate(&kps[i], err) != 0)
            return -1;
        memcpy(pk[i], kps[i].public_key, 32);
    }
    return 0;
}

/* DIR/identity-i.key (0600) for every generated holder. */
static int save_holders(const char *dir, unsigned n, const veil_p2p_keypair *kps, veil_err *err)
{
    for (unsigned i = 1; i <= n; i++) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/identity-%u.key", dir, i);
        if (veil_p2p_keypair_save(&kps[i - 1], path, err) != 0)
            return -1;
    }
    return 0;
}

static void print_holders(const char *dir, unsigned n, const uint8_t (*pk)[32], int generated)
{
    for (unsigned i = 1; i <= n; i++) {
        veil_p2p_peer_id id;
        veil_p2p_peer_id_from_ed25519(pk[i - 1], &id);
        printf("holder %u: %s %s/share-%u.key", i, veil_p2p_peer_id_str(&id).s, dir, i);
        if (generated)
            printf(" %s/identity-%u.key", dir, i);
        printf("\n");
    }
}

static int run_deal(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"holders", required_argument, NULL, 'H'},
                                         {"threads", required_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    unsigned n = 0, t = 0, threads = 0;
    const char *dir = NULL;
    char *holders = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "n:t:o:H:j:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
        case 't':
            if (parse_uint(optarg, 64, c == 'n' ? &n : &t) != 0)
                return veil_cli_usage_error("veil keys deal", "-%c wants a small number", c);
            break;
        case 'o':
            dir = optarg;
            break;
        case 'H':
            holders = optarg;
            break;
        case 'j':
            if (parse_uint(optarg, 1024, &threads) != 0)
                return veil_cli_usage_error("veil keys deal", "--threads wants a number");
            break;
        default:
            return veil_cli_usage_error("veil keys deal", "bad option");
        }
    }
    if (!dir || n == 0 || t == 0 || optind != argc)
        return veil_cli_usage_error("veil keys deal", "expected -n N -t T -o DIR");
    veil_err err = {0};
    uint8_t pk[VEIL_TH_MAX_HOLDERS][32];
    veil_p2p_keypair kps[VEIL_TH_MAX_HOLDERS];
    if (veil_th_check_params(n, t, &err) != 0)
        return veil_cli_fail(&err);
    int rc = holders ? parse_holders(holders, n, pk, &err) : generate_holders(n, kps, pk, &err);
    if (rc == 0)
        rc = veil_th_ceremony(dir, n, t, (const uint8_t(*)[32])pk, threads, &err);
    if (rc == 0 && !holders)
        rc = save_holders(dir, n, kps, &err);
    veil_memzero(kps, sizeof kps);
    if (rc != 0)
        return veil_cli_fail(&err);
    print_holders(dir, n, (const uint8_t(*)[32])pk, holders == NULL);
    return VEIL_EXIT_OK;
}

/* ---- squash ---- */

static void print_digest(const veil_sq_ct *ct)
{
    uint8_t d[VEIL_TH_DIGEST_SIZE];
    char hex[2 * VEIL_TH_DIGEST_SIZE + 1];
    veil_err err = {0};
    if (veil_th_ct_digest(ct, d, &err) == 0 && veil_hex_encode(hex, sizeof hex, d, sizeof d) > 0)
        printf("%s\n", hex);
}

static int squash_file(const char *server, const char *sqkey, const char *in, const char *out,
                       unsigned threads, veil_err *err)
{
    veil_fhe_server *sk = NULL;
    veil_sq_key *key = NULL;
    veil_fhe_ct *ct = NULL;
    veil_sq_ct sq = {0};
    int rc = veil_fhe_server_load(server, threads, &sk, err);
    if (rc == 0)
        rc = veil_sq_key_load(sqkey, threads, &key, err);
    if (rc == 0)
        rc = veil_fhe_ct_load(in, &ct, err);
    if (rc == 0)
        rc = veil_sq_squash_compact(key, sk, ct, &sq, err);
    if (rc == 0)
        rc = veil_sq_ct_save(&sq, out, err);
    if (rc == 0)
        print_digest(&sq);
    veil_sq_ct_clear(&sq);
    veil_fhe_ct_free(ct);
    veil_sq_key_free(key);
    veil_fhe_server_free(sk);
    return rc;
}

static int run_squash(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"squash-key", required_argument, NULL, 's'},
                                         {"threads", required_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *server = NULL, *out = NULL, *sqkey = NULL;
    unsigned threads = 0;
    int c;
    while ((c = getopt_long(argc, argv, "k:o:s:j:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            server = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            sqkey = optarg;
            break;
        case 'j':
            if (parse_uint(optarg, 1024, &threads) != 0)
                return veil_cli_usage_error("veil keys squash", "--threads wants a number");
            break;
        default:
            return veil_cli_usage_error("veil keys squash", "bad option");
        }
    }
    if (!server || !out || optind + 1 != argc)
        return veil_cli_usage_error("veil keys squash", "expected -k SERVER_KEY -o OUT CT");
    veil_err err = {0};
    char sqpath[PATH_CAP];
    if (!sqkey) {
        if (sibling(server, "squash.key", sqpath, sizeof sqpath, &err) != 0)
            return veil_cli_fail(&err);
        sqkey = sqpath;
    }
    if (squash_file(server, sqkey, argv[optind], out, threads, &err) != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

/* ---- partial ---- */

static int partial_file(const char *share_path, const char *identity, const char *in,
                        const char *out, veil_err *err)
{
    veil_p2p_keypair kp;
    veil_th_share *sh = NULL;
    veil_sq_ct sq = {0};
    veil_th_partial p;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_p2p_keypair_load(&kp, identity, err) != 0)
        return veil_err_wrap(err, "holder identity");
    int rc = veil_th_share_load(share_path, kp.secret_key, &sh, err);
    veil_p2p_keypair_wipe(&kp);
    if (rc == 0)
        rc = veil_sq_ct_load(in, &sq, err);
    if (rc == 0)
        rc = veil_th_partial_decrypt(sh, &sq, &p, err);
    if (rc == 0)
        rc = veil_th_partial_serialize(&p, &b, err);
    if (rc == 0)
        rc = veil_file_write_atomic(out, b.data, b.len, 0644, err);
    veil_buf_free(&b);
    veil_sq_ct_clear(&sq);
    veil_th_share_free(sh);
    return rc;
}

/* The identity beside the share: identity-<i>.key for share i. */
static int default_identity(const char *share_path, char *out, size_t cap, veil_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (veil_key_file_read(share_path, 4u << 20, &data, &len, err) != 0)
        return -1;
    unsigned i = veil_th_sealed_index(data, len);
    free(data);
    if (i == 0)
        return veil_err_set(err, VEIL_E_PARSE, "%s is not a sealed threshold share", share_path);
    char name[32];
    snprintf(name, sizeof name, "identity-%u.key", i);
    return sibling(share_path, name, out, cap, err);
}

static int run_partial(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"identity", required_argument, NULL, 'i'},
                                         {NULL, 0, NULL, 0}};
    const char *share = NULL, *out = NULL, *identity = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "k:o:i:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            share = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'i':
            identity = optarg;
            break;
        default:
            return veil_cli_usage_error("veil keys partial", "bad option");
        }
    }
    if (!share || !out || optind + 1 != argc)
        return veil_cli_usage_error("veil keys partial", "expected -k SHARE -o OUT SQUASHED");
    veil_err err = {0};
    char idpath[PATH_CAP];
    if (!identity) {
        if (default_identity(share, idpath, sizeof idpath, &err) != 0)
            return veil_cli_fail(&err);
        identity = idpath;
    }
    if (partial_file(share, identity, argv[optind], out, &err) != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

/* ---- combine ---- */

/* Loads the partial files that parse; the others are reported and skipped. */
static size_t load_partials(char **files, size_t count, veil_th_partial *parts)
{
    size_t n = 0;
    for (size_t k = 0; k < count; k++) {
        uint8_t *data = NULL;
        size_t len = 0;
        veil_err err = {0};
        if (veil_file_read(files[k], 64u << 10, &data, &len, &err) != 0 ||
            veil_th_partial_parse(data, len, &parts[n], &err) != 0)
            fprintf(stderr, "veil keys combine: ignoring %s: %s\n", files[k], err.msg);
        else
            n++;
        free(data);
    }
    return n;
}

static int combine_files(const char *pub_path, const char *sq_path, char **files, size_t count,
                         int strict, veil_err *err)
{
    veil_th_public pub;
    veil_sq_ct sq = {0};
    veil_th_partial *parts = calloc(count, sizeof *parts);
    if (!parts)
        return veil_err_set(err, VEIL_E_NOMEM, "loading %zu partials", count);
    veil_th_result res;
    int rc = veil_th_public_load(pub_path, &pub, err);
    if (rc == 0)
        rc = veil_sq_ct_load(sq_path, &sq, err);
    if (rc == 0)
        rc = veil_th_combine(&pub, &sq, parts, load_partials(files, count, parts), &res, err);
    if (rc == 0) {
        printf("%" PRIu64 "\n", res.value);
        char wrong[64], rejected[64];
        veil_th_holders_text(res.wrong, wrong, sizeof wrong);
        veil_th_holders_text(res.rejected, rejected, sizeof rejected);
        if (res.wrong)
            fprintf(stderr, "veil keys combine: wrong partials from holders %s (corrected)\n",
                    wrong);
        if (res.rejected)
            fprintf(stderr, "veil keys combine: rejected partials from holders %s\n", rejected);
        if (strict && (res.wrong | res.rejected))
            rc = veil_err_set(err, VEIL_E_PROTOCOL, "holders %s sent wrong partials, %s rejected",
                              wrong, rejected);
    }
    veil_sq_ct_clear(&sq);
    free(parts);
    return rc;
}

static int run_combine(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    (void)ctx;
    static const struct option opts[] = {{"strict", no_argument, NULL, 'S'}, {NULL, 0, NULL, 0}};
    const char *pub = NULL;
    int strict = 0, c;
    while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            pub = optarg;
            break;
        case 'S':
            strict = 1;
            break;
        default:
            return veil_cli_usage_error("veil keys combine", "bad option");
        }
    }
    if (optind + 2 > argc)
        return veil_cli_usage_error("veil keys combine", "expected SQUASHED PARTIAL...");
    veil_err err = {0};
    char pubpath[PATH_CAP];
    if (!pub) {
        if (sibling(argv[optind + 1], "threshold.pub", pubpath, sizeof pubpath, &err) != 0)
            return veil_cli_fail(&err);
        pub = pubpath;
    }
    if (combine_files(pub, argv[optind], argv + optind + 1, (size_t)(argc - optind - 1), strict,
                      &err) != 0)
        return veil_cli_fail(&err);
    return VEIL_EXIT_OK;
}

static const struct veil_cli_command keys_deal = {
    .name = "deal",
    .summary = "the key ceremony: TFHE and squashing keys, one sealed share per holder",
    .usage = "Usage: veil keys deal -n N -t T -o DIR [--holders ID,...] [--threads K]\n\n"
             "Generates the TFHE keys and the squashing key, Shamir-shares the squashing\n"
             "secret among N holders (any T + 1 decrypt; N <= 15, N >= 2T + 1, and\n"
             "N >= 3T + 1 to tolerate T liars) and wipes every secret. Writes\n"
             "DIR/public.key, DIR/server.key, DIR/squash.key (the squashing key, beside\n"
             "the server key), DIR/threshold.pub (holders and threshold) and\n"
             "DIR/share-1.key .. DIR/share-N.key (0600, each sealed to its holder).\n"
             "--holders lists the holders' libp2p identities in order: Ed25519 peer IDs\n"
             "or identity key files (veild's p2p.key). Without it, DIR/identity-I.key\n"
             "is generated for every holder. Prints each holder's peer ID and files.\n",
    .run = run_deal,
};
static const struct veil_cli_command keys_squash = {
    .name = "squash",
    .summary = "squash a ciphertext for threshold decryption",
    .usage = "Usage: veil keys squash -k SERVER_KEY [--squash-key FILE] [--threads K] -o OUT CT\n\n"
             "Squashes CT (made by veil fhe encrypt or eval) into OUT with the squashing\n"
             "key (default: squash.key beside SERVER_KEY) and prints its digest, which\n"
             "every holder's partial decryption is bound to.\n",
    .run = run_squash,
};
static const struct veil_cli_command keys_partial = {
    .name = "partial",
    .summary = "one key holder's signed partial decryption",
    .usage = "Usage: veil keys partial -k SHARE [--identity FILE] -o OUT SQUASHED\n\n"
             "Opens SHARE with the holder's identity (default: identity-I.key beside\n"
             "share-I.key) and writes its partial decryption of SQUASHED, flooded and\n"
             "signed, to OUT. Only decrypt ciphertexts the cluster agreed on.\n",
    .run = run_partial,
};
static const struct veil_cli_command keys_combine = {
    .name = "combine",
    .summary = "combine partial decryptions into the value",
    .usage = "Usage: veil keys combine [-k THRESHOLD_PUB] [--strict] SQUASHED PARTIAL...\n\n"
             "Verifies the partials (signatures, dealing, ciphertext digest), decodes the\n"
             "value and prints it in decimal. A value is printed only when 2T + 1\n"
             "partials agree; holders whose partials were wrong (corrected) or rejected\n"
             "are named on stderr, and --strict then exits 1. Too few or inconsistent\n"
             "partials: exit 1, naming who answered. THRESHOLD_PUB defaults to\n"
             "threshold.pub beside the first PARTIAL.\n",
    .run = run_combine,
};

static const struct veil_cli_command *const keys_subcommands[] = {
    &keys_deal, &keys_squash, &keys_partial, &keys_combine, NULL};

const struct veil_cli_command veil_cmd_keys = {
    .name = "keys",
    .summary = "threshold decryption: key ceremony, squash, partial decryptions, combine",
    .usage = "Usage: veil keys <command> [options]\n\n"
             "t-of-n threshold decryption of squashed TFHE ciphertexts (docs/THRESHOLD.md).\n",
    .subcommands = keys_subcommands,
};
