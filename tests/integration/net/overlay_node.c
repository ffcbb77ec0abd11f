// SPDX-License-Identifier: Apache-2.0
/*
 * overlay_node.c - the test and bench driver of VeilNet system mode: one
 * node of a test realm running veil_overlay (a TUN interface plus the Anchor
 * protocol) until told to stop. Identities come from names (an Ed25519 seed
 * = BLAKE2b("veil-test-node" || name)), credentials are signed by a test
 * Guardian (anchor_test_cred.c) named by --guardian, so every node can
 * declare its peers by name. Commands on standard input, one per line:
 *   stats         one JSON line with the overlay's and the Anchor counters
 *   revoke NAME   the Guardian revoked NAME: its credential is refused from
 *                 now on and every session with it ends
 *   rekey         key invalidation: new handshakes on the next packet
 *   quit          stop (also at end of input)
 * Prints "ready PORT MTU OFFLOAD" once the interface is up.
 *
 *   overlay_node --name A --realm r1 --taints lab --ip 10.77.0.1/16
 *                --bind 10.99.0.1 --port 51820 --ifname veil0
 *                [--peer NAME,OVERLAY_IP,ENDPOINT_IP,PORT]... [--guardian G]
 *                [--revoked NAME]... [--rekey-ms N] [--no-offload] [--under-load]
 *                [--chain LEAF_CHAIN.pem --root ROOT.pem]
 *   overlay_node --name A --pubkey-pem
 * A peer's NAME may be key:<64 hex>, its Ed25519 identity itself (a node
 * not named by this driver, such as a veild). With --chain and --root the
 * credential is a Guardian certificate for the name's key (made by `veil
 * guardian cert --pubkey` from the PEM --pubkey-pem prints), verified
 * against that root (veil_overlay_cert_*), instead of the test Guardian's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/overlay.h>

#include "../../unit/net/anchor_test_cred.h"

#define MAX_PEERS   16
#define MAX_REVOKED 16

struct node_opts {
    const char *name, *realm, *taints, *ip, *bind, *ifname, *guardian, *chain, *root;
    bool pubkey_pem;
    unsigned prefix, port;
    uint64_t rekey_ms;
    bool no_offload, under_load;
    const char *peers[MAX_PEERS];
    size_t n_peers;
    const char *revoked[MAX_REVOKED];
    size_t n_revoked;
};

/* The verifier: the test Guardian's signature, and not revoked. */
struct verifier {
    pthread_mutex_t mu;
    uint8_t guardian_pk[32];
    uint8_t revoked[MAX_REVOKED][32];
    size_t n_revoked;
};

static void keys_of(const char *label, const char *name, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof seed);
    crypto_generichash_update(&st, (const uint8_t *)label, strlen(label));
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
}

static int verify(void *ctx, const uint8_t *cred, size_t len, const uint8_t id[32], uint64_t now_ms,
                  struct veil_anchor_cred_info *out, veil_err *err)
{
    struct verifier *v = ctx;
    pthread_mutex_lock(&v->mu);
    bool revoked = false;
    for (size_t i = 0; i < v->n_revoked; i++)
        revoked |= memcmp(v->revoked[i], id, 32) == 0;
    pthread_mutex_unlock(&v->mu);
    if (revoked)
        return veil_err_set(err, VEIL_E_CRYPTO, "credential revoked");
    return anchor_test_cred_verify(v->guardian_pk, cred, len, id, now_ms, out, err);
}

static void revoke(struct verifier *v, const char *name)
{
    uint8_t pk[32], sk[64];
    keys_of("veil-test-node", name, pk, sk);
    pthread_mutex_lock(&v->mu);
    if (v->n_revoked < MAX_REVOKED)
        memcpy(v->revoked[v->n_revoked++], pk, 32);
    pthread_mutex_unlock(&v->mu);
    sodium_memzero(sk, sizeof sk);
}

static int parse_args(int argc, char **argv, struct node_opts *o)
{
    memset(o, 0, sizeof *o);
    o->taints = "";
    o->bind = "0.0.0.0";
    o->ifname = "veil0";
    o->guardian = "main";
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--no-offload")) {
            o->no_offload = true;
            continue;
        }
        if (!strcmp(k, "--under-load")) {
            o->under_load = true;
            continue;
        }
        if (!strcmp(k, "--pubkey-pem")) {
            o->pubkey_pem = true;
            continue;
        }
        if (!v)
            return -1;
        i++;
        if (!strcmp(k, "--name"))
            o->name = v;
        else if (!strcmp(k, "--realm"))
            o->realm = v;
        else if (!strcmp(k, "--taints"))
            o->taints = v;
        else if (!strcmp(k, "--ip"))
            o->ip = v;
        else if (!strcmp(k, "--bind"))
            o->bind = v;
        else if (!strcmp(k, "--port"))
            o->port = (unsigned)atoi(v);
        else if (!strcmp(k, "--ifname"))
            o->ifname = v;
        else if (!strcmp(k, "--guardian"))
            o->guardian = v;
        else if (!strcmp(k, "--rekey-ms"))
            o->rekey_ms = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--peer") && o->n_peers < MAX_PEERS)
            o->peers[o->n_peers++] = v;
        else if (!strcmp(k, "--revoked") && o->n_revoked < MAX_REVOKED)
            o->revoked[o->n_revoked++] = v;
        else if (!strcmp(k, "--chain"))
            o->chain = v;
        else if (!strcmp(k, "--root"))
            o->root = v;
        else
            return -1;
    }
    if (o->pubkey_pem)
        return o->name ? 0 : -1;
    return o->name && o->realm && o->ip && !o->chain == !o->root ? 0 : -1;
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int add_peers(veil_overlay *ov, const struct node_opts *o)
{
    for (size_t i = 0; i < o->n_peers; i++) {
        char name[96], ip[64], ep[64];
        unsigned port;
        uint8_t pk[32], sk[64];
        veil_err err = {0};
        if (sscanf(o->peers[i], "%95[^,],%63[^,],%63[^,],%u", name, ip, ep, &port) != 4) {
            fprintf(stderr, "bad --peer %s\n", o->peers[i]);
            return -1;
        }
        if (strncmp(name, "key:", 4) == 0) {
            if (sodium_hex2bin(pk, sizeof pk, name + 4, strlen(name + 4), NULL, NULL, NULL) != 0 ||
                strlen(name + 4) != 64) {
                fprintf(stderr, "bad peer key %s\n", name);
                return -1;
            }
        } else {
            keys_of("veil-test-node", name, pk, sk);
            sodium_memzero(sk, sizeof sk);
        }
        if (veil_overlay_add_peer(ov, pk, ip, ep, (uint16_t)port, &err) != 0) {
            fprintf(stderr, "peer %s: %s\n", name, err.msg);
            return -1;
        }
    }
    return 0;
}

static void print_stats(veil_overlay *ov)
{
    struct veil_overlay_stats s;
    struct veil_anchor_stats a;
    veil_overlay_get_stats(ov, &s);
    veil_overlay_anchor_stats(ov, &a);
    printf("{\"tun_reads\":%llu,\"tun_read_packets\":%llu,\"tun_writes\":%llu,"
           "\"gso_packets_in\":%llu,\"udp_send_calls\":%llu,\"udp_recv_calls\":%llu,"
           "\"udp_datagrams_out\":%llu,\"udp_datagrams_in\":%llu,\"no_route\":%llu,"
           "\"spoofed\":%llu,\"malformed\":%llu,\"rx_packets\":%llu,\"tx_packets\":%llu,"
           "\"rx_data\":%llu,\"tx_data\":%llu,\"handshakes_initiated\":%llu,"
           "\"handshakes_completed\":%llu,\"cookies_sent\":%llu,\"rekeys\":%llu,"
           "\"drop_malformed\":%llu,\"drop_mac1\":%llu,\"drop_cookie\":%llu,\"drop_auth\":%llu,"
           "\"drop_realm\":%llu,\"drop_replay\":%llu,\"drop_unknown_index\":%llu}\n",
           (unsigned long long)s.tun_reads, (unsigned long long)s.tun_read_packets,
           (unsigned long long)s.tun_writes, (unsigned long long)s.gso_packets_in,
           (unsigned long long)s.udp_send_calls, (unsigned long long)s.udp_recv_calls,
           (unsigned long long)s.udp_datagrams_out, (unsigned long long)s.udp_datagrams_in,
           (unsigned long long)s.no_route, (unsigned long long)s.spoofed,
           (unsigned long long)s.malformed, (unsigned long long)a.rx_packets,
           (unsigned long long)a.tx_packets, (unsigned long long)a.rx_data,
           (unsigned long long)a.tx_data, (unsigned long long)a.handshakes_initiated,
           (unsigned long long)a.handshakes_completed, (unsigned long long)a.cookies_sent,
           (unsigned long long)a.rekeys, (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_MALFORMED],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_MAC1],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_COOKIE],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_AUTH],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_REALM],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_REPLAY],
           (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_UNKNOWN_INDEX]);
    fflush(stdout);
}

static void command_loop(veil_overlay *ov, struct verifier *v)
{
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcmp(line, "stats")) {
            print_stats(ov);
        } else if (!strncmp(line, "revoke ", 7)) {
            uint8_t pk[32], sk[64];
            revoke(v, line + 7);
            keys_of("veil-test-node", line + 7, pk, sk);
            sodium_memzero(sk, sizeof sk);
            veil_overlay_remove_peer(ov, pk);
            printf("revoked %s\n", line + 7);
            fflush(stdout);
        } else if (!strcmp(line, "rekey")) {
            veil_overlay_invalidate_keys(ov);
        } else if (!strcmp(line, "quit")) {
            return;
        }
    }
}

static veil_anchor *make_anchor(const struct node_opts *o, struct verifier *v, uint8_t pk[32])
{
    uint8_t gsk[64], cred[512];
    struct veil_anchor_local local = {0};
    /* the node's Guardian signs its credential and is the one it trusts */
    keys_of("veil-test-guardian", o->guardian, v->guardian_pk, gsk);
    keys_of("veil-test-node", o->name, local.identity_pk, local.identity_sk);
    memcpy(pk, local.identity_pk, 32);
    local.cred_len = anchor_test_cred_make(cred, o->realm, o->taints, local.identity_pk,
                                           wall_ms() + 3600 * 1000, gsk);
    local.cred = cred;
    local.verify = verify;
    local.verify_ctx = v;
    struct veil_anchor_config cfg;
    veil_anchor_config_default(&cfg);
    if (o->rekey_ms)
        cfg.rekey_after_ms = o->rekey_ms;
    veil_err err = {0};
    veil_anchor *a = veil_anchor_new(&cfg, &local, wall_ms(), &err);
    sodium_memzero(gsk, sizeof gsk);
    sodium_memzero(&local, sizeof local);
    if (!a)
        fprintf(stderr, "anchor: %s\n", err.msg);
    else if (o->under_load)
        veil_anchor_force_under_load(a, true);
    return a;
}

/* The name's public key as an SPKI PEM (what `veil guardian cert --pubkey`
 * reads). */
static int print_pubkey_pem(const char *name)
{
    static const uint8_t spki[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                     0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
    uint8_t der[44], pk[32], sk[64];
    char b64[64];
    keys_of("veil-test-node", name, pk, sk);
    sodium_memzero(sk, sizeof sk);
    memcpy(der, spki, sizeof spki);
    memcpy(der + sizeof spki, pk, sizeof pk);
    sodium_bin2base64(b64, sizeof b64, der, sizeof der, sodium_base64_VARIANT_ORIGINAL);
    printf("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", b64);
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = f ? calloc(1, 65536) : NULL;
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    if (f)
        fclose(f);
    if (buf && n == 0) {
        free(buf);
        buf = NULL;
    }
    if (!buf)
        fprintf(stderr, "cannot read %s\n", path);
    return buf;
}

/* Cert mode: the name's key with a Guardian certificate. */
static veil_overlay *start_cert(const struct node_opts *o, const struct veil_overlay_config *ocfg,
                                veil_overlay_cert **oc)
{
    char *chain = read_file(o->chain), *root = chain ? read_file(o->root) : NULL;
    uint8_t pk[32];
    struct veil_overlay_cert_config cc = {.overlay = *ocfg, .chain_pem = chain, .root_pem = root};
    uint8_t sk[64];
    veil_err err = {0};
    keys_of("veil-test-node", o->name, pk, sk);
    cc.identity_sk = sk;
    *oc = root ? veil_overlay_cert_start(&cc, &err) : NULL;
    sodium_memzero(sk, sizeof sk);
    free(chain);
    free(root);
    if (!*oc && root)
        fprintf(stderr, "overlay: %s\n", err.msg);
    return *oc ? veil_overlay_cert_overlay(*oc) : NULL;
}

int main(int argc, char **argv)
{
    struct node_opts o;
    static struct verifier v;
    if (sodium_init() < 0 || parse_args(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: see the top of overlay_node.c\n");
        return 2;
    }
    if (o.pubkey_pem)
        return print_pubkey_pem(o.name);
    pthread_mutex_init(&v.mu, NULL);
    for (size_t i = 0; i < o.n_revoked; i++)
        revoke(&v, o.revoked[i]);
    char ip[64];
    unsigned prefix = 16;
    if (sscanf(o.ip, "%63[^/]/%u", ip, &prefix) < 1)
        return 2;
    uint8_t pk[32] = {0}; /* cert mode: the overlay takes it from the key */
    veil_anchor *a = o.chain ? NULL : make_anchor(&o, &v, pk);
    if (!a && !o.chain)
        return 1;
    struct veil_overlay_config cfg = {.ifname = o.ifname,
                                      .realm = o.realm,
                                      .identity = pk,
                                      .ipv4 = ip,
                                      .ipv4_prefix = prefix,
                                      .bind_ip = o.bind,
                                      .port = (uint16_t)o.port,
                                      .no_offload = o.no_offload};
    veil_err err = {0};
    veil_overlay_cert *oc = NULL;
    veil_overlay *ov = o.chain ? start_cert(&o, &cfg, &oc) : veil_overlay_start(&cfg, a, &err);
    if (!ov) {
        if (!o.chain)
            fprintf(stderr, "overlay: %s\n", err.msg);
        return 1;
    }
    if (add_peers(ov, &o) != 0) {
        if (oc)
            veil_overlay_cert_stop(oc);
        else
            veil_overlay_stop(ov);
        return 1;
    }
    printf("ready %u %u %d\n", veil_overlay_port(ov), veil_overlay_mtu(ov),
           veil_overlay_offload(ov));
    fflush(stdout);
    command_loop(ov, &v);
    if (oc)
        veil_overlay_cert_stop(oc);
    else
        veil_overlay_stop(ov);
    return 0;
}
