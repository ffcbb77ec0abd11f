// SPDX-License-Identifier: Apache-2.0
/*
 * msg.c - the messages nodes publish on the cluster topic, in a versioned
 * binary encoding, and the Ed25519 signature of assignments.
 *
 * Why binary rather than canonical JSON: the telemetry message is mostly an
 * opaque FHE ciphertext blob (base64 in JSON would add a third, and the 64 KiB
 * cap is tight), the signed assignment needs one unambiguous byte string to
 * sign (a fixed field order with explicit lengths has no canonicalization
 * corner cases), and fixed-width fields are trivial to bound-check.
 *
 * Layout: u8 version (1) | u8 type | fields. Integers are big-endian; a
 * peer ID is u8 length (1..64) + bytes; a blob is a uvarint length + bytes.
 * Decoders read only through veil_reader, refuse unknown versions and types,
 * out-of-range values and trailing bytes. Every message is at most 64 KiB.
 *   TELEMETRY        epoch u64 | node peer | ciphertext blob
 *   JOB_SUBMIT       job id[32] | submitter peer (its peer-ID text, which the
 *                    job id hashes) | nonce[16] | budget period u64 |
 *                    budget seq u32 (the outcome-budget slot) | spec JSON blob |
 *                    request ciphertext blob (empty unless confidential)
 *   SCHED_DIGEST     job id[32] | replica u32 | epoch u64 | scheduler peer |
 *                    output digest[32] | [ask u8 = 1] (present only in an
 *                    outcome query, whose epoch and digest are zero: an
 *                    ordinary digest is byte for byte what it was)
 *   ASSIGNMENT       job id[32] | replica u32 | schedulable u8 (0/1) |
 *                    node peer (length 0 iff unschedulable) | output digest[32] |
 *                    epoch u64 | signature[64]
 *   CONTAINER_STATUS job id[32] | replica u32 | node peer | state u8 (1..3) |
 *                    exit code i32 | time ms u64 | container id (u8 len <= 64,
 *                    [A-Za-z0-9_.-])
 *   ROUND_RETRY      job id[32] | replica u32 | attempt u32 (1..3) |
 *                    epoch min u64 | reason u8 (1..2) | final u8 (0/1)
 *                    (obeyed only when its gossip author is the decryptor)
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/node.h>

static void put_header(veil_buf *out, enum veil_msg_type type)
{
    veil_buf_put_u8(out, VEIL_MSG_VERSION);
    veil_buf_put_u8(out, (uint8_t)type);
}

static int put_peer(veil_buf *out, const struct veil_peer_id *p, bool allow_empty, veil_err *err)
{
    if (p->len > VEIL_PEER_ID_MAX || (p->len == 0 && !allow_empty))
        return veil_err_set(err, VEIL_E_INVALID, "peer ID length %u out of range", p->len);
    veil_buf_put_u8(out, p->len);
    veil_buf_put(out, p->bytes, p->len);
    return 0;
}

static void put_blob(veil_buf *out, const uint8_t *data, size_t len)
{
    veil_buf_put_uvarint(out, len);
    if (len)
        veil_buf_put(out, data, len);
}

static int finish(veil_buf *out, size_t start, veil_err *err)
{
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "cannot encode message");
    size_t n = out->len - start;
    if (n > VEIL_MSG_MAX_BYTES) {
        out->len = start;
        return veil_err_set(err, VEIL_E_LIMIT, "message of %zu bytes exceeds %d", n,
                            VEIL_MSG_MAX_BYTES);
    }
    return 0;
}

/* Decoding helpers. */
static int open_msg(veil_reader *r, const uint8_t *data, size_t len, enum veil_msg_type want,
                    veil_err *err)
{
    if (len > VEIL_MSG_MAX_BYTES)
        return veil_err_set(err, VEIL_E_LIMIT, "message of %zu bytes exceeds %d", len,
                            VEIL_MSG_MAX_BYTES);
    veil_reader_init(r, data, len);
    uint8_t version = veil_read_u8(r);
    uint8_t type = veil_read_u8(r);
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_RANGE, "truncated message header");
    if (version != VEIL_MSG_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "message version %u (want %d)", version,
                            VEIL_MSG_VERSION);
    if (type != (uint8_t)want)
        return veil_err_set(err, VEIL_E_PROTOCOL, "message type %u (want %d)", type, (int)want);
    return 0;
}

static void read_peer(veil_reader *r, struct veil_peer_id *p, bool allow_empty)
{
    memset(p, 0, sizeof *p);
    uint8_t len = veil_read_u8(r);
    if (len > VEIL_PEER_ID_MAX || (len == 0 && !allow_empty)) {
        veil_reader_fail(r);
        return;
    }
    veil_read_bytes(r, p->bytes, len);
    p->len = len;
}

static const uint8_t *read_blob(veil_reader *r, size_t *len)
{
    uint64_t n = veil_read_uvarint(r);
    if (!veil_reader_ok(r) || n > veil_reader_remaining(r)) {
        veil_reader_fail(r);
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return n ? veil_read_borrow(r, (size_t)n) : (const uint8_t *)"";
}

static int close_msg(veil_reader *r, const char *what, veil_err *err)
{
    if (!veil_reader_ok(r))
        return veil_err_set(err, VEIL_E_PARSE, "malformed %s message", what);
    if (!veil_reader_at_end(r))
        return veil_err_set(err, VEIL_E_PARSE, "%zu trailing bytes after %s message",
                            veil_reader_remaining(r), what);
    return 0;
}

int veil_msg_peek_type(const uint8_t *data, size_t len, enum veil_msg_type *type, veil_err *err)
{
    if (len < 2)
        return veil_err_set(err, VEIL_E_RANGE, "truncated message header");
    if (data[0] != VEIL_MSG_VERSION)
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "message version %u (want %d)", data[0],
                            VEIL_MSG_VERSION);
    if (data[1] < VEIL_MSG_TELEMETRY || data[1] > VEIL_MSG_NODE_KEY)
        return veil_err_set(err, VEIL_E_PROTOCOL, "unknown message type %u", data[1]);
    *type = (enum veil_msg_type)data[1];
    return 0;
}

/* --- telemetry ----------------------------------------------------------- */

int veil_msg_telemetry_encode(veil_buf *out, const struct veil_msg_telemetry *m, veil_err *err)
{
    size_t start = out->len;
    put_header(out, VEIL_MSG_TELEMETRY);
    veil_buf_put_u64be(out, m->epoch);
    if (put_peer(out, &m->node, false, err) != 0)
        return -1;
    put_blob(out, m->ciphertext, m->ciphertext_len);
    return finish(out, start, err);
}

int veil_msg_telemetry_decode(struct veil_msg_telemetry *m, const uint8_t *data, size_t len,
                              veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_TELEMETRY, err) != 0)
        return -1;
    m->epoch = veil_read_u64be(&r);
    read_peer(&r, &m->node, false);
    m->ciphertext = read_blob(&r, &m->ciphertext_len);
    if (veil_reader_ok(&r) && m->ciphertext_len == 0)
        return veil_err_set(err, VEIL_E_PARSE, "telemetry message without a ciphertext");
    return close_msg(&r, "telemetry", err);
}

/* --- job submission ------------------------------------------------------ */

int veil_msg_job_submit_encode(veil_buf *out, const struct veil_msg_job_submit *m, veil_err *err)
{
    size_t start = out->len;
    put_header(out, VEIL_MSG_JOB_SUBMIT);
    veil_buf_put(out, m->job_id, 32);
    if (put_peer(out, &m->submitter, false, err) != 0)
        return -1;
    veil_buf_put(out, m->nonce, VEIL_JOB_NONCE_LEN);
    veil_buf_put_u64be(out, m->budget_period);
    veil_buf_put_u32be(out, m->budget_seq);
    put_blob(out, m->spec_json, m->spec_json_len);
    put_blob(out, m->request_ciphertext, m->request_ciphertext_len);
    return finish(out, start, err);
}

int veil_msg_job_submit_decode(struct veil_msg_job_submit *m, const uint8_t *data, size_t len,
                               veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_JOB_SUBMIT, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    read_peer(&r, &m->submitter, false);
    veil_read_bytes(&r, m->nonce, VEIL_JOB_NONCE_LEN);
    m->budget_period = veil_read_u64be(&r);
    m->budget_seq = veil_read_u32be(&r);
    m->spec_json = read_blob(&r, &m->spec_json_len);
    m->request_ciphertext = read_blob(&r, &m->request_ciphertext_len);
    if (veil_reader_ok(&r) && m->spec_json_len == 0)
        return veil_err_set(err, VEIL_E_PARSE, "job submission without a spec");
    return close_msg(&r, "job submission", err);
}

int veil_msg_job_submit_author_check(const struct veil_msg_job_submit *m, const uint8_t *author,
                                     size_t author_len, veil_err *err)
{
    char text[2 * VEIL_PEER_ID_MAX];
    long n = author_len > 0 && author_len <= VEIL_PEER_ID_MAX
                 ? veil_base58_encode(text, sizeof text, author, author_len)
                 : -1;
    if (n < 0 || (size_t)n != m->submitter.len || memcmp(text, m->submitter.bytes, (size_t)n) != 0)
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "job submission: the submitter %.*s is not the message's author",
                            (int)(m->submitter.len > 60 ? 60 : m->submitter.len),
                            (const char *)m->submitter.bytes);
    return 0;
}

int veil_msg_job_submit_check(const struct veil_msg_job_submit *m, struct veil_job_spec *spec,
                              veil_err *err)
{
    if (veil_job_spec_parse(spec, (const char *)m->spec_json, m->spec_json_len, "job submission",
                            err) != 0)
        return -1;
    char *canon = veil_job_spec_canonical_json(spec, err);
    if (!canon) {
        veil_job_spec_free(spec);
        return -1;
    }
    bool canonical =
        strlen(canon) == m->spec_json_len && memcmp(canon, m->spec_json, m->spec_json_len) == 0;
    free(canon);
    uint8_t id[32];
    if (!canonical) {
        veil_job_spec_free(spec);
        return veil_err_set(err, VEIL_E_PROTOCOL, "job submission: spec is not in canonical form");
    }
    if (veil_job_id(id, spec, m->submitter.bytes, m->submitter.len, m->nonce, err) != 0) {
        veil_job_spec_free(spec);
        return -1;
    }
    if (memcmp(id, m->job_id, 32) != 0) {
        veil_job_spec_free(spec);
        return veil_err_set(err, VEIL_E_MISMATCH,
                            "job submission: job id does not match the spec, submitter and nonce");
    }
    /* A confidential job's request travels only as the ciphertext its spec
     * (and so its id) commits to; a public job carries none. */
    if (spec->confidential && !spec->redacted) {
        veil_job_spec_free(spec);
        return veil_err_set(err, VEIL_E_PERMISSION,
                            "job submission: a confidential job with a plaintext request");
    }
    if (spec->redacted) {
        uint8_t digest[32];
        veil_job_request_digest(digest, m->request_ciphertext, m->request_ciphertext_len);
        if (m->request_ciphertext_len == 0 || !veil_memeq_ct(digest, spec->request_digest, 32)) {
            veil_job_spec_free(spec);
            return veil_err_set(err, VEIL_E_MISMATCH,
                                "job submission: the request ciphertext does not match the "
                                "spec's request_digest");
        }
    } else if (m->request_ciphertext_len != 0) {
        veil_job_spec_free(spec);
        return veil_err_set(err, VEIL_E_PROTOCOL,
                            "job submission: a request ciphertext on a job that is not "
                            "confidential");
    }
    return 0;
}

/* --- scheduler output digest -------------------------------------------- */

int veil_msg_sched_digest_encode(veil_buf *out, const struct veil_msg_sched_digest *m,
                                 veil_err *err)
{
    size_t start = out->len;
    put_header(out, VEIL_MSG_SCHED_DIGEST);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    veil_buf_put_u64be(out, m->epoch);
    if (put_peer(out, &m->scheduler, false, err) != 0)
        return -1;
    veil_buf_put(out, m->output_digest, 32);
    if (m->ask)
        veil_buf_put_u8(out, 1);
    return finish(out, start, err);
}

/* An outcome query carries no result: a zero epoch and digest. */
static bool digest_is_query(const struct veil_msg_sched_digest *m)
{
    static const uint8_t zero[32];
    return m->epoch == 0 && memcmp(m->output_digest, zero, 32) == 0;
}

int veil_msg_sched_digest_decode(struct veil_msg_sched_digest *m, const uint8_t *data, size_t len,
                                 veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_SCHED_DIGEST, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    m->replica = veil_read_u32be(&r);
    m->epoch = veil_read_u64be(&r);
    read_peer(&r, &m->scheduler, false);
    veil_read_bytes(&r, m->output_digest, 32);
    if (veil_reader_ok(&r) && veil_reader_remaining(&r) > 0) {
        if (veil_read_u8(&r) != 1) /* one encoding only: absent, or 1 */
            return veil_err_set(err, VEIL_E_PARSE, "scheduler digest: ask flag not 1");
        m->ask = true;
    }
    if (veil_reader_ok(&r) && m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    if (veil_reader_ok(&r) && m->ask && !digest_is_query(m))
        return veil_err_set(err, VEIL_E_PARSE, "outcome query with an epoch or a digest");
    return close_msg(&r, "scheduler digest", err);
}

/* --- assignment ------------------------------------------------------------ */

static int assignment_body(veil_buf *out, const struct veil_msg_assignment *m, veil_err *err)
{
    if (m->schedulable != (m->node.len != 0))
        return veil_err_set(err, VEIL_E_INVALID,
                            "an assignment names a node exactly when it is schedulable");
    if (m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    put_header(out, VEIL_MSG_ASSIGNMENT);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    veil_buf_put_u8(out, m->schedulable ? 1 : 0);
    if (put_peer(out, &m->node, !m->schedulable, err) != 0)
        return -1;
    veil_buf_put(out, m->output_digest, 32);
    veil_buf_put_u64be(out, m->epoch);
    return 0;
}

int veil_msg_assignment_encode(veil_buf *out, const struct veil_msg_assignment *m, veil_err *err)
{
    size_t start = out->len;
    if (assignment_body(out, m, err) != 0) {
        out->len = start;
        return -1;
    }
    veil_buf_put(out, m->signature, 64);
    return finish(out, start, err);
}

int veil_msg_assignment_decode(struct veil_msg_assignment *m, const uint8_t *data, size_t len,
                               veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_ASSIGNMENT, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    m->replica = veil_read_u32be(&r);
    uint8_t sched = veil_read_u8(&r);
    if (sched > 1)
        veil_reader_fail(&r);
    m->schedulable = sched == 1;
    read_peer(&r, &m->node, true);
    if (veil_reader_ok(&r) && m->schedulable != (m->node.len != 0))
        veil_reader_fail(&r);
    veil_read_bytes(&r, m->output_digest, 32);
    m->epoch = veil_read_u64be(&r);
    veil_read_bytes(&r, m->signature, 64);
    if (veil_reader_ok(&r) && m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    return close_msg(&r, "assignment", err);
}

int veil_assignment_signing_bytes(veil_buf *out, uint64_t cluster_id,
                                  const struct veil_msg_assignment *m, veil_err *err)
{
    static const char domain[] = "veil/assignment/v1";
    size_t start = out->len;
    veil_buf_put(out, domain, sizeof domain); /* includes the NUL separator */
    veil_buf_put_u64be(out, cluster_id);
    if (assignment_body(out, m, err) != 0) {
        out->len = start;
        return -1;
    }
    if (!veil_buf_ok(out))
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    return 0;
}

int veil_assignment_sign(struct veil_msg_assignment *m, uint64_t cluster_id,
                         const uint8_t secret_key[64], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    if (veil_assignment_signing_bytes(&b, cluster_id, m, err) != 0) {
        veil_buf_free(&b);
        return -1;
    }
    crypto_sign_detached(m->signature, NULL, b.data, b.len, secret_key);
    veil_buf_free(&b);
    return 0;
}

int veil_assignment_verify(const struct veil_msg_assignment *m, uint64_t cluster_id,
                           const uint8_t public_key[32], veil_err *err)
{
    veil_buf b;
    veil_buf_init(&b);
    if (veil_assignment_signing_bytes(&b, cluster_id, m, err) != 0) {
        veil_buf_free(&b);
        return -1;
    }
    int ok = crypto_sign_verify_detached(m->signature, b.data, b.len, public_key);
    veil_buf_free(&b);
    if (ok != 0)
        return veil_err_set(err, VEIL_E_CRYPTO, "assignment signature does not verify");
    return 0;
}

/* --- container status ----------------------------------------------------- */

static bool valid_container_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

int veil_msg_container_status_encode(veil_buf *out, const struct veil_msg_container_status *m,
                                     veil_err *err)
{
    size_t start = out->len;
    size_t idlen = strnlen(m->container_id, sizeof m->container_id);
    if (!valid_container_id(m->container_id, idlen))
        return veil_err_set(err, VEIL_E_INVALID, "bad container id");
    if (m->state < VEIL_CONTAINER_RUNNING || m->state > VEIL_CONTAINER_FAILED)
        return veil_err_set(err, VEIL_E_INVALID, "bad container state %u", m->state);
    if (m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    put_header(out, VEIL_MSG_CONTAINER_STATUS);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    if (put_peer(out, &m->node, false, err) != 0) {
        out->len = start;
        return -1;
    }
    veil_buf_put_u8(out, m->state);
    veil_buf_put_u32be(out, (uint32_t)m->exit_code);
    veil_buf_put_u64be(out, m->time_ms);
    veil_buf_put_u8(out, (uint8_t)idlen);
    veil_buf_put(out, m->container_id, idlen);
    return finish(out, start, err);
}

int veil_msg_container_status_decode(struct veil_msg_container_status *m, const uint8_t *data,
                                     size_t len, veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_CONTAINER_STATUS, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    m->replica = veil_read_u32be(&r);
    read_peer(&r, &m->node, false);
    m->state = veil_read_u8(&r);
    m->exit_code = (int32_t)veil_read_u32be(&r);
    m->time_ms = veil_read_u64be(&r);
    uint8_t idlen = veil_read_u8(&r);
    if (idlen > 64) { /* never let the length reach the 65-byte buffer */
        veil_reader_fail(&r);
        idlen = 0;
    }
    veil_read_bytes(&r, m->container_id, idlen);
    m->container_id[veil_reader_ok(&r) ? idlen : 0] = '\0';
    if (!veil_reader_ok(&r))
        return veil_err_set(err, VEIL_E_PARSE, "malformed container status message");
    if (m->state < VEIL_CONTAINER_RUNNING || m->state > VEIL_CONTAINER_FAILED)
        return veil_err_set(err, VEIL_E_PARSE, "bad container state %u", m->state);
    if (!valid_container_id(m->container_id, idlen))
        return veil_err_set(err, VEIL_E_PARSE, "bad container id");
    if (m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    return close_msg(&r, "container status", err);
}

/* --- round retry ------------------------------------------------------------ */

int veil_msg_round_retry_encode(veil_buf *out, const struct veil_msg_round_retry *m, veil_err *err)
{
    if (m->attempt == 0 || m->attempt >= VEIL_ROUND_MAX_ATTEMPTS + 1u)
        return veil_err_set(err, VEIL_E_RANGE, "retry attempt %u out of range 1..%d", m->attempt,
                            VEIL_ROUND_MAX_ATTEMPTS);
    if (m->reason != VEIL_RETRY_SPLIT && m->reason != VEIL_RETRY_DEADLINE)
        return veil_err_set(err, VEIL_E_RANGE, "retry reason %u unknown", m->reason);
    if (m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    size_t start = out->len;
    put_header(out, VEIL_MSG_ROUND_RETRY);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    veil_buf_put_u32be(out, m->attempt);
    veil_buf_put_u64be(out, m->epoch_min);
    veil_buf_put_u8(out, m->reason);
    veil_buf_put_u8(out, m->final ? 1 : 0);
    return finish(out, start, err);
}

int veil_msg_round_retry_decode(struct veil_msg_round_retry *m, const uint8_t *data, size_t len,
                                veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_ROUND_RETRY, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    m->replica = veil_read_u32be(&r);
    m->attempt = veil_read_u32be(&r);
    m->epoch_min = veil_read_u64be(&r);
    m->reason = veil_read_u8(&r);
    uint8_t final = veil_read_u8(&r);
    if (veil_reader_ok(&r)) {
        if (m->replica >= VEIL_JOB_MAX_REPLICAS)
            return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
        if (m->attempt == 0 || m->attempt > VEIL_ROUND_MAX_ATTEMPTS)
            return veil_err_set(err, VEIL_E_RANGE, "retry attempt %u out of range 1..%d",
                                m->attempt, VEIL_ROUND_MAX_ATTEMPTS);
        if (m->reason != VEIL_RETRY_SPLIT && m->reason != VEIL_RETRY_DEADLINE)
            return veil_err_set(err, VEIL_E_RANGE, "retry reason %u unknown", m->reason);
        if (final > 1)
            return veil_err_set(err, VEIL_E_RANGE, "retry final flag %u is not 0 or 1", final);
    }
    m->final = final == 1;
    return close_msg(&r, "round retry", err);
}

/* --- partial decryptions (threshold clusters) -------------------------------- */

static int partial_check(const struct veil_msg_partial *m, veil_err *err)
{
    if (m->replica >= VEIL_JOB_MAX_REPLICAS)
        return veil_err_set(err, VEIL_E_RANGE, "replica %u out of range", m->replica);
    if (m->holder_index == 0 || m->holder_index > 15)
        return veil_err_set(err, VEIL_E_RANGE, "holder index %u out of range 1..15",
                            m->holder_index);
    for (size_t i = 0; i < VEIL_MSG_PARTIAL_CTS; i++)
        if (m->part_lens[i] == 0 || m->part_lens[i] > VEIL_MSG_PARTIAL_MAX_LEN)
            return veil_err_set(err, VEIL_E_RANGE, "partial %zu of %zu bytes (1..%d)", i,
                                m->part_lens[i], VEIL_MSG_PARTIAL_MAX_LEN);
    return 0;
}

int veil_msg_partial_encode(veil_buf *out, const struct veil_msg_partial *m, veil_err *err)
{
    if (partial_check(m, err) != 0)
        return -1;
    size_t start = out->len;
    put_header(out, VEIL_MSG_PARTIAL);
    veil_buf_put(out, m->job_id, 32);
    veil_buf_put_u32be(out, m->replica);
    veil_buf_put_u64be(out, m->epoch);
    veil_buf_put(out, m->output_digest, 32);
    if (put_peer(out, &m->holder, false, err) != 0)
        return -1;
    veil_buf_put_u8(out, m->holder_index);
    for (size_t i = 0; i < VEIL_MSG_PARTIAL_CTS; i++) {
        veil_buf_put_u32be(out, (uint32_t)m->part_lens[i]);
        veil_buf_put(out, m->parts[i], m->part_lens[i]);
    }
    return finish(out, start, err);
}

int veil_msg_partial_decode(struct veil_msg_partial *m, const uint8_t *data, size_t len,
                            veil_err *err)
{
    veil_reader r;
    memset(m, 0, sizeof *m);
    if (open_msg(&r, data, len, VEIL_MSG_PARTIAL, err) != 0)
        return -1;
    veil_read_bytes(&r, m->job_id, 32);
    m->replica = veil_read_u32be(&r);
    m->epoch = veil_read_u64be(&r);
    veil_read_bytes(&r, m->output_digest, 32);
    read_peer(&r, &m->holder, false);
    m->holder_index = veil_read_u8(&r);
    for (size_t i = 0; i < VEIL_MSG_PARTIAL_CTS && veil_reader_ok(&r); i++) {
        uint32_t n = veil_read_u32be(&r);
        if (!veil_reader_ok(&r) || n == 0 || n > VEIL_MSG_PARTIAL_MAX_LEN)
            return veil_err_set(err, VEIL_E_RANGE, "partial %zu of %u bytes (1..%d)", i, n,
                                VEIL_MSG_PARTIAL_MAX_LEN);
        m->parts[i] = veil_read_borrow(&r, n);
        m->part_lens[i] = n;
    }
    if (veil_reader_ok(&r) && partial_check(m, err) != 0)
        return -1;
    return close_msg(&r, "partial", err);
}
