// SPDX-License-Identifier: Apache-2.0
/*
 * test_msg.c - cluster-topic messages: round trips, exact layout of one
 * message, strict refusals (truncation, trailing bytes, versions, limits),
 * and the domain-separated Ed25519 signature of assignments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <veil/node.h>

#include "vtest.h"

static struct veil_peer_id peer(uint8_t tag)
{
    struct veil_peer_id p = {.len = 38};
    static const uint8_t prefix[6] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
    memcpy(p.bytes, prefix, 6);
    memset(p.bytes + 6, tag, 32);
    return p;
}

/* Every strict prefix of a valid encoding must be refused, and so must one
 * extra trailing byte. */
typedef int (*decode_fn)(const uint8_t *data, size_t len);

static void check_truncations(const veil_buf *b, decode_fn dec)
{
    CHECK_EQ_INT(dec(b->data, b->len), 0);
    for (size_t n = 0; n < b->len; n++)
        CHECK_EQ_INT(dec(b->data, n), -1);
    uint8_t more[VEIL_MSG_MAX_BYTES + 2];
    memcpy(more, b->data, b->len);
    more[b->len] = 0;
    CHECK_EQ_INT(dec(more, b->len + 1), -1);
}

static int dec_telemetry(const uint8_t *d, size_t n)
{
    struct veil_msg_telemetry m;
    return veil_msg_telemetry_decode(&m, d, n, NULL);
}
static int dec_submit(const uint8_t *d, size_t n)
{
    struct veil_msg_job_submit m;
    return veil_msg_job_submit_decode(&m, d, n, NULL);
}
static int dec_digest(const uint8_t *d, size_t n)
{
    struct veil_msg_sched_digest m;
    return veil_msg_sched_digest_decode(&m, d, n, NULL);
}
static int dec_assignment(const uint8_t *d, size_t n)
{
    struct veil_msg_assignment m;
    return veil_msg_assignment_decode(&m, d, n, NULL);
}
static int dec_status(const uint8_t *d, size_t n)
{
    struct veil_msg_container_status m;
    return veil_msg_container_status_decode(&m, d, n, NULL);
}

static void test_telemetry(void)
{
    uint8_t ct[300];
    for (size_t i = 0; i < sizeof ct; i++)
        ct[i] = (uint8_t)i;
    struct veil_msg_telemetry m = {.epoch = 0x0102030405060708ull,
                                   .node = peer(0xAA),
                                   .ciphertext = ct,
                                   .ciphertext_len = sizeof ct};
    veil_buf b;
    veil_buf_init(&b);
    veil_err err = {0};
    CHECK_EQ_INT(veil_msg_telemetry_encode(&b, &m, &err), 0);
    /* Exact layout: version, type, epoch, peer length, peer, uvarint(300) = ac 02. */
    CHECK_EQ_INT(b.len, 2 + 8 + 1 + 38 + 2 + 300);
    CHECK_EQ_INT(b.data[0], 1);
    CHECK_EQ_INT(b.data[1], VEIL_MSG_TELEMETRY);
    CHECK_EQ_INT(b.data[2], 0x01);
    CHECK_EQ_INT(b.data[9], 0x08);
    CHECK_EQ_INT(b.data[10], 38);
    CHECK_EQ_INT(b.data[49], 0xac);
    CHECK_EQ_INT(b.data[50], 0x02);
    struct veil_msg_telemetry d;
    CHECK_EQ_INT(veil_msg_telemetry_decode(&d, b.data, b.len, &err), 0);
    CHECK_EQ_U64(d.epoch, m.epoch);
    CHECK_EQ_INT(d.node.len, 38);
    CHECK_EQ_MEM(d.node.bytes, m.node.bytes, 38);
    CHECK_EQ_INT(d.ciphertext_len, sizeof ct);
    CHECK_EQ_MEM(d.ciphertext, ct, sizeof ct);
    enum veil_msg_type t;
    CHECK_EQ_INT(veil_msg_peek_type(b.data, b.len, &t, &err), 0);
    CHECK_EQ_INT(t, VEIL_MSG_TELEMETRY);
    check_truncations(&b, dec_telemetry);
    /* Wrong version / type. */
    b.data[0] = 2;
    CHECK_EQ_INT(veil_msg_telemetry_decode(&d, b.data, b.len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_UNSUPPORTED);
    b.data[0] = 1;
    b.data[1] = VEIL_MSG_ASSIGNMENT;
    CHECK_EQ_INT(veil_msg_telemetry_decode(&d, b.data, b.len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PROTOCOL);
    veil_buf_free(&b);

    /* The 64 KiB cap holds on both sides. */
    static uint8_t big[VEIL_MSG_MAX_BYTES];
    m.ciphertext = big;
    m.ciphertext_len = VEIL_MSG_MAX_BYTES - 2 - 8 - 1 - 38 - 3;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_telemetry_encode(&b, &m, &err), 0);
    CHECK_EQ_INT(b.len, VEIL_MSG_MAX_BYTES);
    CHECK_EQ_INT(veil_msg_telemetry_decode(&d, b.data, b.len, &err), 0);
    veil_buf_reset(&b);
    m.ciphertext_len++;
    CHECK_EQ_INT(veil_msg_telemetry_encode(&b, &m, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_LIMIT);
    CHECK_EQ_INT(b.len, 0);
    veil_buf_free(&b);
    /* A length that claims more than is there. */
    uint8_t lie[] = {1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xAB, 0xff, 0xff, 0x03, 0};
    CHECK_EQ_INT(veil_msg_telemetry_decode(&d, lie, sizeof lie, &err), -1);
}

static void test_job_submit(void)
{
    const char *spec = "{\"name\":\"a\"}";
    struct veil_msg_job_submit m = {
        .submitter = peer(3), .spec_json = (const uint8_t *)spec, .spec_json_len = strlen(spec)};
    memset(m.job_id, 0x42, 32);
    memset(m.nonce, 0x17, sizeof m.nonce);
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_job_submit_encode(&b, &m, NULL), 0);
    struct veil_msg_job_submit d;
    CHECK_EQ_INT(veil_msg_job_submit_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_MEM(d.job_id, m.job_id, 32);
    CHECK_EQ_MEM(d.nonce, m.nonce, 16);
    CHECK_EQ_INT(d.spec_json_len, strlen(spec));
    CHECK_EQ_MEM(d.spec_json, spec, strlen(spec));
    CHECK_EQ_INT(d.request_ciphertext_len, 0);
    check_truncations(&b, dec_submit);
    veil_buf_free(&b);

    /* Semantic check: canonical spec, id = H(spec, submitter, nonce). */
    const char *yaml = "name: web\nimage: busybox:1\nresources: {cpu: 1}\n";
    struct veil_job_spec js, got;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&js, yaml, strlen(yaml), "y", &err), 0);
    char *canon = veil_job_spec_canonical_json(&js, &err);
    struct veil_msg_job_submit ok = {
        .submitter = peer(3), .spec_json = (const uint8_t *)canon, .spec_json_len = strlen(canon)};
    memset(ok.nonce, 5, sizeof ok.nonce);
    CHECK_EQ_INT(veil_job_id(ok.job_id, &js, ok.submitter.bytes, ok.submitter.len, ok.nonce, &err),
                 0);
    CHECK_EQ_INT(veil_msg_job_submit_check(&ok, &got, &err), 0);
    CHECK_EQ_STR(got.name, "web");
    veil_job_spec_free(&got);
    /* the author check: the submitter (peer-ID text) must be the gossip
     * author's binary peer ID in base58; another member's is refused */
    struct veil_peer_id author = peer(3), stranger = peer(4);
    struct veil_msg_job_submit named = ok;
    long tl = veil_base58_encode((char *)named.submitter.bytes, sizeof named.submitter.bytes,
                                 author.bytes, author.len);
    CHECK(tl > 0);
    named.submitter.len = (uint8_t)tl;
    CHECK_EQ_INT(veil_msg_job_submit_author_check(&named, author.bytes, author.len, &err), 0);
    CHECK_EQ_INT(veil_msg_job_submit_author_check(&named, stranger.bytes, stranger.len, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_PERMISSION);
    CHECK_CONTAINS(err.msg, "not the message's author");
    CHECK_EQ_INT(veil_msg_job_submit_author_check(&named, author.bytes, author.len - 1, &err), -1);
    CHECK_EQ_INT(veil_msg_job_submit_author_check(&named, author.bytes, 0, &err), -1);
    struct veil_msg_job_submit bad = ok;
    bad.nonce[0] ^= 1;
    CHECK_EQ_INT(veil_msg_job_submit_check(&bad, &got, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_MISMATCH);
    bad = ok;
    bad.spec_json = (const uint8_t *)yaml; /* valid, but not canonical */
    bad.spec_json_len = strlen(yaml);
    CHECK_EQ_INT(veil_msg_job_submit_check(&bad, &got, &err), -1);
    CHECK_CONTAINS(err.msg, "canonical");
    bad.spec_json = (const uint8_t *)"{\"name\": 5}";
    bad.spec_json_len = strlen((const char *)bad.spec_json);
    CHECK_EQ_INT(veil_msg_job_submit_check(&bad, &got, &err), -1);
    /* a public job carries no request ciphertext */
    bad = ok;
    bad.request_ciphertext = (const uint8_t *)"ct";
    bad.request_ciphertext_len = 2;
    CHECK_EQ_INT(veil_msg_job_submit_check(&bad, &got, &err), -1);
    CHECK_CONTAINS(err.msg, "not confidential");
    free(canon);
    veil_job_spec_free(&js);

    /* A confidential job: accepted only with the ciphertext its spec (and
     * so its id) commits to, never with a plaintext request. */
    const char *cy = "name: sec\nimage: busybox:1\nresources: {cpu: 2}\nconfidential: true\n";
    const uint8_t ct[] = "the encrypted request";
    CHECK_EQ_INT(veil_job_spec_parse(&js, cy, strlen(cy), "y", &err), 0);
    char *plain = veil_job_spec_canonical_json(&js, &err);
    struct veil_msg_job_submit cm = {.submitter = peer(3),
                                     .spec_json = (const uint8_t *)plain,
                                     .spec_json_len = strlen(plain),
                                     .request_ciphertext = ct,
                                     .request_ciphertext_len = sizeof ct};
    CHECK_EQ_INT(veil_job_id(cm.job_id, &js, cm.submitter.bytes, cm.submitter.len, cm.nonce, &err),
                 0);
    CHECK_EQ_INT(veil_msg_job_submit_check(&cm, &got, &err), -1);
    CHECK_CONTAINS(err.msg, "plaintext request");
    free(plain);
    CHECK_EQ_INT(veil_job_spec_redact(&js, ct, sizeof ct, &err), 0);
    char *red = veil_job_spec_canonical_json(&js, &err);
    cm.spec_json = (const uint8_t *)red;
    cm.spec_json_len = strlen(red);
    CHECK_EQ_INT(veil_job_id(cm.job_id, &js, cm.submitter.bytes, cm.submitter.len, cm.nonce, &err),
                 0);
    CHECK_EQ_INT(veil_msg_job_submit_check(&cm, &got, &err), 0);
    CHECK(got.redacted);
    veil_job_spec_free(&got);
    veil_buf_reset(&b);
    CHECK_EQ_INT(veil_msg_job_submit_encode(&b, &cm, NULL), 0);
    CHECK_EQ_INT(veil_msg_job_submit_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(d.request_ciphertext_len, sizeof ct);
    CHECK_EQ_INT(veil_msg_job_submit_check(&d, &got, &err), 0);
    veil_job_spec_free(&got);
    struct veil_msg_job_submit swapped = cm; /* another ciphertext: refused */
    static const uint8_t other[] = "another request";
    swapped.request_ciphertext = other;
    swapped.request_ciphertext_len = sizeof other;
    CHECK_EQ_INT(veil_msg_job_submit_check(&swapped, &got, &err), -1);
    CHECK_CONTAINS(err.msg, "request_digest");
    swapped.request_ciphertext_len = 0;
    CHECK_EQ_INT(veil_msg_job_submit_check(&swapped, &got, &err), -1);
    veil_buf_free(&b);
    free(red);
    veil_job_spec_free(&js);
}

static int dec_retry(const uint8_t *d, size_t n)
{
    struct veil_msg_round_retry m;
    return veil_msg_round_retry_decode(&m, d, n, NULL);
}

/* The decryptor's retry of a round: exact layout, round trip, refusals of
 * out-of-range attempts, reasons, flags and replicas on both sides. */
static void test_round_retry(void)
{
    struct veil_msg_round_retry m = {
        .replica = 1, .attempt = 2, .epoch_min = 0x0102030405060708ull, .reason = VEIL_RETRY_SPLIT};
    memset(m.job_id, 0xAB, 32);
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_round_retry_encode(&b, &m, NULL), 0);
    CHECK_EQ_INT(b.len, 2 + 32 + 4 + 4 + 8 + 1 + 1);
    static const uint8_t tail[] = {0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 0};
    CHECK_EQ_INT(b.data[0], VEIL_MSG_VERSION);
    CHECK_EQ_INT(b.data[1], VEIL_MSG_ROUND_RETRY);
    CHECK_EQ_MEM(b.data + 34, tail, sizeof tail);
    enum veil_msg_type type;
    CHECK_EQ_INT(veil_msg_peek_type(b.data, b.len, &type, NULL), 0);
    CHECK_EQ_INT(type, VEIL_MSG_ROUND_RETRY);
    struct veil_msg_round_retry d;
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_MEM(d.job_id, m.job_id, 32);
    CHECK_EQ_INT(d.replica, 1);
    CHECK_EQ_INT(d.attempt, 2);
    CHECK_EQ_U64(d.epoch_min, m.epoch_min);
    CHECK_EQ_INT(d.reason, VEIL_RETRY_SPLIT);
    CHECK(!d.final);
    check_truncations(&b, dec_retry);
    /* Field by field, a value out of range is refused with its reason. */
    veil_err err = {0};
    uint8_t bad[64];
    memcpy(bad, b.data, b.len);
    bad[41] = 0; /* attempt 0: the first attempt is never announced */
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), -1);
    CHECK_CONTAINS(err.msg, "attempt 0");
    bad[41] = VEIL_ROUND_MAX_ATTEMPTS + 1;
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), -1);
    memcpy(bad, b.data, b.len);
    bad[50] = 3; /* reason */
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), -1);
    CHECK_CONTAINS(err.msg, "reason 3");
    memcpy(bad, b.data, b.len);
    bad[51] = 2; /* final is a flag */
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), -1);
    memcpy(bad, b.data, b.len);
    bad[51] = 1;
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), 0);
    CHECK(d.final);
    memcpy(bad, b.data, b.len);
    bad[34] = 0xFF; /* replica 0xFF000001 */
    CHECK_EQ_INT(veil_msg_round_retry_decode(&d, bad, b.len, &err), -1);
    CHECK_CONTAINS(err.msg, "replica");
    /* The encoder refuses what the decoder would. */
    veil_buf_reset(&b);
    m.attempt = 0;
    CHECK_EQ_INT(veil_msg_round_retry_encode(&b, &m, &err), -1);
    m.attempt = 1;
    m.reason = 0;
    CHECK_EQ_INT(veil_msg_round_retry_encode(&b, &m, &err), -1);
    veil_buf_free(&b);
}

static void test_sched_digest(void)
{
    struct veil_msg_sched_digest m = {.replica = 2, .epoch = 77, .scheduler = peer(9)};
    memset(m.job_id, 1, 32);
    memset(m.output_digest, 2, 32);
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_sched_digest_encode(&b, &m, NULL), 0);
    struct veil_msg_sched_digest d;
    CHECK_EQ_INT(veil_msg_sched_digest_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(d.replica, 2);
    CHECK_EQ_U64(d.epoch, 77);
    CHECK_EQ_MEM(d.output_digest, m.output_digest, 32);
    CHECK_EQ_MEM(&d.scheduler, &m.scheduler, sizeof m.scheduler);
    check_truncations(&b, dec_digest);
    CHECK(!d.ask);
    size_t plain = b.len;
    veil_buf_free(&b);

    /* an outcome query (issue 18): one trailing byte 1, no epoch, no digest */
    struct veil_msg_sched_digest q = {.replica = 2, .scheduler = peer(9), .ask = true};
    memset(q.job_id, 1, 32);
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_sched_digest_encode(&b, &q, NULL), 0);
    CHECK_EQ_U64(b.len, plain + 1);
    CHECK_EQ_INT(veil_msg_sched_digest_decode(&d, b.data, b.len, NULL), 0);
    CHECK(d.ask);
    CHECK_EQ_U64(d.epoch, 0);
    b.data[b.len - 1] = 2; /* one encoding only */
    CHECK(veil_msg_sched_digest_decode(&d, b.data, b.len, NULL) != 0);
    b.data[b.len - 1] = 1;
    b.data[b.len - 2] = 7; /* a query carries no digest */
    CHECK(veil_msg_sched_digest_decode(&d, b.data, b.len, NULL) != 0);
    veil_buf_free(&b);
    m.ask = true; /* nor an epoch */
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_sched_digest_encode(&b, &m, NULL), 0);
    CHECK(veil_msg_sched_digest_decode(&d, b.data, b.len, NULL) != 0);
    veil_buf_free(&b);
}

static void test_assignment_signature(void)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    CHECK_EQ_INT(veil_crypto_init(NULL), 0);
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    struct veil_msg_assignment m = {
        .replica = 1, .schedulable = true, .node = peer(5), .epoch = 12};
    memset(m.job_id, 0xCC, 32);
    memset(m.output_digest, 0xDD, 32);
    veil_err err = {0};
    CHECK_EQ_INT(veil_assignment_sign(&m, 7, sk, &err), 0);
    CHECK_EQ_INT(veil_assignment_verify(&m, 7, pk, &err), 0);
    /* Wrong key, wrong cluster, any changed field: refused. */
    CHECK_EQ_INT(veil_assignment_verify(&m, 7, pk2, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_CRYPTO);
    CHECK_EQ_INT(veil_assignment_verify(&m, 8, pk, &err), -1);
    struct veil_msg_assignment t = m;
    t.node.bytes[10] ^= 1;
    CHECK_EQ_INT(veil_assignment_verify(&t, 7, pk, &err), -1);
    t = m;
    t.epoch++;
    CHECK_EQ_INT(veil_assignment_verify(&t, 7, pk, &err), -1);
    t = m;
    t.replica = 0;
    CHECK_EQ_INT(veil_assignment_verify(&t, 7, pk, &err), -1);
    /* The signed bytes start with the domain tag. */
    veil_buf sb;
    veil_buf_init(&sb);
    CHECK_EQ_INT(veil_assignment_signing_bytes(&sb, 7, &m, &err), 0);
    CHECK_EQ_MEM(sb.data, "veil/assignment/v1\0", 19);
    veil_buf_free(&sb);

    /* Wire round trip keeps the signature valid. */
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_assignment_encode(&b, &m, &err), 0);
    struct veil_msg_assignment d;
    CHECK_EQ_INT(veil_msg_assignment_decode(&d, b.data, b.len, &err), 0);
    CHECK_EQ_INT(veil_assignment_verify(&d, 7, pk, &err), 0);
    check_truncations(&b, dec_assignment);
    veil_buf_free(&b);

    /* Unschedulable: no node. A node on an unschedulable assignment (or none
     * on a schedulable one) is refused both ways. */
    struct veil_msg_assignment u = {.replica = 0, .schedulable = false, .epoch = 3};
    CHECK_EQ_INT(veil_assignment_sign(&u, 7, sk, &err), 0);
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_assignment_encode(&b, &u, &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_decode(&d, b.data, b.len, &err), 0);
    CHECK(!d.schedulable);
    CHECK_EQ_INT(veil_assignment_verify(&d, 7, pk, &err), 0);
    b.data[2 + 32 + 4] = 1; /* flip the schedulable byte */
    CHECK_EQ_INT(veil_msg_assignment_decode(&d, b.data, b.len, &err), -1);
    b.data[2 + 32 + 4] = 2;
    CHECK_EQ_INT(veil_msg_assignment_decode(&d, b.data, b.len, &err), -1);
    veil_buf_free(&b);
    u.node = peer(1);
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_assignment_encode(&b, &u, &err), -1);
    veil_buf_free(&b);
}

static void test_container_status(void)
{
    struct veil_msg_container_status m = {.replica = 3,
                                          .node = peer(4),
                                          .state = VEIL_CONTAINER_EXITED,
                                          .exit_code = -9,
                                          .time_ms = 1700000000000ull};
    memset(m.job_id, 0x5A, 32);
    strcpy(m.container_id, "veil-abc_1.2");
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_container_status_encode(&b, &m, NULL), 0);
    struct veil_msg_container_status d;
    CHECK_EQ_INT(veil_msg_container_status_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_INT(d.exit_code, -9);
    CHECK_EQ_INT(d.state, VEIL_CONTAINER_EXITED);
    CHECK_EQ_STR(d.container_id, "veil-abc_1.2");
    CHECK_EQ_U64(d.time_ms, m.time_ms);
    check_truncations(&b, dec_status);
    /* Bad state, bad id characters, an over-long id length. */
    size_t state_at = 2 + 32 + 4 + 1 + 38;
    b.data[state_at] = 9;
    CHECK_EQ_INT(veil_msg_container_status_decode(&d, b.data, b.len, NULL), -1);
    b.data[state_at] = VEIL_CONTAINER_RUNNING;
    b.data[b.len - 1] = '/';
    CHECK_EQ_INT(veil_msg_container_status_decode(&d, b.data, b.len, NULL), -1);
    b.data[b.len - 13] = 200;
    CHECK_EQ_INT(veil_msg_container_status_decode(&d, b.data, b.len, NULL), -1);
    veil_buf_free(&b);
    strcpy(m.container_id, "has space");
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_container_status_encode(&b, &m, NULL), -1);
    veil_buf_free(&b);
}

static int dec_partial(const uint8_t *d, size_t n)
{
    struct veil_msg_partial m;
    return veil_msg_partial_decode(&m, d, n, NULL);
}

/* A key holder's partial decryptions: round trip (the partials borrowed
 * from the input), truncations, and the holder index and lengths checked on
 * both sides; the seed of fuzz_node_msg_partial is written here too when
 * VEIL_WRITE_SEEDS names a directory. */
static void test_partial(void)
{
    static const uint8_t p0[] = {1, 2, 3, 4, 5}, p1[] = {9, 8, 7};
    struct veil_msg_partial m = {.replica = 2, .epoch = 77, .holder_index = 4};
    memset(m.job_id, 0x11, 32);
    memset(m.output_digest, 0x22, 32);
    m.holder.len = 38;
    memset(m.holder.bytes, 0x33, 38);
    m.parts[0] = p0;
    m.part_lens[0] = sizeof p0;
    m.parts[1] = p1;
    m.part_lens[1] = sizeof p1;
    veil_buf b;
    veil_buf_init(&b);
    CHECK_EQ_INT(veil_msg_partial_encode(&b, &m, NULL), 0);
    CHECK_EQ_INT(b.len, 2 + 32 + 4 + 8 + 32 + 1 + 38 + 1 + 4 + 5 + 4 + 3);
    enum veil_msg_type type;
    CHECK_EQ_INT(veil_msg_peek_type(b.data, b.len, &type, NULL), 0);
    CHECK_EQ_INT(type, VEIL_MSG_PARTIAL);
    struct veil_msg_partial d;
    CHECK_EQ_INT(veil_msg_partial_decode(&d, b.data, b.len, NULL), 0);
    CHECK_EQ_MEM(d.job_id, m.job_id, 32);
    CHECK_EQ_MEM(d.output_digest, m.output_digest, 32);
    CHECK_EQ_INT(d.replica, 2);
    CHECK_EQ_U64(d.epoch, 77);
    CHECK_EQ_INT(d.holder_index, 4);
    CHECK_EQ_INT(d.part_lens[0], 5);
    CHECK_EQ_MEM(d.parts[1], p1, 3);
    check_truncations(&b, dec_partial);
    const char *dir = getenv("VEIL_WRITE_SEEDS");
    if (dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/partial", dir);
        CHECK_EQ_INT(veil_file_write_atomic(path, b.data, b.len, 0644, NULL), 0);
    }
    veil_err err = {0};
    uint8_t bad[256];
    memcpy(bad, b.data, b.len);
    bad[2 + 32 + 4 + 8 + 32 + 1 + 38] = 0; /* holder index 0 */
    CHECK_EQ_INT(veil_msg_partial_decode(&d, bad, b.len, &err), -1);
    CHECK_CONTAINS(err.msg, "holder index 0");
    memcpy(bad, b.data, b.len);
    bad[2 + 32 + 4 + 8 + 32 + 1 + 38 + 1 + 3] = 0; /* first partial empty */
    CHECK_EQ_INT(veil_msg_partial_decode(&d, bad, b.len, &err), -1);
    veil_buf_reset(&b);
    m.holder_index = 16;
    CHECK_EQ_INT(veil_msg_partial_encode(&b, &m, &err), -1);
    m.holder_index = 1;
    m.part_lens[1] = VEIL_MSG_PARTIAL_MAX_LEN + 1;
    CHECK_EQ_INT(veil_msg_partial_encode(&b, &m, &err), -1);
    veil_buf_free(&b);
}

VTEST_MAIN(VTEST(test_telemetry), VTEST(test_job_submit), VTEST(test_sched_digest),
           VTEST(test_assignment_signature), VTEST(test_container_status), VTEST(test_round_retry),
           VTEST(test_partial))
