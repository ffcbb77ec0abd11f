// SPDX-License-Identifier: Apache-2.0
/*
 * serve_wire.c - the control wire protocol between Guardian and Conflux
 * agents (enrollment challenge/proof/result, signed admin commands and
 * replies) and the agent's replay check. Pure: no I/O, no clock.
 *
 * Layout of every message: u8 version, u8 type, then the fields in order.
 * Strings are u16be length + bytes (no NUL inside, at most VEIL_CTL_MAX_STR),
 * blobs u32be length + bytes (at most VEIL_CTL_MAX_BLOB); integers big-endian.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/guardian_serve.h>

static const char enroll_ctx[] = "veil-enroll-v1";
static const char cmd_ctx[] = "veil-cmd-v1";
static const char reply_ctx[] = "veil-reply-v1";

static const char *const verb_names[] = {
    [VEIL_CTL_QUERY] = "query",
    [VEIL_CTL_TAINT_ADD] = "taint-add",
    [VEIL_CTL_TAINT_REMOVE] = "taint-remove",
    [VEIL_CTL_INVALIDATE_KEYS] = "invalidate-keys",
    [VEIL_CTL_SHUTDOWN] = "shutdown",
    [VEIL_CTL_PEER_REVOKED] = "peer-revoked",
};

const char *veil_ctl_verb_name(enum veil_ctl_verb v)
{
    if ((size_t)v < VEIL_ARRAY_LEN(verb_names) && verb_names[v])
        return verb_names[v];
    return "unknown";
}

int veil_ctl_verb_parse(const char *text, enum veil_ctl_verb *out, veil_err *err)
{
    for (size_t i = 1; i < VEIL_CTL_PEER_REVOKED; i++) { /* notices are not commands */
        if (strcmp(text, verb_names[i]) == 0) {
            *out = (enum veil_ctl_verb)i;
            return 0;
        }
    }
    return veil_err_set(err, VEIL_E_INVALID,
                        "unknown command '%s' (query, taint-add, taint-remove, invalidate-keys, "
                        "shutdown)",
                        text);
}

/* ---- field helpers -------------------------------------------------------- */

static void put_header(veil_buf *out, enum veil_ctl_type type)
{
    veil_buf_put_u8(out, VEIL_CTL_VERSION);
    veil_buf_put_u8(out, (uint8_t)type);
}

static int put_str(veil_buf *out, const char *s, veil_err *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n > VEIL_CTL_MAX_STR)
        return veil_err_set(err, VEIL_E_RANGE, "string of %zu bytes (max %d)", n, VEIL_CTL_MAX_STR);
    veil_buf_put_u16be(out, (uint16_t)n);
    veil_buf_put(out, s, n);
    return 0;
}

static int put_blob(veil_buf *out, const char *s, veil_err *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n > VEIL_CTL_MAX_BLOB)
        return veil_err_set(err, VEIL_E_RANGE, "field of %zu bytes (max %d)", n, VEIL_CTL_MAX_BLOB);
    veil_buf_put_u32be(out, (uint32_t)n);
    veil_buf_put(out, s, n);
    return 0;
}

static int finish(veil_buf *out, veil_err *err)
{
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "control message: buffer failed");
    return 0;
}

/* Reads a length-prefixed string into a fixed array (cap includes the NUL). */
static int read_str_fixed(veil_reader *r, char *out, size_t cap, const char *what, veil_err *err)
{
    size_t n = veil_read_u16be(r);
    const uint8_t *p = veil_read_borrow(r, n);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "control message: %s truncated", what);
    if (n >= cap || n > VEIL_CTL_MAX_STR)
        return veil_err_set(err, VEIL_E_RANGE, "control message: %s too long (%zu)", what, n);
    if (memchr(p, 0, n))
        return veil_err_set(err, VEIL_E_PARSE, "control message: NUL in %s", what);
    memcpy(out, p, n);
    out[n] = 0;
    return 0;
}

static int read_text(veil_reader *r, bool wide, char **out, const char *what, veil_err *err)
{
    size_t n = wide ? veil_read_u32be(r) : veil_read_u16be(r);
    size_t max = wide ? VEIL_CTL_MAX_BLOB : VEIL_CTL_MAX_STR;
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "control message: %s truncated", what);
    if (n > max)
        return veil_err_set(err, VEIL_E_RANGE, "control message: %s too long (%zu)", what, n);
    const uint8_t *p = veil_read_borrow(r, n);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "control message: %s truncated", what);
    if (memchr(p, 0, n))
        return veil_err_set(err, VEIL_E_PARSE, "control message: NUL in %s", what);
    char *s = malloc(n + 1);
    if (!s)
        return veil_err_set(err, VEIL_E_NOMEM, "control message: out of memory");
    memcpy(s, p, n);
    s[n] = 0;
    *out = s;
    return 0;
}

static int read_header(veil_reader *r, const uint8_t *data, size_t len, enum veil_ctl_type want,
                       veil_err *err)
{
    if (len > VEIL_CTL_MAX_MSG)
        return veil_err_set(err, VEIL_E_RANGE, "control message of %zu bytes (max %d)", len,
                            VEIL_CTL_MAX_MSG);
    veil_reader_init(r, data, len);
    uint8_t version = veil_read_u8(r);
    uint8_t type = veil_read_u8(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "control message: truncated header");
    if (version != VEIL_CTL_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "control message: version %u (want %d)",
                            version, VEIL_CTL_VERSION);
    if (type != want)
        return veil_err_set(err, VEIL_E_PROTOCOL, "control message: type %u (want %d)", type,
                            (int)want);
    return 0;
}

static int read_end(veil_reader *r, const char *what, veil_err *err)
{
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "%s: truncated", what);
    if (!veil_reader_at_end(r))
        return veil_err_set(err, VEIL_E_PARSE, "%s: %zu trailing bytes", what,
                            veil_reader_remaining(r));
    return 0;
}

/* ---- enrollment ----------------------------------------------------------- */

int veil_ctl_hello_encode(const uint8_t node_pub[32], veil_buf *out, veil_err *err)
{
    put_header(out, VEIL_CTL_HELLO);
    veil_buf_put(out, node_pub, 32);
    return finish(out, err);
}

int veil_ctl_hello_decode(const uint8_t *data, size_t len, uint8_t node_pub[32], veil_err *err)
{
    veil_reader r;
    if (read_header(&r, data, len, VEIL_CTL_HELLO, err) != 0)
        return -1;
    veil_read_bytes(&r, node_pub, 32);
    return read_end(&r, "hello", err);
}

static void put_challenge_body(veil_buf *out, const veil_ctl_challenge *c)
{
    veil_buf_put(out, c->nonce, sizeof c->nonce);
    veil_buf_put(out, c->node_pub, sizeof c->node_pub);
    veil_buf_put_u64be(out, c->issued_ms);
}

static void read_challenge_body(veil_reader *r, veil_ctl_challenge *c)
{
    veil_read_bytes(r, c->nonce, sizeof c->nonce);
    veil_read_bytes(r, c->node_pub, sizeof c->node_pub);
    c->issued_ms = veil_read_u64be(r);
    veil_read_bytes(r, c->mac, sizeof c->mac);
}

int veil_ctl_challenge_encode(const veil_ctl_challenge *c, veil_buf *out, veil_err *err)
{
    put_header(out, VEIL_CTL_CHALLENGE);
    put_challenge_body(out, c);
    veil_buf_put(out, c->mac, sizeof c->mac);
    return finish(out, err);
}

int veil_ctl_challenge_decode(const uint8_t *data, size_t len, veil_ctl_challenge *out,
                              veil_err *err)
{
    veil_reader r;
    memset(out, 0, sizeof *out);
    if (read_header(&r, data, len, VEIL_CTL_CHALLENGE, err) != 0)
        return -1;
    read_challenge_body(&r, out);
    return read_end(&r, "challenge", err);
}

void veil_ctl_challenge_mac(const veil_ctl_challenge *c, const uint8_t key[32], uint8_t mac[32])
{
    uint8_t body[VEIL_CTL_NONCE_LEN + 32 + 8];
    memcpy(body, c->nonce, VEIL_CTL_NONCE_LEN);
    memcpy(body + VEIL_CTL_NONCE_LEN, c->node_pub, 32);
    for (int i = 0; i < 8; i++)
        body[VEIL_CTL_NONCE_LEN + 32 + i] = (uint8_t)(c->issued_ms >> (56 - 8 * i));
    crypto_generichash(mac, 32, body, sizeof body, key, 32);
}

int veil_ctl_challenge_check(const veil_ctl_challenge *c, const uint8_t key[32],
                             const uint8_t node_pub[32], uint64_t now_ms, veil_err *err)
{
    uint8_t mac[32];
    veil_ctl_challenge_mac(c, key, mac);
    if (!veil_memeq_ct(mac, c->mac, 32))
        return veil_err_set(err, VEIL_E_CRYPTO, "challenge was not issued by this Guardian");
    if (!veil_memeq_ct(c->node_pub, node_pub, 32))
        return veil_err_set(err, VEIL_E_MISMATCH, "challenge was issued for another node key");
    if (c->issued_ms > now_ms + 5000 || now_ms - c->issued_ms > VEIL_CTL_CHALLENGE_TTL_MS)
        return veil_err_set(err, VEIL_E_TIMEOUT, "challenge expired");
    return 0;
}

/* The bytes a node signs: context, the whole challenge, the method and proof. */
static int prove_signed_bytes(const veil_ctl_prove *p, veil_buf *out, veil_err *err)
{
    veil_buf_put(out, enroll_ctx, sizeof enroll_ctx);
    put_challenge_body(out, &p->challenge);
    veil_buf_put(out, p->challenge.mac, 32);
    if (put_str(out, p->name, err) != 0)
        return -1;
    veil_buf_put_u8(out, (uint8_t)p->method);
    switch (p->method) {
    case VEIL_CTL_BY_TOKEN:
        if (put_str(out, p->token, err) != 0)
            return -1;
        break;
    case VEIL_CTL_BY_CHAIN:
        veil_buf_put_u64be(out, p->cluster_id);
        veil_buf_put(out, p->eth_address, 20);
        break;
    case VEIL_CTL_RENEW:
        break;
    default:
        return veil_err_set(err, VEIL_E_INVALID, "unknown enrollment method %d", (int)p->method);
    }
    return finish(out, err);
}

int veil_ctl_prove_encode(const veil_ctl_prove *p, veil_buf *out, veil_err *err)
{
    veil_buf body;
    veil_buf_init(&body);
    int rc = prove_signed_bytes(p, &body, err);
    if (rc == 0) {
        put_header(out, VEIL_CTL_PROVE);
        veil_buf_put(out, body.data + sizeof enroll_ctx, body.len - sizeof enroll_ctx);
        veil_buf_put(out, p->sig, 64);
        rc = finish(out, err);
    }
    veil_buf_free(&body);
    return rc;
}

int veil_ctl_prove_decode(const uint8_t *data, size_t len, veil_ctl_prove *out, veil_err *err)
{
    veil_reader r;
    memset(out, 0, sizeof *out);
    if (read_header(&r, data, len, VEIL_CTL_PROVE, err) != 0)
        return -1;
    read_challenge_body(&r, &out->challenge);
    if (read_str_fixed(&r, out->name, sizeof out->name, "name", err) != 0)
        return -1;
    out->method = (enum veil_ctl_method)veil_read_u8(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "prove: truncated");
    switch (out->method) {
    case VEIL_CTL_BY_TOKEN:
        if (read_str_fixed(&r, out->token, sizeof out->token, "token", err) != 0)
            return -1;
        break;
    case VEIL_CTL_BY_CHAIN:
        out->cluster_id = veil_read_u64be(&r);
        veil_read_bytes(&r, out->eth_address, 20);
        break;
    case VEIL_CTL_RENEW:
        break;
    default:
        return veil_err_set(err, VEIL_E_PARSE, "prove: unknown method %d", (int)out->method);
    }
    veil_read_bytes(&r, out->sig, 64);
    return read_end(&r, "prove", err);
}

int veil_ctl_prove_sign(veil_ctl_prove *p, const uint8_t sk[64], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = prove_signed_bytes(p, &b, err);
    if (rc == 0)
        crypto_sign_detached(p->sig, NULL, b.data, b.len, sk);
    veil_buf_free(&b);
    return rc;
}

int veil_ctl_prove_verify(const veil_ctl_prove *p, veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = prove_signed_bytes(p, &b, err);
    if (rc == 0 && crypto_sign_verify_detached(p->sig, b.data, b.len, p->challenge.node_pub) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "proof of possession: bad signature");
    veil_buf_free(&b);
    return rc;
}

void veil_ctl_result_free(veil_ctl_result *r)
{
    free(r->error);
    free(r->realm);
    free(r->node_id);
    free(r->taints);
    free(r->jwt);
    free(r->cert_pem);
    free(r->ca_pem);
    memset(r, 0, sizeof *r);
}

int veil_ctl_result_encode(const veil_ctl_result *r, veil_buf *out, veil_err *err)
{
    put_header(out, VEIL_CTL_RESULT);
    veil_buf_put_u8(out, r->ok ? 0 : 1);
    if (!r->ok)
        return put_str(out, r->error ? r->error : "refused", err) == 0 ? finish(out, err) : -1;
    if (put_str(out, r->realm, err) != 0 || put_str(out, r->node_id, err) != 0 ||
        put_str(out, r->taints, err) != 0 || put_blob(out, r->jwt, err) != 0 ||
        put_blob(out, r->cert_pem, err) != 0 || put_blob(out, r->ca_pem, err) != 0)
        return -1;
    veil_buf_put_u64be(out, r->expires_ms);
    veil_buf_put(out, r->cmd_pub, 32);
    return finish(out, err);
}

static int result_decode_ok(veil_reader *r, veil_ctl_result *out, veil_err *err)
{
    if (read_text(r, false, &out->realm, "realm", err) != 0 ||
        read_text(r, false, &out->node_id, "node id", err) != 0 ||
        read_text(r, false, &out->taints, "taints", err) != 0 ||
        read_text(r, true, &out->jwt, "jwt", err) != 0 ||
        read_text(r, true, &out->cert_pem, "certificate", err) != 0 ||
        read_text(r, true, &out->ca_pem, "ca", err) != 0)
        return -1;
    out->expires_ms = veil_read_u64be(r);
    veil_read_bytes(r, out->cmd_pub, 32);
    return 0;
}

int veil_ctl_result_decode(const uint8_t *data, size_t len, veil_ctl_result *out, veil_err *err)
{
    veil_reader r;
    memset(out, 0, sizeof *out);
    if (read_header(&r, data, len, VEIL_CTL_RESULT, err) != 0)
        return -1;
    uint8_t status = veil_read_u8(&r);
    int rc;
    if (status == 0) {
        out->ok = true;
        rc = result_decode_ok(&r, out, err);
    } else if (status == 1) {
        rc = read_text(&r, false, &out->error, "error", err);
    } else {
        rc = veil_err_set(err, VEIL_E_PARSE, "result: bad status %u", status);
    }
    if (rc == 0)
        rc = read_end(&r, "result", err);
    if (rc != 0)
        veil_ctl_result_free(out);
    return rc;
}

/* ---- commands ------------------------------------------------------------- */

static int cmd_body(const veil_ctl_cmd *c, veil_buf *out, veil_err *err)
{
    veil_buf_put_u8(out, (uint8_t)c->verb);
    veil_buf_put_u8(out, c->flags);
    if (put_str(out, c->node_id, err) != 0 || put_str(out, c->arg, err) != 0)
        return -1;
    veil_buf_put_u64be(out, c->issued_ms);
    veil_buf_put(out, c->nonce, sizeof c->nonce);
    return finish(out, err);
}

int veil_ctl_cmd_encode(const veil_ctl_cmd *c, veil_buf *out, veil_err *err)
{
    put_header(out, VEIL_CTL_CMD);
    if (cmd_body(c, out, err) != 0)
        return -1;
    veil_buf_put(out, c->sig, 64);
    return finish(out, err);
}

int veil_ctl_cmd_decode(const uint8_t *data, size_t len, veil_ctl_cmd *out, veil_err *err)
{
    veil_reader r;
    memset(out, 0, sizeof *out);
    if (read_header(&r, data, len, VEIL_CTL_CMD, err) != 0)
        return -1;
    uint8_t verb = veil_read_u8(&r);
    out->flags = veil_read_u8(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "command: truncated");
    if (verb < VEIL_CTL_QUERY || verb > VEIL_CTL_PEER_REVOKED)
        return veil_err_set(err, VEIL_E_PARSE, "command: unknown verb %u", verb);
    if (out->flags & ~VEIL_CTL_FLAG_HARD)
        return veil_err_set(err, VEIL_E_PARSE, "command: unknown flags 0x%02x", out->flags);
    out->verb = (enum veil_ctl_verb)verb;
    if (read_str_fixed(&r, out->node_id, sizeof out->node_id, "node id", err) != 0 ||
        read_str_fixed(&r, out->arg, sizeof out->arg, "argument", err) != 0)
        return -1;
    out->issued_ms = veil_read_u64be(&r);
    veil_read_bytes(&r, out->nonce, sizeof out->nonce);
    veil_read_bytes(&r, out->sig, 64);
    return read_end(&r, "command", err);
}

static int sign_with_ctx(const char *ctx, size_t ctx_len, const veil_buf *body, uint8_t sig[64],
                         const uint8_t sk[64])
{
    crypto_sign_state st;
    crypto_sign_init(&st);
    crypto_sign_update(&st, (const uint8_t *)ctx, ctx_len);
    crypto_sign_update(&st, body->data, body->len);
    return crypto_sign_final_create(&st, sig, NULL, sk);
}

static int verify_with_ctx(const char *ctx, size_t ctx_len, const veil_buf *body,
                           const uint8_t sig[64], const uint8_t pub[32])
{
    crypto_sign_state st;
    crypto_sign_init(&st);
    crypto_sign_update(&st, (const uint8_t *)ctx, ctx_len);
    crypto_sign_update(&st, body->data, body->len);
    return crypto_sign_final_verify(&st, sig, pub);
}

int veil_ctl_cmd_sign(veil_ctl_cmd *c, const uint8_t sk[64], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = cmd_body(c, &b, err);
    if (rc == 0 && sign_with_ctx(cmd_ctx, sizeof cmd_ctx, &b, c->sig, sk) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "command: signing failed");
    veil_buf_free(&b);
    return rc;
}

int veil_ctl_cmd_verify(const veil_ctl_cmd *c, const uint8_t pub[32], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = cmd_body(c, &b, err);
    if (rc == 0 && verify_with_ctx(cmd_ctx, sizeof cmd_ctx, &b, c->sig, pub) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "command: bad Guardian signature");
    veil_buf_free(&b);
    return rc;
}

static int reply_body(const veil_ctl_reply *r, veil_buf *out, veil_err *err)
{
    veil_buf_put(out, r->nonce, sizeof r->nonce);
    veil_buf_put_u8(out, r->status);
    if (put_blob(out, r->body, err) != 0)
        return -1;
    return finish(out, err);
}

void veil_ctl_reply_free(veil_ctl_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

int veil_ctl_reply_encode(const veil_ctl_reply *r, veil_buf *out, veil_err *err)
{
    put_header(out, VEIL_CTL_REPLY);
    if (reply_body(r, out, err) != 0)
        return -1;
    veil_buf_put(out, r->sig, 64);
    return finish(out, err);
}

int veil_ctl_reply_decode(const uint8_t *data, size_t len, veil_ctl_reply *out, veil_err *err)
{
    veil_reader r;
    memset(out, 0, sizeof *out);
    if (read_header(&r, data, len, VEIL_CTL_REPLY, err) != 0)
        return -1;
    veil_read_bytes(&r, out->nonce, sizeof out->nonce);
    out->status = veil_read_u8(&r);
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_RANGE, "reply: truncated");
    if (out->status > 2)
        return veil_err_set(err, VEIL_E_PARSE, "reply: bad status %u", out->status);
    if (read_text(&r, true, &out->body, "body", err) != 0)
        return -1;
    veil_read_bytes(&r, out->sig, 64);
    if (read_end(&r, "reply", err) != 0) {
        veil_ctl_reply_free(out);
        return -1;
    }
    return 0;
}

int veil_ctl_reply_sign(veil_ctl_reply *r, const uint8_t sk[64], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = reply_body(r, &b, err);
    if (rc == 0 && sign_with_ctx(reply_ctx, sizeof reply_ctx, &b, r->sig, sk) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "reply: signing failed");
    veil_buf_free(&b);
    return rc;
}

int veil_ctl_reply_verify(const veil_ctl_reply *r, const uint8_t pub[32], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    int rc = reply_body(r, &b, err);
    if (rc == 0 && verify_with_ctx(reply_ctx, sizeof reply_ctx, &b, r->sig, pub) != 0)
        rc = veil_err_set(err, VEIL_E_CRYPTO, "reply: bad node signature");
    veil_buf_free(&b);
    return rc;
}

/* ---- replay protection ---------------------------------------------------- */

void veil_ctl_replay_init(veil_ctl_replay *r)
{
    memset(r, 0, sizeof *r);
}

static bool in_window(uint64_t issued_ms, uint64_t now_ms)
{
    uint64_t d = issued_ms > now_ms ? issued_ms - now_ms : now_ms - issued_ms;
    return d <= VEIL_CTL_CMD_WINDOW_MS;
}

/* Drops entries that left the window: they can no longer be replayed. */
static void replay_prune(veil_ctl_replay *r, uint64_t now_ms)
{
    size_t j = 0;
    for (size_t i = 0; i < r->used; i++) {
        if (!in_window(r->issued_ms[i], now_ms))
            continue;
        if (i != j) {
            memcpy(r->nonce[j], r->nonce[i], VEIL_CTL_CMD_NONCE_LEN);
            r->issued_ms[j] = r->issued_ms[i];
        }
        j++;
    }
    r->used = j;
}

int veil_ctl_cmd_accept(veil_ctl_replay *r, const veil_ctl_cmd *c, const uint8_t guardian_pub[32],
                        const char *node_id, uint64_t now_ms, veil_err *err)
{
    if (veil_ctl_cmd_verify(c, guardian_pub, err) != 0)
        return -1;
    if (strcmp(c->node_id, node_id) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "command addressed to another node (%s)",
                            c->node_id);
    if (!in_window(c->issued_ms, now_ms))
        return veil_err_set(err, VEIL_E_TIMEOUT, "command expired or from the future");
    replay_prune(r, now_ms);
    for (size_t i = 0; i < r->used; i++) {
        if (veil_memeq_ct(r->nonce[i], c->nonce, VEIL_CTL_CMD_NONCE_LEN))
            return veil_err_set(err, VEIL_E_STATE, "command replayed");
    }
    if (r->used == VEIL_CTL_REPLAY_SLOTS)
        return veil_err_set(err, VEIL_E_LIMIT, "too many commands in the replay window");
    memcpy(r->nonce[r->used], c->nonce, VEIL_CTL_CMD_NONCE_LEN);
    r->issued_ms[r->used] = c->issued_ms;
    r->used++;
    return 0;
}

int veil_ctl_revoked_check(const veil_ctl_cmd *c, const char *subject,
                           const uint8_t guardian_pub[32], uint64_t now_ms, uint8_t identity[32],
                           veil_err *err)
{
    const char *last = strrchr(subject, '.');
    if (veil_ctl_cmd_verify(c, guardian_pub, err) != 0)
        return -1;
    if (c->verb != VEIL_CTL_PEER_REVOKED || last == NULL || strcmp(last + 1, c->node_id) != 0)
        return veil_err_set(err, VEIL_E_MISMATCH, "revocation notice for another subject");
    if (!in_window(c->issued_ms, now_ms))
        return veil_err_set(err, VEIL_E_TIMEOUT, "revocation notice expired or from the future");
    if (strlen(c->arg) != 64 || veil_hex_decode(identity, 32, c->arg, 64, false, NULL) != 32)
        return veil_err_set(err, VEIL_E_PARSE, "revocation notice: identity is not 32 bytes hex");
    return 0;
}
