// SPDX-License-Identifier: Apache-2.0
/*
 * veil/guardian_serve.h - the Guardian daemon, its admin client, and the
 * control wire protocol they speak with Conflux agents through Master.
 *
 * `veil guardian serve -d DIR --nats URL...` connects to Master with
 * Guardian's own service credentials, answers enrollment and renewal, and
 * logs every request and answer to the audit log. `veil guardian cmd -d DIR
 * NODE VERB [ARG]` signs one admin command and waits for the node's answer.
 * Both entry points take the arguments after the subcommand word (argv[0] is
 * the subcommand) and return a CLI exit status (0 ok, 1 failure, 2 usage).
 *
 * The wire protocol (all messages binary, strict: a message must be exactly
 * one well-formed value, every length is capped, trailing bytes refused):
 *
 *   enrollment   HELLO(node key) -> CHALLENGE(nonce, node key, time, MAC)
 *                PROVE(challenge, method, proof, node signature) -> RESULT
 *                CHALLENGE is stateless: Guardian MACs it with a per-process
 *                key and accepts it for VEIL_CTL_CHALLENGE_TTL_MS. The node
 *                signs "veil-enroll-v1" || challenge || method || proof with
 *                its Ed25519 identity key, so the proof of possession is bound
 *                to this Guardian's nonce, the node's key and the time.
 *   commands     CMD(verb, node id, time, nonce, arg, flags, Guardian sig)
 *                -> REPLY(nonce, status, body, node sig). The agent checks the
 *                signature against the pinned Guardian command key, the node
 *                id against its own, the time against a window and the nonce
 *                against its replay cache (veil_ctl_replay).
 * The codec functions below are pure (no I/O, no clock): fuzzed under
 * fuzz/conflux/.
 */
#ifndef VEIL_GUARDIAN_SERVE_H
#define VEIL_GUARDIAN_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

#ifdef __cplusplus
extern "C" {
#endif

int veil_guardian_serve_main(int argc, char **argv);
int veil_guardian_admin_main(int argc, char **argv);

/* ------------------------------------------------------------------------ */
/* Control wire protocol                                                    */
/* ------------------------------------------------------------------------ */

enum {
    VEIL_CTL_VERSION = 1,
    VEIL_CTL_NONCE_LEN = 32,     /* enrollment challenge nonce */
    VEIL_CTL_CMD_NONCE_LEN = 16, /* command nonce */
    VEIL_CTL_MAX_STR = 255,      /* node ids, realms, taints, tokens */
    VEIL_CTL_MAX_BLOB = 16384,   /* JWTs, PEM certificates, reply bodies */
    VEIL_CTL_MAX_MSG = 65536,
};

#define VEIL_CTL_CHALLENGE_TTL_MS 60000
#define VEIL_CTL_CMD_WINDOW_MS    60000

enum veil_ctl_type {
    VEIL_CTL_HELLO = 1,
    VEIL_CTL_CHALLENGE = 2,
    VEIL_CTL_PROVE = 3,
    VEIL_CTL_RESULT = 4,
    VEIL_CTL_CMD = 16,
    VEIL_CTL_REPLY = 17,
};

enum veil_ctl_method {
    VEIL_CTL_BY_TOKEN = 1, /* a one-time enrollment token */
    VEIL_CTL_BY_CHAIN = 2, /* active registration in a VeilRegistry cluster */
    VEIL_CTL_RENEW = 3,    /* an enrolled, unrevoked node renews */
};

enum veil_ctl_verb {
    VEIL_CTL_QUERY = 1,
    VEIL_CTL_TAINT_ADD = 2,
    VEIL_CTL_TAINT_REMOVE = 3,
    VEIL_CTL_INVALIDATE_KEYS = 4,
    VEIL_CTL_SHUTDOWN = 5,
    /* not a command to the node: Guardian's realm-wide notice that the node
     * named in the CMD (identity hex in its argument) was revoked, on
     * veil.<realm>.revoked.<node> (veil_ctl_revoked_check) */
    VEIL_CTL_PEER_REVOKED = 6,
};
#define VEIL_CTL_FLAG_HARD 0x01u /* shutdown --hard: Guardian also revokes */

/* Text name of a verb ("query", "taint-add", ...) and back. */
const char *veil_ctl_verb_name(enum veil_ctl_verb v);
int veil_ctl_verb_parse(const char *text, enum veil_ctl_verb *out, veil_err *err) VEIL_WARN_UNUSED;

typedef struct veil_ctl_challenge {
    uint8_t nonce[VEIL_CTL_NONCE_LEN];
    uint8_t node_pub[32];
    uint64_t issued_ms;
    uint8_t mac[32];
} veil_ctl_challenge;

/* PROVE: the challenge echoed, how the node is admitted, and its signature. */
typedef struct veil_ctl_prove {
    veil_ctl_challenge challenge;
    char name[VEIL_CTL_MAX_STR + 1]; /* the node name it asks for */
    enum veil_ctl_method method;
    char token[VEIL_CTL_MAX_STR + 1]; /* BY_TOKEN */
    uint64_t cluster_id;              /* BY_CHAIN */
    uint8_t eth_address[20];          /* BY_CHAIN: the node's registry address */
    uint8_t sig[64];
} veil_ctl_prove;

/* RESULT: credentials on success, a message on refusal. Strings owned. */
typedef struct veil_ctl_result {
    bool ok;
    char *error; /* refusal reason */
    char *realm;
    char *node_id;
    char *taints; /* comma-separated */
    char *jwt;    /* NATS user JWT, subject = the node's user nkey */
    char *cert_pem;
    char *ca_pem;
    uint64_t expires_ms; /* earliest expiry of the JWT and the certificate */
    uint8_t cmd_pub[32]; /* Guardian's command key */
} veil_ctl_result;

typedef struct veil_ctl_cmd {
    enum veil_ctl_verb verb;
    uint8_t flags;
    char node_id[VEIL_CTL_MAX_STR + 1];
    char arg[VEIL_CTL_MAX_STR + 1];
    uint64_t issued_ms;
    uint8_t nonce[VEIL_CTL_CMD_NONCE_LEN];
    uint8_t sig[64];
} veil_ctl_cmd;

typedef struct veil_ctl_reply {
    uint8_t nonce[VEIL_CTL_CMD_NONCE_LEN];
    uint8_t status; /* 0 ok, 1 refused, 2 failed */
    char *body;     /* JSON text (owned) */
    uint8_t sig[64];
} veil_ctl_reply;

void veil_ctl_result_free(veil_ctl_result *r);
void veil_ctl_reply_free(veil_ctl_reply *r);

/* Encoders append one message to `out`. */
int veil_ctl_hello_encode(const uint8_t node_pub[32], veil_buf *out,
                          veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_challenge_encode(const veil_ctl_challenge *c, veil_buf *out,
                              veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_prove_encode(const veil_ctl_prove *p, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_result_encode(const veil_ctl_result *r, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_cmd_encode(const veil_ctl_cmd *c, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_reply_encode(const veil_ctl_reply *r, veil_buf *out, veil_err *err) VEIL_WARN_UNUSED;

/* Strict decoders: exactly one message of the type, nothing after it. */
int veil_ctl_hello_decode(const uint8_t *data, size_t len, uint8_t node_pub[32],
                          veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_challenge_decode(const uint8_t *data, size_t len, veil_ctl_challenge *out,
                              veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_prove_decode(const uint8_t *data, size_t len, veil_ctl_prove *out,
                          veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_result_decode(const uint8_t *data, size_t len, veil_ctl_result *out,
                           veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_cmd_decode(const uint8_t *data, size_t len, veil_ctl_cmd *out,
                        veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_reply_decode(const uint8_t *data, size_t len, veil_ctl_reply *out,
                          veil_err *err) VEIL_WARN_UNUSED;

/* Challenge MAC (keyed BLAKE2b-256 over everything but the MAC). */
void veil_ctl_challenge_mac(const veil_ctl_challenge *c, const uint8_t key[32], uint8_t mac[32]);
/* Checks the MAC, the node key and the age; fails with VEIL_E_CRYPTO or
 * VEIL_E_TIMEOUT. */
int veil_ctl_challenge_check(const veil_ctl_challenge *c, const uint8_t key[32],
                             const uint8_t node_pub[32], uint64_t now_ms,
                             veil_err *err) VEIL_WARN_UNUSED;

/* Ed25519 signatures. `sk` is libsodium's 64-byte secret key. */
int veil_ctl_prove_sign(veil_ctl_prove *p, const uint8_t sk[64], veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_prove_verify(const veil_ctl_prove *p, veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_cmd_sign(veil_ctl_cmd *c, const uint8_t sk[64], veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_cmd_verify(const veil_ctl_cmd *c, const uint8_t pub[32],
                        veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_reply_sign(veil_ctl_reply *r, const uint8_t sk[64], veil_err *err) VEIL_WARN_UNUSED;
int veil_ctl_reply_verify(const veil_ctl_reply *r, const uint8_t pub[32],
                          veil_err *err) VEIL_WARN_UNUSED;

/* A revocation notice (CMD with verb PEER_REVOKED) as a realm member
 * receives it on `subject`: signed by `guardian_pub`, naming the node the
 * subject names, issued within +-VEIL_CTL_CMD_WINDOW_MS of now; the revoked
 * identity (32 bytes, from the argument's hex) goes to identity. */
int veil_ctl_revoked_check(const veil_ctl_cmd *c, const char *subject,
                           const uint8_t guardian_pub[32], uint64_t now_ms, uint8_t identity[32],
                           veil_err *err) VEIL_WARN_UNUSED;

/* Replay protection for commands (caller-owned, fixed size): a command is
 * accepted once, only inside +-VEIL_CTL_CMD_WINDOW_MS of now. */
#define VEIL_CTL_REPLAY_SLOTS 512
typedef struct veil_ctl_replay {
    uint8_t nonce[VEIL_CTL_REPLAY_SLOTS][VEIL_CTL_CMD_NONCE_LEN];
    uint64_t issued_ms[VEIL_CTL_REPLAY_SLOTS];
    size_t used;
} veil_ctl_replay;

void veil_ctl_replay_init(veil_ctl_replay *r);
/* The full acceptance check of a decoded command: signature by `guardian_pub`,
 * addressed to `node_id`, fresh, not seen before (then remembered). Fails with
 * VEIL_E_CRYPTO (forged), VEIL_E_MISMATCH (another node), VEIL_E_TIMEOUT
 * (expired or from the future), VEIL_E_STATE (replayed) or VEIL_E_LIMIT. */
int veil_ctl_cmd_accept(veil_ctl_replay *r, const veil_ctl_cmd *c, const uint8_t guardian_pub[32],
                        const char *node_id, uint64_t now_ms, veil_err *err) VEIL_WARN_UNUSED;

#ifdef __cplusplus
}
#endif

#endif
