// SPDX-License-Identifier: Apache-2.0
/*
 * test_holder_votes.c - the rules a threshold cluster's nodes apply to the
 * key holders' decisions (src/node/daemon_holder.c, daemon_decryptor.c,
 * daemon_tables.c), on veild's own code over a real store, with a daemon
 * that has no network:
 *  1. a batch output's decrypted (index, found) pairs name distinct
 *     candidates of the output, or the output is refused
 *     (veil_daemon_pairs_nodes: the designated decryptor's rule, now the
 *     key holders' too);
 *  2. a node whose round is decided already records the holders' assignment
 *     of a later epoch once t + 1 holders signed it (the replica was placed
 *     again): before, count_vote dropped every vote of a decided round, so
 *     the node never recorded where its replica went (issue 18, the rule
 *     daemon_rounds.c applies to the designated decryptor's assignments);
 *     t holders alone, an older epoch, or the same assignment again record
 *     nothing;
 *  3. a key holder that plans a batch round after other holders' PARTIALs
 *     for its later replicas arrived (they were filed with replica j's own
 *     round) counts them once its own squash of the batch output is in:
 *     before, they were lost for the batch on that holder, which then never
 *     combined pair j (issue 20). Real partials of a real dealing (the
 *     squashed ciphertexts are encrypted directly under the dealt secret, as
 *     test_threshold_decrypt does: no squashing key); the holder's own squash
 *     is handed to it as its worker hands it over (veil_holder_keep_own). A
 *     partial of another output is not counted, a wrong one is still named.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon_fixture.h"

#define HOLDERS 4

/* the holders' signing keys (the node under test holds none) */
static uint8_t holder_sk[HOLDERS][64];

/* A member of a threshold cluster of HOLDERS key holders with t = 1 (not a
 * holder itself: it only counts their signed assignments). */
static void node_open(struct node *n)
{
    fixture_open(n, "holder-votes", 1000);
    fixture_identity(n);
    veil_th_public pub = {.n = HOLDERS, .t = 1};
    for (int i = 0; i < HOLDERS; i++) {
        veil_p2p_peer_id ignored;
        fixture_new_peer(&ignored, pub.holder_pk[i], holder_sk[i]);
    }
    veil_daemon_holder_public(n->d, &pub);
}

static void node_close(struct node *n)
{
    sodium_memzero(holder_sk, sizeof holder_sk);
    fixture_close(n);
}

/* ---- 1: the pairs of a batch output ---- */

static void test_pairs_nodes(void)
{
    struct veil_peer_id cands[3];
    for (int i = 0; i < 3; i++) {
        cands[i].len = 1;
        cands[i].bytes[0] = (uint8_t)(0xa0 + i);
    }
    const struct veil_peer_id *nodes[4];
    veil_err err = {0};
    uint32_t index[4] = {2, 0, 1, 0};
    bool found[4] = {true, true, true, false};
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), 0);
    CHECK(nodes[0] == &cands[2] && nodes[1] == &cands[0] && nodes[2] == &cands[1]);
    CHECK(nodes[3] == NULL); /* not found: unschedulable (its index is not looked at) */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, true, cands, 3, nodes, &err), 0);
    for (int j = 0; j < 4; j++)
        CHECK(nodes[j] == NULL); /* the output named no candidate */
    found[3] = true;             /* replicas 1 and 3 on one node */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "replicas 1 and 3 on one node") != NULL);
    index[3] = 3; /* no such candidate */
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 4, false, cands, 3, nodes, &err), -1);
    CHECK(strstr(err.msg, "index 3 of 3 candidates") != NULL);
    CHECK_EQ_INT(veil_daemon_pairs_nodes(index, found, 0, false, cands, 3, nodes, &err), -1);
}

/* ---- 2: a later assignment of a decided round, signed by the holders ---- */

/* Holder `holder`'s signed assignment of replica 0 to this node at `epoch`,
 * delivered as the topic delivers it. */
static void deliver_vote(struct node *n, const uint8_t id[32], uint64_t epoch, unsigned holder)
{
    struct veil_msg_assignment a = {.replica = 0, .schedulable = true, .epoch = epoch};
    memcpy(a.job_id, id, 32);
    veil_daemon_to_peer(&a.node, &n->d->self);
    memset(a.output_digest, (int)epoch, 32);
    veil_err err = {0};
    veil_buf msg;
    veil_buf_init(&msg);
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, holder_sk[holder - 1], &err), 0);
    CHECK_EQ_INT(veil_msg_assignment_encode(&msg, &a, &err), 0);
    veil_daemon_on_assignment(n->d, msg.data, msg.len);
    veil_buf_free(&msg);
}

/* The job's replica 0 runs on this node under an assignment of epoch 7. */
static void store_running_job(struct node *n, const uint8_t id[32], const char *hex)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_job_insert(n->d->store, hex, "long", "{}", "peerS", "00", 1, &err), 0);
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(path); i++)
        CHECK_EQ_INT(veil_store_replica_set_state(n->d->store, hex, 0, path[i], NULL, &err), 0);
    struct veil_store_assignment a = {.replica = 0, .epoch = 7};
    snprintf(a.job_id, sizeof a.job_id, "%s", hex);
    CHECK(veil_p2p_peer_id_to_text(&n->d->self, a.node, sizeof a.node) > 0);
    memset(a.output_digest, 'a', 64);
    memset(a.signature, 'b', 128);
    memset(a.commitment, 'c', 64);
    CHECK_EQ_INT(veil_store_assignment_record(n->d->store, &a, &err), 0);
    CHECK_EQ_INT(
        veil_store_replica_set_state(n->d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err), 0);
    CHECK_EQ_INT(watch_list_add(&n->d->watched, id, hex, 0, "veil-6666666666666666-0", &err), 0);
}

static void test_later_vote_of_decided_round(void)
{
    struct node n;
    node_open(&n);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x66);
    store_running_job(&n, id, hex);
    /* restarted, it hears the job again: its round is decided at once
     * while the others place the replica again */
    struct round *r = veil_daemon_round(n.d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n.d, r, VEIL_ROUND_ST_DECIDED), 0);

    deliver_vote(&n, id, 9, 1); /* t = 1 holder: not yet */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 7);
    deliver_vote(&n, id, 9, 3); /* t + 1: recorded, this node's copy kept */
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    CHECK_EQ_U64(n.d->watched.n, 1);
    deliver_vote(&n, id, 9, 2); /* the other holders' votes: nothing new */
    deliver_vote(&n, id, 9, 4);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    deliver_vote(&n, id, 8, 1); /* an older one delivered late */
    deliver_vote(&n, id, 8, 2);
    CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), 9);
    /* placed again and again: the vote table makes way for later epochs */
    for (uint64_t e = 10; e < 16; e++) {
        deliver_vote(&n, id, e, 2);
        deliver_vote(&n, id, e, 4);
        CHECK_EQ_U64(fixture_latest_epoch(&n, hex, 0), e);
    }
    CHECK_EQ_INT(r->state, VEIL_ROUND_ST_DECIDED);
    node_close(&n);
}

/* ---- 3: a batch's partials heard before the holder planned its round ---- */

#define PAIRS 2

/* A dealing of the squashing secret among HOLDERS holders with t = 1, every
 * share opened (holder 1's is the node's own); the secret is kept to
 * encrypt squashed ciphertexts directly, so no squashing key is needed. */
struct dealing {
    veil_sq_secret secret;
    veil_th_public pub;
    veil_th_share *share[HOLDERS];
};

static void deal(struct dealing *dl)
{
    uint8_t pk[HOLDERS][VEIL_TH_PK_SIZE], sk[HOLDERS][VEIL_TH_SK_SIZE];
    veil_buf sealed[HOLDERS];
    veil_err err = {0};
    for (int i = 0; i < HOLDERS; i++) {
        crypto_sign_keypair(pk[i], sk[i]);
        veil_buf_init(&sealed[i]);
    }
    for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++)
        dl->secret.s[j] = (uint8_t)(veil_random_u64() & 1);
    CHECK_EQ_INT(veil_th_deal(&dl->secret, HOLDERS, 1, (const uint8_t(*)[VEIL_TH_PK_SIZE])pk,
                              &dl->pub, sealed, &err),
                 0);
    for (int i = 0; i < HOLDERS; i++) {
        CHECK_EQ_INT(veil_th_share_open(sealed[i].data, sealed[i].len, sk[i], &dl->share[i], &err),
                     0);
        veil_buf_free(&sealed[i]);
    }
    sodium_memzero(sk, sizeof sk);
}

static void dealing_free(struct dealing *dl)
{
    for (int i = 0; i < HOLDERS; i++)
        veil_th_share_free(dl->share[i]);
    sodium_memzero(dl, sizeof *dl);
}

/* A squashed value of `width` bits (packed encoding, as a holder's squash
 * gives it) encrypted directly under the dealt secret:
 * b = <a, s> + v 2^123 + e with 0 <= e < 2^60. */
static void sq_encrypt(const veil_sq_secret *s, uint32_t width, uint64_t value, veil_sq_ct *ct)
{
    ct->width = width;
    ct->encoding = VEIL_SQ_ENC_PACKED;
    ct->nblocks = veil_sq_blocks_for(width, VEIL_SQ_ENC_PACKED);
    ct->blocks = calloc(ct->nblocks ? ct->nblocks : 1, sizeof *ct->blocks);
    CHECK(ct->nblocks > 0 && ct->blocks != NULL);
    for (uint32_t b = 0; b < ct->nblocks; b++) {
        veil_sq_block *blk = &ct->blocks[b];
        veil_random_bytes(blk->a, sizeof blk->a);
        veil_u128 dot = (veil_u128)(veil_random_u64() >> 4);
        for (unsigned j = 0; j < VEIL_SQ_LWE_DIM; j++)
            dot += blk->a[j] * s->s[j];
        blk->b = dot + ((veil_u128)((value >> (4 * b)) & 15u) << VEIL_SQ_LOG_DELTA);
    }
}

/* A batch round's agreed output as the holders squash it: pair q's index
 * and found bit at ct[2q], ct[2q + 1], bound to the output's digest. */
struct batch {
    uint8_t id[32];
    char hex[65];
    uint64_t epoch;
    uint8_t digest[32], other_digest[32]; /* this output's; an earlier attempt's */
    veil_sq_ct ct[2 * PAIRS];
};

static void batch_make(struct node *n, struct batch *b, const veil_sq_secret *s, uint8_t tag)
{
    static const uint64_t index[PAIRS] = {2, 0};
    memset(b, 0, sizeof *b);
    fixture_job_id(b->id, b->hex, tag);
    b->epoch = 12;
    static const uint8_t out[] = "candidates || FHE output";
    veil_sched_output_digest(b->digest, b->id, 0, b->epoch, out, sizeof out);
    veil_sched_output_digest(b->other_digest, b->id, 0, b->epoch - 1, out, sizeof out);
    for (uint32_t q = 0; q < PAIRS; q++) {
        sq_encrypt(s, 16, index[q], &b->ct[2 * q]);
        sq_encrypt(s, 1, 1, &b->ct[2 * q + 1]);
    }
    veil_err err = {0};
    CHECK_EQ_INT(
        veil_store_job_insert(n->d->store, b->hex, "batch", "{}", "peerS", "00", PAIRS, &err), 0);
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < VEIL_ARRAY_LEN(b->ct); i++)
        veil_sq_ct_clear(&b->ct[i]);
}

/* Holder `holder`'s PARTIAL of pair `pair`, published under replica `pair`
 * and bound to `digest`, delivered as the topic delivers it; `wrong`: its
 * values altered after signing, as debug.test_only_wrong_partial does. */
static void deliver_partial(struct node *n, const struct dealing *dl, const struct batch *b,
                            unsigned holder, uint32_t pair, const uint8_t digest[32], bool wrong)
{
    struct veil_msg_partial m = {
        .replica = pair, .epoch = b->epoch, .holder_index = (uint8_t)holder};
    memcpy(m.job_id, b->id, 32);
    memcpy(m.output_digest, digest, 32);
    if (digest == b->other_digest)
        m.epoch = b->epoch - 1;
    const veil_p2p_peer_id *from = &n->d->th.peers[holder - 1];
    veil_daemon_to_peer(&m.holder, from);
    veil_buf parts[2], msg;
    veil_err err = {0};
    for (int i = 0; i < 2; i++) {
        veil_th_partial p;
        CHECK_EQ_INT(veil_th_partial_decrypt(dl->share[holder - 1], &b->ct[2 * pair + i], &p, &err),
                     0);
        if (wrong)
            p.y[0].c[0] ^= (veil_u128)1 << 122;
        veil_buf_init(&parts[i]);
        CHECK_EQ_INT(veil_th_partial_serialize(&p, &parts[i], &err), 0);
        m.parts[i] = parts[i].data;
        m.part_lens[i] = parts[i].len;
    }
    veil_buf_init(&msg);
    CHECK_EQ_INT(veil_msg_partial_encode(&msg, &m, &err), 0);
    struct veil_gs_message g = {
        .from = from->bytes, .from_len = from->len, .data = msg.data, .data_len = msg.len};
    veil_daemon_on_partial(n->d, &g);
    veil_buf_free(&msg);
    veil_buf_free(&parts[0]);
    veil_buf_free(&parts[1]);
}

/* The node (holder 1) plans replica 0's round as a batch of PAIRS and its
 * worker hands over its squash of the agreed output and its partials. */
static void plan_and_squash(struct node *n, const struct dealing *dl, const struct batch *b)
{
    struct round *r = veil_daemon_round(n->d, b->id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(n->d, r, VEIL_ROUND_ST_READY), 0);
    CHECK_EQ_INT(veil_daemon_round_move(n->d, r, VEIL_ROUND_ST_PLANNED), 0);
    r->replicas = PAIRS;
    r->batch = PAIRS;
    veil_sq_ct sq[2 * PAIRS];
    veil_th_partial p[2 * PAIRS];
    veil_err err = {0};
    for (uint32_t i = 0; i < 2 * PAIRS; i++) {
        sq[i] = b->ct[i];
        sq[i].blocks = malloc(b->ct[i].nblocks * sizeof *sq[i].blocks);
        CHECK(sq[i].blocks != NULL);
        memcpy(sq[i].blocks, b->ct[i].blocks, b->ct[i].nblocks * sizeof *sq[i].blocks);
        CHECK_EQ_INT(veil_th_partial_decrypt(dl->share[0], &b->ct[i], &p[i], &err), 0);
    }
    CHECK_EQ_INT(veil_holder_keep_own(n->d, r, PAIRS, b->epoch, b->digest, sq, p, &err), 0);
    for (uint32_t i = 0; i < 2 * PAIRS; i++)
        CHECK(sq[i].blocks == NULL); /* taken over */
}

/* The replica's note (set once the holder combined: who answered, who was
 * wrong or rejected), "" when none. */
static void check_note(struct node *n, const struct batch *b, uint32_t replica, const char *want)
{
    veil_err err = {0};
    json_t *job = veil_store_job_json(n->d->store, b->hex, &err);
    CHECK(job != NULL);
    json_t *rs = json_array_get(json_object_get(job, "replica_states"), replica);
    const char *note = json_string_value(json_object_get(rs, "note"));
    CHECK_EQ_STR(note ? note : "", want);
    json_decref(job);
}

static const char all_but_4[] =
    "threshold decryption by holders 1,2,3 (t=1); wrong partials: none; rejected: none";
static const char rejected_4[] =
    "threshold decryption by holders 1,2,3,4 (t=1); wrong partials: none; rejected: 4";

static void test_batch_partials_heard_early(void)
{
    struct dealing dl;
    deal(&dl);
    struct node n;
    fixture_open(&n, "holder-partials", 1000);
    fixture_identity(&n);
    veil_daemon_holder_public(n.d, &dl.pub);
    n.d->th.share = dl.share[0]; /* this node is holder 1 */
    n.d->th.index = 1;

    /* holders 2 and 3 answered pair 1 before this holder planned the round
     * (first no round 0 at all, then one holder 2's pair 0 made, not
     * planned), holder 4 for an earlier attempt's output */
    struct batch a;
    batch_make(&n, &a, &dl.secret, 0x71);
    deliver_partial(&n, &dl, &a, 2, 1, a.digest, false);
    deliver_partial(&n, &dl, &a, 4, 1, a.other_digest, false);
    deliver_partial(&n, &dl, &a, 2, 0, a.digest, false);
    deliver_partial(&n, &dl, &a, 3, 1, a.digest, false);
    plan_and_squash(&n, &dl, &a);
    check_note(&n, &a, 0, ""); /* pair 0: 2 partials of the 3 needed */
    deliver_partial(&n, &dl, &a, 3, 0, a.digest, false);
    check_note(&n, &a, 0, all_but_4); /* both pairs combined; 4's not counted */
    check_note(&n, &a, 1, all_but_4);

    /* holder 4's wrong partial of pair 1, heard early, is still named */
    struct batch b;
    batch_make(&n, &b, &dl.secret, 0x72);
    deliver_partial(&n, &dl, &b, 4, 1, b.digest, true);
    deliver_partial(&n, &dl, &b, 2, 1, b.digest, false);
    deliver_partial(&n, &dl, &b, 3, 1, b.digest, false);
    plan_and_squash(&n, &dl, &b);
    for (unsigned h = 2; h <= HOLDERS; h++)
        deliver_partial(&n, &dl, &b, h, 0, b.digest, false);
    check_note(&n, &b, 0, rejected_4);
    check_note(&n, &b, 1, rejected_4);

    batch_free(&a);
    batch_free(&b);
    n.d->th.share = NULL;
    fixture_close(&n); /* the rounds' threshold data with them */
    dealing_free(&dl);
}

VTEST_MAIN(VTEST(test_pairs_nodes), VTEST(test_later_vote_of_decided_round),
           VTEST(test_batch_partials_heard_early))
