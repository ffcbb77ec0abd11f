// SPDX-License-Identifier: Apache-2.0
/*
 * veil/guardian.h - Guardian, the VeilNet authority (library half).
 *
 * Owns everything Guardian needs that does not talk to a running node:
 *   - nkeys: Ed25519 keys in the NATS text encoding (prefix byte, base32,
 *     CRC16-XMODEM), seed files stored 0600;
 *   - NATS JWTs (v2, header {"typ":"JWT","alg":"ed25519-nkey"}) for operator,
 *     account and user claims, byte-compatible with @nats-io/jwt and
 *     nats-server 2.9: encode (signs, fills jti/iss/iat), decode (verifies the
 *     signature against `iss`), and the user-vs-account checks a server makes;
 *   - .creds files (user JWT + seed between the standard armour lines);
 *   - the X.509 CA (offline root, online intermediate, OpenSSL): short-lived
 *     leaf certificates with SAN URI veil://<realm>/<node-id> for the data
 *     plane and server certificates for Master's TLS listeners;
 *   - the Guardian directory: keys, realms (one NATS account each, with a
 *     signing key), one-time enrollment tokens, enrolled nodes, issued
 *     serials, revocations and the audit log, in SQLite, surviving restarts;
 *   - the control-channel SUBJECT LAYOUT and the per-node permissions built
 *     from it;
 *   - Master: nats-server super-cluster configuration files.
 *
 * The daemon (`veil guardian serve`, enrollment/renewal/admin commands over
 * NATS) lives in include/veil/guardian_serve.h and builds on this API.
 *
 * All state is caller-owned. Fallible functions return 0 / -1 and fill a
 * veil_err. Secrets (seeds, private keys, token secrets) are wiped on every
 * path and never logged.
 */
#ifndef VEIL_GUARDIAN_H
#define VEIL_GUARDIAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* nkeys                                                                    */
/* ------------------------------------------------------------------------ */

/* The role byte of an nkey (the first character of its public text form). */
enum veil_nkey_type {
    VEIL_NKEY_OPERATOR = 14 << 3, /* 'O' */
    VEIL_NKEY_ACCOUNT = 0,        /* 'A' */
    VEIL_NKEY_USER = 20 << 3,     /* 'U' */
    VEIL_NKEY_SERVER = 13 << 3,   /* 'N' */
    VEIL_NKEY_CLUSTER = 2 << 3,   /* 'C' */
};

#define VEIL_NKEY_PUBLIC_LEN 56 /* text, without the NUL */
#define VEIL_NKEY_SEED_LEN   58 /* text, without the NUL */
#define VEIL_NKEY_SIG_LEN    64

/* One key pair (or a public key alone when has_seed is false). Wipe with
 * veil_nkey_wipe when it held a seed. */
typedef struct veil_nkey {
    enum veil_nkey_type type;
    bool has_seed;
    uint8_t pub[32];
    uint8_t seed[32]; /* Ed25519 seed (secret) */
    uint8_t sk[64];   /* libsodium secret key derived from seed (secret) */
} veil_nkey;

int veil_nkey_generate(veil_nkey *k, enum veil_nkey_type type, veil_err *err) VEIL_WARN_UNUSED;
/* Parses a seed ("SO...", "SA...", "SU...", "SN..."): checks the CRC, the
 * prefixes, and derives the key pair. */
int veil_nkey_from_seed(veil_nkey *k, const char *seed, size_t len, veil_err *err) VEIL_WARN_UNUSED;
/* Parses a public key ("O...", "A...", "U...", "N..."); has_seed = false. */
int veil_nkey_from_public(veil_nkey *k, const char *pub, size_t len,
                          veil_err *err) VEIL_WARN_UNUSED;
/* Like from_public but also requires the given role. */
int veil_nkey_parse_public(const char *pub, enum veil_nkey_type want, uint8_t out[32],
                           veil_err *err) VEIL_WARN_UNUSED;
/* Text forms; out must hold VEIL_NKEY_PUBLIC_LEN + 1 / VEIL_NKEY_SEED_LEN + 1. */
void veil_nkey_public_text(const veil_nkey *k, char out[VEIL_NKEY_PUBLIC_LEN + 1]);
int veil_nkey_seed_text(const veil_nkey *k, char out[VEIL_NKEY_SEED_LEN + 1],
                        veil_err *err) VEIL_WARN_UNUSED;
int veil_nkey_sign(const veil_nkey *k, const void *msg, size_t len, uint8_t sig[VEIL_NKEY_SIG_LEN],
                   veil_err *err) VEIL_WARN_UNUSED;
/* Verifies against a public text key of any role. */
int veil_nkey_verify(const char *pub, const void *msg, size_t len,
                     const uint8_t sig[VEIL_NKEY_SIG_LEN], veil_err *err) VEIL_WARN_UNUSED;
void veil_nkey_wipe(veil_nkey *k);
/* Seed files: the seed text plus a newline, mode 0600; load refuses files
 * readable by group/others. */
int veil_nkey_save(const veil_nkey *k, const char *path, veil_err *err) VEIL_WARN_UNUSED;
int veil_nkey_load(veil_nkey *k, const char *path, veil_err *err) VEIL_WARN_UNUSED;

/* CRC16-XMODEM as nkeys use it (poly 0x1021, init 0). */
uint16_t veil_nkey_crc16(const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------ */
/* NATS JWTs                                                                */
/* ------------------------------------------------------------------------ */

typedef struct veil_strlist {
    char **items;
    size_t n;
} veil_strlist;

int veil_strlist_add(veil_strlist *l, const char *s, veil_err *err) VEIL_WARN_UNUSED;
bool veil_strlist_contains(const veil_strlist *l, const char *s);
/* Splits "a,b,c" (empty items dropped). */
int veil_strlist_split(veil_strlist *l, const char *csv, veil_err *err) VEIL_WARN_UNUSED;
void veil_strlist_free(veil_strlist *l);

enum veil_jwt_kind {
    VEIL_JWT_OPERATOR = 1,
    VEIL_JWT_ACCOUNT,
    VEIL_JWT_USER,
};

/* Revocation entry of an account: users with this key and iat <= at are
 * revoked; key "*" revokes every user issued at or before `at`. */
struct veil_jwt_revocation {
    char key[VEIL_NKEY_PUBLIC_LEN + 1];
    int64_t at;
};

/* NATS limits; -1 means unlimited (the NATS default, NoLimit). */
struct veil_jwt_limits {
    int64_t subs, data, payload;          /* account and user */
    int64_t conn, leaf, imports, exports; /* account only */
    bool wildcards;                       /* account: wildcard exports */
};

/* Claims of one JWT. Strings are owned (free with veil_jwt_free). Fields that
 * do not belong to `kind` are ignored on encode and left empty on decode. */
typedef struct veil_jwt {
    enum veil_jwt_kind kind;
    /* standard claims */
    char jti[128];                      /* Go: base32 SHA-512/256; @nats-io/jwt: base64 SHA-512 */
    int64_t iat;                        /* 0 on encode = now */
    int64_t exp;                        /* 0 = never */
    int64_t nbf;                        /* 0 = absent */
    char iss[VEIL_NKEY_PUBLIC_LEN + 1]; /* filled by encode from the signer */
    char sub[VEIL_NKEY_PUBLIC_LEN + 1];
    char *name;
    veil_strlist tags; /* nats.tags; Veil stores taints as "taint:<t>" */
    /* operator + account */
    veil_strlist signing_keys;
    /* operator */
    char system_account[VEIL_NKEY_PUBLIC_LEN + 1];
    /* account */
    struct veil_jwt_revocation *revocations;
    size_t n_revocations;
    /* account + user */
    struct veil_jwt_limits limits;
    /* user */
    char issuer_account[VEIL_NKEY_PUBLIC_LEN + 1]; /* set when a signing key issued it */
    veil_strlist pub_allow, pub_deny, sub_allow, sub_deny;
    int64_t resp_max; /* > 0: allow_responses {max: resp_max}; 0 = absent */
    int64_t resp_ttl_ns;
    bool bearer_token;
} veil_jwt;

/* Sets kind and the NATS default limits (-1 everywhere, wildcards true). */
void veil_jwt_init(veil_jwt *c, enum veil_jwt_kind kind);
void veil_jwt_free(veil_jwt *c);
/* Adds (or moves forward) a revocation entry. */
int veil_jwt_add_revocation(veil_jwt *acct, const char *user_pub, int64_t at,
                            veil_err *err) VEIL_WARN_UNUSED;
/* True if the account revokes a user key issued at `user_iat`. */
bool veil_jwt_is_revoked(const veil_jwt *acct, const char *user_pub, int64_t user_iat);

/* Signs the claims with `signer` (an operator key for operator/account JWTs,
 * an account or account-signing key for user JWTs). Fills c->iss, c->iat (if
 * 0) and c->jti (base32 SHA-512/256 of the claims with jti empty, as
 * @nats-io/jwt computes it). *out is a malloc'd NUL-terminated token. */
int veil_jwt_encode(veil_jwt *c, const veil_nkey *signer, char **out,
                    veil_err *err) VEIL_WARN_UNUSED;
/* Parses a token, verifies its Ed25519 signature against `iss` and the
 * header, and fills `out` (initialised by the call). Rejects unknown types,
 * bad base64url, oversize input (> 64 KiB). Does not check expiry. */
int veil_jwt_decode(const char *token, size_t len, veil_jwt *out, veil_err *err) VEIL_WARN_UNUSED;
/* The checks nats-server makes for a user connecting to `acct` at `now`:
 * issuer is the account or one of its signing keys (with issuer_account set
 * then), not expired, not before nbf, not revoked. */
int veil_jwt_check_user(const veil_jwt *user, const veil_jwt *acct, int64_t now,
                        veil_err *err) VEIL_WARN_UNUSED;
/* An account JWT must be issued by the operator or one of its signing keys. */
int veil_jwt_check_account(const veil_jwt *acct, const veil_jwt *op,
                           veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* .creds files                                                             */
/* ------------------------------------------------------------------------ */

/* Formats the standard creds text (malloc'd, secret: free with
 * veil_memzero + free, or veil_creds_free_text). */
int veil_creds_format(const char *jwt, const veil_nkey *user, char **out,
                      veil_err *err) VEIL_WARN_UNUSED;
void veil_creds_free_text(char *text);
/* Writes a .creds file, mode 0600. */
int veil_creds_write(const char *path, const char *jwt, const veil_nkey *user,
                     veil_err *err) VEIL_WARN_UNUSED;
/* Parses creds text: *jwt (malloc'd) and the user key pair. The seed must
 * match the JWT's subject. */
int veil_creds_parse(const char *text, size_t len, char **jwt, veil_nkey *user,
                     veil_err *err) VEIL_WARN_UNUSED;
int veil_creds_read(const char *path, char **jwt, veil_nkey *user, veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Subject layout of the control channel (Master carries control only)      */
/* ------------------------------------------------------------------------ */
/*
 * Every realm is its own NATS account, so realms never see each other's
 * subjects; inside a realm every subject names the node it belongs to so a
 * credential can be limited to its own:
 *
 *   veil.<realm>.live.<node>          liveness beacons      node pub, realm sub
 *   veil.<realm>.health.<node>        health summaries      node pub, realm sub
 *   veil.<realm>.topo.<node>          topology/reachability node pub, realm sub
 *   veil.<realm>.path.<dst>.<src>     path signalling       src pub, dst sub
 *   veil.<realm>.cmd.<node>           commands to one node  Guardian pub, node sub
 *   veil.<realm>.reply.<node>         replies to commands   node pub, Guardian sub
 *   veil.<realm>.renew.<node>         credential renewal    node pub (request)
 *   veil.<realm>.inbox.<node>.>       the node's reply inbox (libnats custom
 *                                     inbox prefix veil.<realm>.inbox.<node>)
 *   veil.enroll.req                   enrollment requests   (enroll account)
 *   veil.enroll.reply.<id>            enrollment answers, one id per attempt
 *
 * Names (realms, nodes) are 1..VEIL_GUARDIAN_NAME_MAX characters from
 * [A-Za-z0-9_-], so they are always one subject token.
 */
#define VEIL_SUBJ_ROOT                "veil"
#define VEIL_SUBJ_ENROLL_REQ          "veil.enroll.req"
#define VEIL_SUBJ_ENROLL_REPLY_PREFIX "veil.enroll.reply"
#define VEIL_GUARDIAN_NAME_MAX        63
#define VEIL_SUBJECT_MAX              256

enum veil_subj_kind {
    VEIL_SUBJ_LIVE,
    VEIL_SUBJ_HEALTH,
    VEIL_SUBJ_TOPO,
    VEIL_SUBJ_PATH, /* needs a second node: veil.<realm>.path.<node>.<peer> */
    VEIL_SUBJ_CMD,
    VEIL_SUBJ_REPLY,
    VEIL_SUBJ_RENEW,
    VEIL_SUBJ_INBOX,   /* the prefix, without ".>" */
    VEIL_SUBJ_REVOKED, /* Guardian: veil.<realm>.revoked.<revoked node> */
};

/* True if `name` is a valid realm/node name (one subject token). */
bool veil_guardian_name_valid(const char *name);
/* Builds one subject. node may be "*" (a subscription over the realm);
 * peer is used only for VEIL_SUBJ_PATH (dst = node, src = peer). */
int veil_subject(char out[VEIL_SUBJECT_MAX], enum veil_subj_kind kind, const char *realm,
                 const char *node, const char *peer, veil_err *err) VEIL_WARN_UNUSED;
/* Subject-pattern match with NATS wildcards ('*' one token, '>' the rest). */
bool veil_subject_matches(const char *pattern, const char *subject);

/* The permissions of a node's user JWT: publish only its own subjects,
 * subscribe only to what is addressed to it and to the realm's shared
 * summaries; everything else denied. Fills the four lists of `user`. */
int veil_guardian_node_permissions(veil_jwt *user, const char *realm, const char *node,
                                   veil_err *err) VEIL_WARN_UNUSED;
/* Guardian's own service user inside a realm: everything in the realm. */
int veil_guardian_service_permissions(veil_jwt *user, veil_err *err) VEIL_WARN_UNUSED;
/* An enrollee's credential: publish veil.enroll.req, subscribe only
 * veil.enroll.reply.<id>. */
int veil_guardian_enroll_permissions(veil_jwt *user, const char *reply_id,
                                     veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* X.509 CA                                                                 */
/* ------------------------------------------------------------------------ */
/*
 * Files under <dir>/ca/: root.crt, intermediate.crt, intermediate.key (0600),
 * chain.pem (intermediate then root: what TLS peers send), and
 * <dir>/offline/root.key (0600: the root's key, to be moved off the host;
 * only `veil guardian init` and re-issuing the intermediate need it).
 * Keys are ECDSA P-256 (what nats-server, libnats and Go accept everywhere).
 */
typedef struct veil_ca veil_ca; /* opaque: the intermediate key + certs */

int veil_ca_create(const char *dir, const char *name, int64_t root_days, int64_t inter_days,
                   veil_err *err) VEIL_WARN_UNUSED;
int veil_ca_open(veil_ca **out, const char *dir, veil_err *err) VEIL_WARN_UNUSED;
void veil_ca_free(veil_ca *ca);
/* intermediate ‖ root, PEM (borrowed; what a TLS peer trusts/sends). */
const char *veil_ca_chain(const veil_ca *ca);

struct veil_ca_leaf_req {
    const char *common_name;
    /* data-plane identity: SAN URI veil://<realm>/<node_id> when both set */
    const char *realm;
    const char *node_id;
    /* further SAN URIs (data plane: veil-taint:<t>, veil-pool:<cidr>);
     * printable ASCII without ',' or spaces */
    const char *const *uris;
    size_t n_uris;
    /* server certificates (Master): DNS names and IP addresses; a node's
     * data-plane leaf carries its overlay IPv4 address here */
    const char *const *dns;
    size_t n_dns;
    const char *const *ips;
    size_t n_ips;
    bool server_auth; /* extendedKeyUsage serverAuth */
    bool client_auth; /* extendedKeyUsage clientAuth */
    int64_t ttl_s;    /* validity from now (backdated 60 s for clock skew) */
    /* The subject's own public key as PEM (SubjectPublicKeyInfo), e.g. an
     * Ed25519 node identity; NULL = generate a P-256 key and return it. */
    const char *public_key_pem;
};

struct veil_ca_leaf {
    char *cert_pem;  /* the leaf */
    char *chain_pem; /* leaf + intermediate (what the holder presents) */
    char *key_pem;   /* only when the CA generated the key (secret) */
    uint64_t serial;
    int64_t not_after;
};

int veil_ca_issue(veil_ca *ca, const struct veil_ca_leaf_req *req, struct veil_ca_leaf *out,
                  veil_err *err) VEIL_WARN_UNUSED;
void veil_ca_leaf_free(struct veil_ca_leaf *leaf); /* wipes key_pem */
/* Verifies `leaf_pem` (+ intermediates in chain_pem, may be NULL) against
 * the root in root_pem at `now`, and extracts realm and node id from the
 * veil:// SAN URI. */
int veil_ca_verify_leaf(const char *root_pem, const char *chain_pem, const char *leaf_pem,
                        int64_t now, char realm[VEIL_GUARDIAN_NAME_MAX + 1], char node_id[128],
                        veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* The Guardian directory and its state                                     */
/* ------------------------------------------------------------------------ */
/*
 * Layout of DIR (0700):
 *   guardian.db              SQLite: realms, tokens, nodes, serials, audit
 *   keys/operator.nk         operator seed (0600)
 *   keys/command.nk          'N' key signing admin commands to nodes
 *   keys/acct-<name>.nk, keys/acct-<name>.signing.nk  one pair per account:
 *                            SYS, enroll, and every realm
 *   jwt/operator.jwt, jwt/<account pub>.jwt  current signed JWTs (public)
 *   ca/..., offline/root.key  see the CA above
 */
/* A handle is used by one thread at a time (callers that share it lock);
 * several processes may open the same DIR at once (SQLite WAL, busy wait),
 * e.g. the daemon and `veil guardian revoke`. */
typedef struct veil_guardian veil_guardian; /* opaque: DIR, db, keys */

#define VEIL_GUARDIAN_DEFAULT_TTL_S (15 * 60)
/* Master carries control traffic only: a node's messages are capped at
 * 64 KiB by the servers themselves (the user JWT's payload limit). */
#define VEIL_GUARDIAN_DEFAULT_MAX_PAYLOAD (64 * 1024)
#define VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT   (64 * 1024 * 1024)
#define VEIL_GUARDIAN_ENROLL_ACCOUNT      "enroll" /* reserved realm-like name */

struct veil_guardian_init_opts {
    const char *operator_name; /* default "veil" */
    int64_t root_days;         /* default 3650 */
    int64_t inter_days;        /* default 365 */
};

/* Creates DIR (refusing a directory that already holds a Guardian). */
int veil_guardian_init(const char *dir, const struct veil_guardian_init_opts *opts,
                       veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_open(veil_guardian **out, const char *dir, veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_close(veil_guardian *g);
const char *veil_guardian_dir(const veil_guardian *g);

/* Public artefacts (borrowed strings, valid until close). */
const char *veil_guardian_operator_jwt(const veil_guardian *g);
const char *veil_guardian_system_account(const veil_guardian *g); /* "A..." */
const char *veil_guardian_command_public(const veil_guardian *g); /* "N..." */
/* The key Guardian signs admin commands with (borrowed, secret). */
const veil_nkey *veil_guardian_command_key(const veil_guardian *g);
/* Creds for Guardian's own system-account user (to push account updates);
 * malloc'd creds text, secret. */
int veil_guardian_system_creds(veil_guardian *g, int64_t ttl_s, char **creds,
                               veil_err *err) VEIL_WARN_UNUSED;
veil_ca *veil_guardian_ca(veil_guardian *g);

/* Realms */
struct veil_guardian_realm {
    char name[VEIL_GUARDIAN_NAME_MAX + 1];
    char account[VEIL_NKEY_PUBLIC_LEN + 1];     /* "A..." */
    char signing_key[VEIL_NKEY_PUBLIC_LEN + 1]; /* "A..." signing key */
    uint64_t chain_cluster;                     /* on-chain cluster bound to it, 0 = none */
    int64_t created;
};

int veil_guardian_realm_create(veil_guardian *g, const char *name, struct veil_guardian_realm *out,
                               veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_realm_get(veil_guardian *g, const char *name, struct veil_guardian_realm *out,
                            veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_realm_list(veil_guardian *g, struct veil_guardian_realm **out, size_t *n,
                             veil_err *err) VEIL_WARN_UNUSED;
/* Binds an on-chain cluster id to a realm (one realm per cluster). */
int veil_guardian_realm_bind_cluster(veil_guardian *g, const char *name, uint64_t cluster_id,
                                     veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_realm_for_cluster(veil_guardian *g, uint64_t cluster_id,
                                    struct veil_guardian_realm *out,
                                    veil_err *err) VEIL_WARN_UNUSED;
/* The realm account's current signed JWT (malloc'd). Also for the enroll
 * account (name VEIL_GUARDIAN_ENROLL_ACCOUNT) and "$SYS". */
int veil_guardian_account_jwt(veil_guardian *g, const char *name, char **jwt,
                              veil_err *err) VEIL_WARN_UNUSED;
/* Every account JWT (system, enroll, realms) for resolver preloading:
 * parallel arrays of account public keys and JWTs, free with
 * veil_guardian_accounts_free. */
int veil_guardian_accounts(veil_guardian *g, char ***pubs, char ***jwts, size_t *n,
                           veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_accounts_free(char **pubs, char **jwts, size_t n);

/* Overlay addresses. Each realm has an IPv4 pool (VEIL_GUARDIAN_DEFAULT_POOL
 * unless set, prefix /8../30); a node's address is allocated from it once
 * (the lowest free host address), recorded, and stays the node's across
 * renewals; a revoked node's address is never handed to another node.
 * Guardian's data-plane leaves carry it as an IP SAN and the pool as the SAN
 * URI veil-pool:<cidr>. */
#define VEIL_GUARDIAN_DEFAULT_POOL "10.77.0.0/16"
#define VEIL_GUARDIAN_POOL_URI     "veil-pool:"
#define VEIL_GUARDIAN_CIDR_MAX     20 /* "255.255.255.255/32" + NUL */
/* Sets the realm's pool; refused once an address was allocated from
 * another pool. */
int veil_guardian_realm_set_pool(veil_guardian *g, const char *realm, const char *cidr,
                                 veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_realm_pool(veil_guardian *g, const char *realm, char out[VEIL_GUARDIAN_CIDR_MAX],
                             veil_err *err) VEIL_WARN_UNUSED;
/* The node's address (allocated when it has none; VEIL_E_LIMIT when the
 * pool is full). */
int veil_guardian_node_address(veil_guardian *g, const char *realm, const char *node, char out[16],
                               veil_err *err) VEIL_WARN_UNUSED;
/* "a.b.c.d/n" -> network address (host order, host bits cleared) and n. */
int veil_guardian_cidr_parse(const char *cidr, uint32_t *net, unsigned *prefix,
                             veil_err *err) VEIL_WARN_UNUSED;

/* One-time enrollment tokens: "vgt1.<id>.<secret>" (base32); only a hash of
 * the secret is stored. */
#define VEIL_GUARDIAN_TOKEN_MAX 96
struct veil_guardian_token_info {
    char id[32];
    char realm[VEIL_GUARDIAN_NAME_MAX + 1];
    veil_strlist taints;
    int64_t expires;
};

int veil_guardian_token_create(veil_guardian *g, const char *realm, const veil_strlist *taints,
                               int64_t ttl_s, char token[VEIL_GUARDIAN_TOKEN_MAX],
                               veil_err *err) VEIL_WARN_UNUSED;
/* Checks and consumes a token (constant-time secret check; unknown, used and
 * expired tokens all fail with VEIL_E_PERMISSION). */
int veil_guardian_token_redeem(veil_guardian *g, const char *token, int64_t now,
                               struct veil_guardian_token_info *out,
                               veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_token_info_free(struct veil_guardian_token_info *t);

/* Enrolled nodes */
struct veil_guardian_node {
    char name[VEIL_GUARDIAN_NAME_MAX + 1];
    char realm[VEIL_GUARDIAN_NAME_MAX + 1];
    char identity[128]; /* node identity key (e.g. Ed25519 public hex / peer id) */
    char user_key[VEIL_NKEY_PUBLIC_LEN + 1]; /* the node's NATS user key "U..." */
    veil_strlist taints;
    int64_t enrolled;
    bool revoked;
};

/* Records a node (a name is fixed to its realm for life). */
int veil_guardian_node_add(veil_guardian *g, const struct veil_guardian_node *n,
                           veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_node_get(veil_guardian *g, const char *name, struct veil_guardian_node *out,
                           veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_node_set_taints(veil_guardian *g, const char *name, const veil_strlist *taints,
                                  veil_err *err) VEIL_WARN_UNUSED;
int veil_guardian_node_set_user_key(veil_guardian *g, const char *name, const char *user_key,
                                    veil_err *err) VEIL_WARN_UNUSED;
/* realm NULL = all. */
int veil_guardian_node_list(veil_guardian *g, const char *realm, struct veil_guardian_node **out,
                            size_t *n, veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_node_free(struct veil_guardian_node *n);
void veil_guardian_node_list_free(struct veil_guardian_node *list, size_t n);

/* Credential issuance: a user JWT with the node's permissions (realm signing
 * key as issuer, issuer_account = realm account, tags taint:<t>), recorded as
 * a serial. user_key NULL = Guardian generates the user nkey and returns its
 * seed in out->user (offline issuance); otherwise out->user is public only. */
struct veil_guardian_issue_req {
    const char *realm;
    const char *name;
    const veil_strlist *taints; /* NULL = the node's recorded taints */
    int64_t ttl_s;              /* 0 = VEIL_GUARDIAN_DEFAULT_TTL_S */
    const char *user_key;       /* "U..." or NULL */
    const char *identity;       /* recorded for a new node; may be NULL */
    /* nats.limits.payload of the user JWT: the largest message the servers
     * accept from the node. 0 = VEIL_GUARDIAN_DEFAULT_MAX_PAYLOAD, -1 = no
     * limit, else 1 .. VEIL_GUARDIAN_MAX_PAYLOAD_LIMIT bytes. */
    int64_t max_payload;
};

struct veil_guardian_issued {
    char *jwt;
    veil_nkey user;
    uint64_t serial;
    int64_t expires;
};

int veil_guardian_issue(veil_guardian *g, const struct veil_guardian_issue_req *req,
                        struct veil_guardian_issued *out, veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_issued_free(struct veil_guardian_issued *out);
/* A JWT for a user with explicit permissions (Guardian's service user, an
 * enrollee): `perms` supplies the four lists and limits; signed by the
 * realm's (or enroll account's) signing key. */
int veil_guardian_issue_custom(veil_guardian *g, const char *account_name, const char *user_name,
                               const veil_jwt *perms, int64_t ttl_s,
                               struct veil_guardian_issued *out, veil_err *err) VEIL_WARN_UNUSED;
/* A data-plane certificate: SAN veil://<realm>/<node>, recorded as a serial. */
int veil_guardian_issue_cert(veil_guardian *g, const char *realm, const char *node,
                             const char *public_key_pem, int64_t ttl_s, struct veil_ca_leaf *out,
                             veil_err *err) VEIL_WARN_UNUSED;

/* Revocation: marks the node revoked, adds every user key it was issued to
 * its realm account's revocations, re-signs and stores the account JWT and
 * returns it (malloc'd) with the account key, for veil_guardian_push. */
int veil_guardian_revoke(veil_guardian *g, const char *name, char **account_jwt,
                         char account[VEIL_NKEY_PUBLIC_LEN + 1], veil_err *err) VEIL_WARN_UNUSED;
bool veil_guardian_serial_revoked(veil_guardian *g, uint64_t serial);
/* Revoked nodes of `realm` that still hold a data-plane certificate valid
 * at `now` (seconds): the ones its members must be told to refuse (the
 * daemon announces them on veil.<realm>.revoked.<node>). Free the list with
 * veil_guardian_node_list_free. */
int veil_guardian_revoked_live(veil_guardian *g, const char *realm, int64_t now,
                               struct veil_guardian_node **out, size_t *n,
                               veil_err *err) VEIL_WARN_UNUSED;

/* Audit log (append only). detail must not hold secrets. */
int veil_guardian_audit(veil_guardian *g, const char *actor, const char *action, const char *detail,
                        veil_err *err) VEIL_WARN_UNUSED;
struct veil_guardian_audit_entry {
    int64_t id;
    int64_t at_ms;
    char *actor, *action, *detail;
};
/* Entries with id > after_id, oldest first, at most max (0 = all). */
int veil_guardian_audit_list(veil_guardian *g, int64_t after_id, size_t max,
                             struct veil_guardian_audit_entry **out, size_t *n,
                             veil_err *err) VEIL_WARN_UNUSED;
void veil_guardian_audit_list_free(struct veil_guardian_audit_entry *list, size_t n);

/* Pushes an account JWT to the servers' resolver on
 * $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE with the system user's creds (libnats;
 * waits for a server's reply). urls: comma-separated nats:// / tls:// list;
 * ca_file: the root certificate to trust (NULL = no TLS). */
int veil_guardian_push(veil_guardian *g, const char *urls, const char *ca_file, const char *account,
                       const char *account_jwt, veil_err *err) VEIL_WARN_UNUSED;

/* ------------------------------------------------------------------------ */
/* Master: nats-server super-cluster configuration                          */
/* ------------------------------------------------------------------------ */
/*
 * Server s (0-based) of cluster c (0-based), global index i = c*servers + s,
 * listens on base_port + 10*i (client), +1 (route), +2 (gateway),
 * +3 (HTTP monitoring, 127.0.0.1 only). Clusters are named "c<c>", servers
 * "c<c>-s<s>". CONFDIR gets c<c>-s<s>.conf, operator.jwt, the TLS files under
 * tls/ (ca.pem = intermediate + root), the resolver directories under
 * jwt/c<c>-s<s>/, and servers.txt (the client URLs, comma-separated; also
 * copied to GUARDIAN_DIR/master.servers, where `revoke` finds them).
 */
struct veil_master_opts {
    int clusters;     /* >= 1 */
    int servers;      /* per cluster, >= 1 */
    int base_port;    /* default 14222 */
    const char *host; /* address every listener binds and advertises; default 127.0.0.1 */
    /* or one address per server (clusters * servers, in c0-s0, c0-s1, ...
     * order) for real hosts; IPv6 addresses are not supported here */
    const char *const *hosts;
    int64_t cert_ttl_s; /* server certificates; default 30 days */
    bool client_verify; /* require client certificates from Guardian's CA */
};

int veil_master_config(veil_guardian *g, const struct veil_master_opts *opts, const char *confdir,
                       veil_err *err) VEIL_WARN_UNUSED;
int veil_master_client_port(const struct veil_master_opts *opts, int cluster, int server);

#ifdef __cplusplus
}
#endif

#endif /* VEIL_GUARDIAN_H */
