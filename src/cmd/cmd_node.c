// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_node.c - `veil node join BUNDLE` (owned by the veild integration): makes
 * this machine a node of the cluster in BUNDLE. It creates the node's libp2p
 * identity (DATA_DIR/p2p.key, 0600), registers the node on chain with its peer
 * ID (the keystore's address is the node's address and, as an operator of the
 * cluster, registers it), copies the FHE keys it needs, and writes
 * DATA_DIR/veild.yaml so that `veild -c DATA_DIR/veild.yaml` starts it. With
 * --announce the node's listen address is added to the bundle's bootstrap list.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <veil/chain.h>
#include <veil/node.h>
#include <veil/p2p.h>

#include <veil/threshold.h>

#include "../node/daemon.h"
#include "cli.h"

static const char node_join_usage[] =
    "Usage: veil node join BUNDLE -d DATA_DIR --keystore FILE [options]\n"
    "\n"
    "Joins the cluster described by BUNDLE (a 'veil cluster init' directory):\n"
    "creates the node's libp2p identity, registers the node on chain with its peer\n"
    "ID (the keystore's account must be an operator of the cluster; it becomes the\n"
    "node's address and pays for its anchors), and writes DATA_DIR/veild.yaml.\n"
    "Then start the node with: veild -c DATA_DIR/veild.yaml\n"
    "\n"
    "Options:\n"
    "  -d, --data-dir DIR     the node's state directory (required)\n"
    "  --keystore FILE        the node's keystore (password: --password-file or\n"
    "                         VEIL_KEYSTORE_PASSWORD, also used by veild)\n"
    "  --password-file FILE   keystore password file (recorded in veild.yaml)\n"
    "  --listen MULTIADDR     libp2p listen address (default /ip4/0.0.0.0/tcp/4001)\n"
    "  --api-listen HOST:PORT local HTTP API address (default 127.0.0.1:7070)\n"
    "  --client-key FILE      the cluster's FHE secret key (designated decryptor only)\n"
    "  --share FILE           this node's key share (threshold clusters: a key holder)\n"
    "  --organization NAME    organization name shown by 'veil get nodes'\n"
    "  --announce             add this node's listen address to the bundle's bootstrap list\n"
    "  --json                 print the result as JSON\n";

/* A YAML double-quoted scalar: escapes the two characters that need it;
 * refuses control characters. */
static int put_quoted(veil_buf *f, const char *value)
{
    veil_buf_put_u8(f, '"');
    for (const char *p = value; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return -1;
        if (*p == '"' || *p == '\\')
            veil_buf_put_u8(f, '\\');
        veil_buf_put_u8(f, (uint8_t)*p);
    }
    veil_buf_put_str(f, "\"\n");
    return 0;
}

static int write_str(veil_buf *f, const char *key, const char *value)
{
    veil_buf_printf(f, "%s: ", key);
    return put_quoted(f, value);
}

static int copy_key(const char *from, const char *to, veil_err *err);

/* A key holder's share (threshold clusters): it must open with this node's
 * identity key and belong to the bundle's dealing; installed 0600 as
 * DATA_DIR/share.key, where veild looks for it. */
static int install_share(const char *from, const struct veil_bundle *b, const veil_p2p_keypair *kp,
                         const char *dd, veil_err *err)
{
    if (!b->threshold_public[0])
        return veil_err_set(err, VEIL_E_INVALID,
                            "--share: the bundle's cluster has no key holders (no threshold.pub)");
    veil_th_public pub;
    veil_th_share *sh = NULL;
    if (veil_th_public_load(b->threshold_public, &pub, err) != 0)
        return veil_err_wrap(err, "threshold public material");
    if (veil_th_share_load(from, kp->secret_key, &sh, err) != 0)
        return veil_err_wrap(err, "--share %s (is it this node's share?)", from);
    bool same = memcmp(veil_th_share_public(sh)->id, pub.id, sizeof pub.id) == 0;
    unsigned index = veil_th_share_index(sh);
    veil_th_share_free(sh);
    if (!same)
        return veil_err_set(err, VEIL_E_INVALID, "--share %s belongs to another dealing", from);
    char dst[4300];
    snprintf(dst, sizeof dst, "%s/%s", dd, VEIL_SHARE_FILE);
    if (copy_key(from, dst, err) != 0)
        return -1;
    veil_log(VEIL_LOG_INFO, "node", "key holder share installed", "holder=%u of=%u t=%u", index,
             pub.n, pub.t);
    return 0;
}

static int copy_key(const char *from, const char *to, veil_err *err)
{
    uint8_t *data;
    size_t len;
    if (veil_file_read(from, (size_t)1 << 30, &data, &len, err) != 0)
        return -1;
    int rc = veil_key_file_write(to, data, len, err);
    veil_memzero(data, len);
    free(data);
    return rc;
}

static int abs_path(const char *in, char *out, size_t cap, veil_err *err)
{
    if (!realpath(in, out))
        return veil_err_set(err, VEIL_E_NOTFOUND, "%s: %s", in, strerror(errno));
    (void)cap;
    return 0;
}

static int run_join(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    const char *path = "veil node join";
    enum { O_KEYSTORE = 256, O_PW, O_LISTEN, O_API, O_CLIENT, O_SHARE, O_ORG, O_ANNOUNCE, O_JSON };
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"keystore", required_argument, NULL, O_KEYSTORE},
                                         {"password-file", required_argument, NULL, O_PW},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"api-listen", required_argument, NULL, O_API},
                                         {"client-key", required_argument, NULL, O_CLIENT},
                                         {"share", required_argument, NULL, O_SHARE},
                                         {"organization", required_argument, NULL, O_ORG},
                                         {"announce", no_argument, NULL, O_ANNOUNCE},
                                         {"json", no_argument, NULL, O_JSON},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *keystore = NULL, *pwfile = NULL, *client_key = NULL;
    const char *share = NULL;
    const char *listen = "/ip4/0.0.0.0/tcp/4001", *api = "127.0.0.1:7070", *org = NULL;
    bool announce = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case O_KEYSTORE:
            keystore = optarg;
            break;
        case O_PW:
            pwfile = optarg;
            break;
        case O_LISTEN:
            listen = optarg;
            break;
        case O_API:
            api = optarg;
            break;
        case O_CLIENT:
            client_key = optarg;
            break;
        case O_SHARE:
            share = optarg;
            break;
        case O_ORG:
            org = optarg;
            break;
        case O_ANNOUNCE:
            announce = true;
            break;
        case O_JSON:
            json = true;
            break;
        default:
            return veil_cli_usage_error(path, "unknown option");
        }
    }
    if (optind + 1 != argc)
        return veil_cli_usage_error(path, "one BUNDLE argument is required");
    const char *bundle_path = argv[optind];
    if (!data_dir)
        return veil_cli_usage_error(path, "-d DATA_DIR is required");
    if (!keystore)
        keystore = veil_config_str(ctx->config, "keystore", NULL);
    if (!keystore)
        return veil_cli_usage_error(path, "--keystore FILE is required");
    veil_err err = {0};
    veil_p2p_multiaddr listen_ma;
    if (veil_p2p_multiaddr_parse(listen, &listen_ma, &err) != 0)
        return veil_cli_usage_error(path, "--listen: %s", err.msg);

    struct veil_bundle b;
    if (veil_bundle_load(&b, bundle_path, &err) != 0)
        return veil_cli_fail(&err);
    int rc = VEIL_EXIT_FAILURE;
    veil_chain_client *cc = NULL;
    veil_p2p_keypair kp;
    bool have_kp = false;
    char dd[4096], keyfile[4200], ks_abs[4096], pw_abs[4096] = "", cfgfile[4200];
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        veil_err_set(&err, VEIL_E_IO, "cannot create %s: %s", data_dir, strerror(errno));
        goto fail;
    }
    if (abs_path(data_dir, dd, sizeof dd, &err) != 0 ||
        abs_path(keystore, ks_abs, sizeof ks_abs, &err) != 0 ||
        (pwfile && abs_path(pwfile, pw_abs, sizeof pw_abs, &err) != 0))
        goto fail;

    /* The libp2p identity: reuse an existing one (re-joining is idempotent). */
    snprintf(keyfile, sizeof keyfile, "%s/p2p.key", dd);
    if (access(keyfile, F_OK) == 0) {
        if (veil_p2p_keypair_load(&kp, keyfile, &err) != 0)
            goto fail;
    } else if (veil_p2p_keypair_generate(&kp, &err) != 0 ||
               veil_p2p_keypair_save(&kp, keyfile, &err) != 0) {
        goto fail;
    }
    have_kp = true;
    veil_p2p_peer_id pid;
    veil_p2p_peer_id_from_ed25519(kp.public_key, &pid);
    veil_p2p_peer_id_text pid_text = veil_p2p_peer_id_str(&pid);

    if (veil_daemon_chain_open(b.rpc_url, b.chain_id, b.contract, keystore, pwfile, &cc, &err) != 0)
        goto fail;
    const veil_eth_address *me = veil_chain_client_signer(cc);
    char me_text[43];
    veil_eth_address_format(me, me_text);
    uint64_t node_cluster = 0;
    veil_eth_address op;
    bool active = false;
    uint8_t peer_key[32];
    bool registered = false;
    if (veil_contract_get_node(cc, me, &node_cluster, &op, &active, peer_key, &err) == 0 &&
        node_cluster == b.cluster_id && active) {
        if (memcmp(peer_key, kp.public_key, 32) != 0) {
            veil_err_set(&err, VEIL_E_EXISTS,
                         "node %s is already registered in cluster %llu with another peer ID",
                         me_text, (unsigned long long)b.cluster_id);
            goto fail;
        }
        registered = true;
    }
    char tx_text[67] = "";
    if (!registered) {
        veil_tx_result res;
        if (veil_contract_register_node(cc, b.cluster_id, me, pid.bytes, pid.len, &res, &err) != 0)
            goto fail;
        tx_text[0] = '0';
        tx_text[1] = 'x';
        veil_hex_encode(tx_text + 2, sizeof tx_text - 2, res.tx_hash, 32);
        veil_tx_result_clear(&res);
    }

    if (share && install_share(share, &b, &kp, dd, &err) != 0)
        goto fail;
    char client_dst[4200] = "";
    if (client_key) {
        snprintf(client_dst, sizeof client_dst, "%s/client.key", dd);
        if (copy_key(client_key, client_dst, &err) != 0)
            goto fail;
    }

    /* The node's configuration (every value an absolute path or literal). */
    snprintf(cfgfile, sizeof cfgfile, "%s/veild.yaml", dd);
    veil_buf yaml;
    veil_buf_init(&yaml);
    veil_buf *f = &yaml;
    char num[32];
    veil_buf_printf(f, "# written by 'veil node join' for cluster %llu\n",
                    (unsigned long long)b.cluster_id);
    int w = write_str(f, "data_dir", dd);
    w |= write_str(f, "rpc_url", b.rpc_url);
    veil_buf_printf(f, "chain_id: %llu\n", (unsigned long long)b.chain_id);
    w |= write_str(f, "contract_address", b.contract);
    snprintf(num, sizeof num, "%llu", (unsigned long long)b.cluster_id);
    w |= write_str(f, "cluster_id", num);
    w |= write_str(f, "keystore", ks_abs);
    if (pw_abs[0])
        w |= write_str(f, "keystore_password_file", pw_abs);
    w |= write_str(f, "node.peer_id", pid_text.s);
    if (org)
        w |= write_str(f, "node.organization", org);
    w |= write_str(f, "zama.public_key_file", b.public_key);
    w |= write_str(f, "zama.server_key_file", b.server_key);
    if (client_dst[0])
        w |= write_str(f, "zama.client_key_file", client_dst);
    w |= write_str(f, "libp2p.listen", listen);
    w |= write_str(f, "libp2p.key_file", keyfile);
    if (b.n_bootstrap > 0) {
        veil_buf_put_str(f, "libp2p.bootstrap:\n");
        for (size_t i = 0; i < b.n_bootstrap; i++) {
            veil_buf_put_str(f, "  - ");
            w |= put_quoted(f, b.bootstrap[i]);
        }
    }
    w |= write_str(f, "api.listen", api);
    /* temp file, fsync, rename, directory fsync: a crash leaves the old
     * configuration or the new one, never half of it */
    if (w != 0)
        veil_err_set(&err, VEIL_E_INVALID, "cannot write %s: a value holds a control character",
                     cfgfile);
    else if (!veil_buf_ok(f))
        w = veil_err_set(&err, VEIL_E_NOMEM, "out of memory writing %s", cfgfile);
    else
        w = veil_file_write_atomic(cfgfile, f->data, f->len, 0644, &err);
    veil_buf_free(&yaml);
    if (w != 0)
        goto fail;

    if (announce) {
        veil_p2p_multiaddr with;
        char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (veil_p2p_multiaddr_with_peer(&listen_ma, &pid, &with, &err) != 0 ||
            veil_p2p_multiaddr_to_text(&with, text, sizeof text, &err) != 0 ||
            veil_bundle_add_bootstrap(&b, text, &err) != 0)
            goto fail;
        char bdir[4096];
        struct stat st;
        snprintf(bdir, sizeof bdir, "%s", bundle_path);
        if (stat(bundle_path, &st) == 0 && !S_ISDIR(st.st_mode)) {
            char *slash = strrchr(bdir, '/');
            if (slash)
                *slash = '\0';
            else
                snprintf(bdir, sizeof bdir, ".");
        }
        if (veil_bundle_save(&b, bdir, &err) != 0)
            goto fail;
    }
    if (json)
        printf("{\"peer_id\":\"%s\",\"node\":\"%s\",\"cluster_id\":%llu,\"config\":\"%s\","
               "\"register_tx\":\"%s\"}\n",
               pid_text.s, me_text, (unsigned long long)b.cluster_id, cfgfile, tx_text);
    else
        printf("node %s (peer %s) %s cluster %llu\nstart it with: veild -c %s\n", me_text,
               pid_text.s, registered ? "was already registered in" : "registered in",
               (unsigned long long)b.cluster_id, cfgfile);
    rc = VEIL_EXIT_OK;
    goto done;
fail:
    rc = veil_cli_fail(&err);
done:
    if (have_kp)
        veil_p2p_keypair_wipe(&kp);
    if (cc)
        veil_chain_client_close(cc);
    veil_bundle_free(&b);
    return rc;
}

static const struct veil_cli_command cmd_node_join = {
    .name = "join",
    .summary = "join a cluster: libp2p identity, on-chain registration, veild.yaml",
    .usage = node_join_usage,
    .run = run_join,
};

static const struct veil_cli_command *const node_subs[] = {&cmd_node_join, NULL};

const struct veil_cli_command veil_cmd_node = {
    .name = "node",
    .summary = "join this machine to a cluster",
    .usage = "Usage: veil node join BUNDLE -d DATA_DIR --keystore FILE [options]\n",
    .subcommands = node_subs,
};
