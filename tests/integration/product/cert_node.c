// SPDX-License-Identifier: Apache-2.0
/*
 * cert_node.c - test driver: one VeilNet system-mode node whose Anchor
 * credential is a leaf certificate issued by a Guardian CA (veil_ca, the
 * code `veil guardian` runs) and verified against that CA's root
 * (veil_overlay_cert_*, src/net/overlay_cert.c). Identities come from names
 * (Ed25519 seed = BLAKE2b("veil-product-node" || name)) so nodes can name
 * their peers. Commands on standard input, one per line:
 *   stats         one JSON line of Anchor counters
 *   revoke NAME   Guardian revoked NAME: refused from now on, sessions end
 *   record HEX    a realm member's signed peer record (as on the topology
 *                 subject): prints "applied" or "refused: WHY"
 *   quit          stop (also at end of input)
 * Prints "ready PORT" once the interface is up, then "record HEX": its own
 * signed peer record (pool IPv4, --bind address, port).
 *
 *   cert_node --init-ca DIR             create a Guardian CA in DIR
 *   cert_node --ca DIR --name A --realm r1 --ip 10.77.0.1/16 --bind 10.99.0.1
 *             --port 51820 [--peer NAME,OVERLAY_IP,ENDPOINT_IP,PORT]...
 *             [--allow tcp|udp|icmp[:PORT]]...   (any --allow: ingress rules
 *             enforced, default deny, each --allow opens one port to any peer)
 *             [--dns NAME=IPV4]...   (serve these names on 127.0.0.1:53 with
 *             the node's resolver, veil_dns_server)
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <sodium.h>

#include <veil/anchor_cert.h>
#include <veil/guardian.h>
#include <veil/overlay_peer.h>
#include <veil/resolver.h>

#define MAX_PEERS 8
#define MAX_RULES 8
#define MAX_NAMES 8

struct opts {
    const char *ca, *name, *realm, *ip, *bind;
    unsigned port;
    const char *peers[MAX_PEERS];
    size_t n_peers;
    struct veil_overlay_rule rules[MAX_RULES];
    size_t n_rules;
    struct veil_dns_entry names[MAX_NAMES];
    size_t n_names;
};

/* --dns 0.web.c42=10.77.0.5 */
static int parse_name(const char *v, struct veil_dns_entry *e)
{
    char ip[16];
    memset(e, 0, sizeof *e);
    if (sscanf(v, "%253[^=]=%15s", e->name, ip) != 2)
        return -1;
    return inet_pton(AF_INET, ip, e->ipv4) == 1 ? 0 : -1;
}

/* --allow tcp:8080, udp:53, icmp: one rule for any peer. */
static int parse_rule(const char *v, struct veil_overlay_rule *r)
{
    char proto[8] = "";
    unsigned port = 0;
    memset(r, 0, sizeof *r);
    if (sscanf(v, "%7[a-z]:%u", proto, &port) < 1 || port > 65535)
        return -1;
    r->proto = !strcmp(proto, "tcp")    ? 6
               : !strcmp(proto, "udp")  ? 17
               : !strcmp(proto, "icmp") ? 1
                                        : 0;
    r->port_lo = r->port_hi = (uint16_t)port;
    return r->proto ? 0 : -1;
}

static void keys_of(const char *name, uint8_t pk[32], uint8_t sk[64])
{
    uint8_t seed[32];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof seed);
    crypto_generichash_update(&st, (const uint8_t *)"veil-product-node", 17);
    crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_sign_ed25519_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
}

static int parse(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->bind = "0.0.0.0";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--ca"))
            o->ca = v;
        else if (!strcmp(k, "--name"))
            o->name = v;
        else if (!strcmp(k, "--realm"))
            o->realm = v;
        else if (!strcmp(k, "--ip"))
            o->ip = v;
        else if (!strcmp(k, "--bind"))
            o->bind = v;
        else if (!strcmp(k, "--port"))
            o->port = (unsigned)atoi(v);
        else if (!strcmp(k, "--peer") && o->n_peers < MAX_PEERS)
            o->peers[o->n_peers++] = v;
        else if (!strcmp(k, "--allow") && o->n_rules < MAX_RULES &&
                 parse_rule(v, &o->rules[o->n_rules]) == 0)
            o->n_rules++;
        else if (!strcmp(k, "--dns") && o->n_names < MAX_NAMES &&
                 parse_name(v, &o->names[o->n_names]) == 0)
            o->n_names++;
        else
            return -1;
    }
    return o->ca && o->name && o->realm && o->ip && argc % 2 == 1 ? 0 : -1;
}

static char *pubkey_pem(const uint8_t pk[32])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, 32);
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (k && b && PEM_write_bio_PUBKEY(b, k) == 1) {
        long n = BIO_get_mem_data(b, &p);
        out = strndup(p, (size_t)n);
    }
    BIO_free(b);
    EVP_PKEY_free(k);
    return out;
}

/* What Guardian answers an enrolled node: its leaf chain, and the root. */
static int issue(const struct opts *o, const uint8_t pk[32], struct veil_ca_leaf *leaf, char **root,
                 veil_err *err)
{
    veil_ca *ca = NULL;
    char *pem = pubkey_pem(pk);
    struct veil_ca_leaf_req req = {.common_name = o->name,
                                   .realm = o->realm,
                                   .node_id = o->name,
                                   .client_auth = true,
                                   .ttl_s = 3600,
                                   .public_key_pem = pem};
    int rc = pem ? veil_ca_open(&ca, o->ca, err) : -1;
    rc = rc ? rc : veil_ca_issue(ca, &req, leaf, err);
    *root = rc == 0 ? strdup(veil_ca_chain(ca)) : NULL;
    veil_ca_free(ca);
    free(pem);
    return rc == 0 && *root ? 0 : -1;
}

static int add_peers(veil_overlay *ov, const struct opts *o)
{
    for (size_t i = 0; i < o->n_peers; i++) {
        char name[64], ip[64], ep[64];
        unsigned port;
        uint8_t pk[32], sk[64];
        veil_err err = {0};
        if (sscanf(o->peers[i], "%63[^,],%63[^,],%63[^,],%u", name, ip, ep, &port) != 4)
            return -1;
        keys_of(name, pk, sk);
        sodium_memzero(sk, sizeof sk);
        if (veil_overlay_add_peer(ov, pk, ip, ep, (uint16_t)port, &err) != 0) {
            fprintf(stderr, "peer %s: %s\n", name, err.msg);
            return -1;
        }
    }
    return 0;
}

static void apply_record(veil_overlay_cert *oc, const char *hex)
{
    uint8_t rec[VEIL_PEER_RECORD_V6_LEN];
    veil_err err = {0};
    long n = veil_hex_decode(rec, sizeof rec, hex, strlen(hex), false, &err);
    if (n < 0 || veil_overlay_cert_apply_record(oc, rec, (size_t)n, &err) != 0)
        printf("refused: %s\n", err.msg);
    else
        printf("applied\n");
}

/* This node's own record, signed with its key. */
static int print_record(const struct opts *o, const char *ip, uint16_t port, const uint8_t sk[64])
{
    struct veil_overlay_peer_record r = {.endpoint_port = port,
                                         .issued_ms = (uint64_t)time(NULL) * 1000};
    crypto_sign_ed25519_sk_to_pk(r.identity, sk);
    if (strlen(ip) >= sizeof r.ipv4 || strlen(o->bind) >= sizeof r.endpoint_ip)
        return -1;
    memcpy(r.ipv4, ip, strlen(ip) + 1);
    memcpy(r.endpoint_ip, o->bind, strlen(o->bind) + 1);
    veil_buf b;
    veil_err err = {0};
    char hex[2 * VEIL_PEER_RECORD_V6_LEN + 1];
    veil_buf_init(&b);
    int rc = veil_overlay_peer_record_encode(&r, sk, &b, &err);
    if (rc == 0 && veil_hex_encode(hex, sizeof hex, b.data, b.len) > 0)
        printf("record %s\n", hex);
    else
        fprintf(stderr, "record: %s\n", err.msg);
    veil_buf_free(&b);
    return rc;
}

static void commands(veil_overlay_cert *oc)
{
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!strcmp(line, "stats")) {
            struct veil_anchor_stats a;
            struct veil_overlay_stats s;
            veil_overlay_anchor_stats(veil_overlay_cert_overlay(oc), &a);
            veil_overlay_get_stats(veil_overlay_cert_overlay(oc), &s);
            printf("{\"handshakes_completed\":%llu,\"rx_data\":%llu,\"drop_auth\":%llu,"
                   "\"drop_realm\":%llu,\"filtered\":%llu}\n",
                   (unsigned long long)a.handshakes_completed, (unsigned long long)a.rx_data,
                   (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_AUTH],
                   (unsigned long long)a.dropped[VEIL_ANCHOR_DROP_REALM],
                   (unsigned long long)s.filtered);
        } else if (!strncmp(line, "revoke ", 7)) {
            uint8_t pk[32], sk[64];
            veil_err err = {0};
            keys_of(line + 7, pk, sk);
            sodium_memzero(sk, sizeof sk);
            if (veil_overlay_cert_revoke(oc, pk, &err) != 0)
                fprintf(stderr, "revoke: %s\n", err.msg);
            printf("revoked %s\n", line + 7);
        } else if (!strncmp(line, "record ", 7)) {
            apply_record(oc, line + 7);
        } else if (!strcmp(line, "quit")) {
            return;
        }
        fflush(stdout);
    }
}

static int run(const struct opts *o)
{
    uint8_t pk[32], sk[64];
    struct veil_ca_leaf leaf = {0};
    char *root = NULL, ip[64];
    unsigned prefix = 16;
    veil_err err = {0};
    keys_of(o->name, pk, sk);
    if (sscanf(o->ip, "%63[^/]/%u", ip, &prefix) < 1 || issue(o, pk, &leaf, &root, &err) != 0) {
        fprintf(stderr, "guardian: %s\n", err.msg);
        sodium_memzero(sk, sizeof sk);
        return 1;
    }
    struct veil_overlay_cert_config cfg = {.overlay = {.ifname = "veil0",
                                                       .realm = o->realm,
                                                       .ipv4 = ip,
                                                       .ipv4_prefix = prefix,
                                                       .bind_ip = o->bind,
                                                       .port = (uint16_t)o->port},
                                           .identity_sk = sk,
                                           .chain_pem = leaf.chain_pem,
                                           .root_pem = root};
    veil_overlay_cert *oc = veil_overlay_cert_start(&cfg, &err);
    uint16_t port = oc ? veil_overlay_port(veil_overlay_cert_overlay(oc)) : 0;
    int rec_rc = oc ? print_record(o, ip, port, sk) : 0;
    sodium_memzero(sk, sizeof sk);
    veil_ca_leaf_free(&leaf);
    free(root);
    if (oc == NULL || rec_rc != 0 || add_peers(veil_overlay_cert_overlay(oc), o) != 0 ||
        (o->n_rules > 0 && veil_overlay_set_rules(veil_overlay_cert_overlay(oc), true, o->rules,
                                                  o->n_rules, &err) != 0)) {
        fprintf(stderr, "overlay: %s\n", err.msg);
        veil_overlay_cert_stop(oc);
        return 1;
    }
    veil_dns_server *dns = NULL;
    if (o->n_names > 0 && ((dns = veil_dns_server_start("127.0.0.1", 53, &err)) == NULL ||
                           veil_dns_server_set(dns, o->names, o->n_names, &err) != 0)) {
        fprintf(stderr, "resolver: %s\n", err.msg);
        veil_dns_server_stop(dns);
        veil_overlay_cert_stop(oc);
        return 1;
    }
    printf("ready %u\n", veil_overlay_port(veil_overlay_cert_overlay(oc)));
    fflush(stdout);
    commands(oc);
    veil_dns_server_stop(dns);
    veil_overlay_cert_stop(oc);
    return 0;
}

int main(int argc, char **argv)
{
    veil_err err = {0};
    if (sodium_init() < 0)
        return 1;
    if (argc == 3 && !strcmp(argv[1], "--init-ca")) {
        if (veil_ca_create(argv[2], "Product Test Guardian", 30, 7, &err) != 0) {
            fprintf(stderr, "ca: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    struct opts o;
    if (parse(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: see the top of cert_node.c\n");
        return 2;
    }
    return run(&o);
}
