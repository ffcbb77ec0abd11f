// SPDX-License-Identifier: Apache-2.0
/*
 * test_catchup_history.c - the catch-up brings a node the older assignments
 * naming it that it never stored (issue 18, chaos s8; src/node/daemon_catchup.c),
 * on veild's own request, answer and take code over two real stores (no
 * network: the request and the answer are handed across):
 *  1. node B was chosen at epoch 7 and killed as that assignment went out;
 *     the replica moved to C at epoch 9, which B stored once back. B asks
 *     the submitter A: the answer holds epoch 9, then epoch 7 (B's history),
 *     and B keeps epoch 7 as a row while the replica stays bound to C.
 *     Before, the digests of the latest assignments matched and nothing was
 *     answered: the anchored commitment of epoch 7 was shown by no node;
 *  2. the answer is bounded (VEIL_CATCHUP_ASG_MAX assignments): with more
 *     to bring, B gets the rest in its next passes, then nothing;
 *  3. B, killed as it was chosen and back before it stored anything, settled
 *     its round from the replica's running report (no assignment stored, no
 *     binding): it takes the answer all the same (the latest assignment,
 *     then its history); before, each answer was dropped as "already
 *     recorded" (`anchors_unseen` in this session's chaos.sh 300 20261206);
 *  4. the submitter S missed the later assignment of its own job (chaos s9,
 *     long36 and long37): its replica, assigned to X, was rescheduled when X
 *     was declared dead, and the decryptor placed it on C while S's disk was
 *     full. S lists its own undecided job to a member, which answers the
 *     later assignment; before, S listed only the member's jobs and the ones
 *     it runs, nothing came, and S kept the replica bound to X for good.
 */
#include <stdlib.h>
#include <string.h>

#include "../../../src/node/daemon_sync.h"
#include "daemon_fixture.h"

/* A daemon over its own store, trusting the decryptor `dec`. */
static void node_open(struct node *n, const veil_p2p_peer_id *dec)
{
    fixture_open(n, "catchup-hist", 1000);
    fixture_identity(n);
    n->d->decryptor_peer = *dec;
    n->d->have_decryptor_peer = true;
}

/* The job as each node holds it: submitted by `sub`, its replicas being
 * scheduled. */
static void store_job(struct node *n, const char *hex, uint32_t replicas, const char *sub)
{
    veil_err err = {0};
    CHECK_EQ_INT(veil_store_job_insert(n->d->store, hex, "long", "{}", sub, "00", replicas, &err),
                 0);
    for (uint32_t r = 0; r < replicas; r++) {
        CHECK_EQ_INT(
            veil_store_replica_set_state(n->d->store, hex, r, VEIL_REPLICA_SCHEDULING, NULL, &err),
            0);
        CHECK_EQ_INT(veil_store_replica_set_state(n->d->store, hex, r,
                                                  VEIL_REPLICA_AWAITING_DECRYPTION, NULL, &err),
                     0);
    }
}

/* The decryptor's assignment of (job, replica) to `to` at `epoch`, stored
 * as the node that recorded it from the topic stores it. */
static void store_signed(struct node *n, const uint8_t id[32], uint32_t replica, uint64_t epoch,
                         const veil_p2p_peer_id *to, const uint8_t sk[64])
{
    struct veil_msg_assignment a = {.replica = replica, .schedulable = true, .epoch = epoch};
    struct veil_store_assignment sa = {.replica = replica, .epoch = epoch};
    uint8_t c[32];
    veil_err err = {0};
    memcpy(a.job_id, id, 32);
    veil_daemon_to_peer(&a.node, to);
    memset(a.output_digest, (int)(epoch + replica), 32);
    CHECK_EQ_INT(veil_assignment_sign(&a, n->d->cluster_id, sk, &err), 0);
    veil_assignment_commitment(c, &n->d->keccak, n->d->cluster_id, a.job_id, replica, &a.node,
                               a.output_digest, epoch);
    veil_hex_encode(sa.job_id, sizeof sa.job_id, id, 32);
    veil_p2p_peer_id_to_text(to, sa.node, sizeof sa.node);
    veil_hex_encode(sa.output_digest, sizeof sa.output_digest, a.output_digest, 32);
    veil_hex_encode(sa.signature, sizeof sa.signature, a.signature, 64);
    veil_hex_encode(sa.commitment, sizeof sa.commitment, c, 32);
    CHECK_EQ_INT(veil_store_assignment_record(n->d->store, &sa, &err), 0);
}

static size_t rows_of(struct node *n)
{
    veil_err err = {0};
    json_t *rows = veil_store_list_json(n->d->store, "assignments", &err);
    CHECK(rows != NULL);
    size_t k = json_array_size(rows);
    json_decref(rows);
    return k;
}

/* One catch-up exchange: b asks a; returns how many assignments a answered. */
static size_t exchange(struct node *b, struct node *a)
{
    veil_buf req, ans;
    size_t announced = 0, held = 0;
    veil_err err = {0};
    veil_buf_init(&req);
    veil_buf_init(&ans);
    CHECK_EQ_INT(veil_daemon_catchup_request(b->d, a->d->self_text, &req, &err), 0);
    CHECK_EQ_INT(veil_daemon_catchup_answer(a->d, b->d->self_text, req.data, req.len, &ans,
                                            &announced, &held, &err),
                 0);
    CHECK_EQ_U64(announced, 0); /* b holds every job of a */
    CHECK(ans.len <= VEIL_CATCHUP_ANSWER_MAX);
    struct veil_catchup_answer *dec = calloc(1, sizeof *dec);
    CHECK(dec != NULL);
    CHECK_EQ_INT(veil_msg_catchup_answer_decode(ans.data, ans.len, dec, &err), 0);
    size_t n = dec->n;
    free(dec);
    veil_daemon_catchup_take(b->d, a->d->self_text, ans.data, ans.len);
    veil_buf_free(&req);
    veil_buf_free(&ans);
    return n;
}

/* 1: b never stored the assignment of epoch 7 that named it. */
static void test_older_assignment_brought(void)
{
    uint8_t sk[64];
    veil_p2p_peer_id dec, c;
    fixture_new_peer(&dec, NULL, sk);
    fixture_new_peer(&c, NULL, NULL);
    struct node a, b;
    node_open(&a, &dec);
    node_open(&b, &dec);
    uint8_t id[32];
    char hex[65], bound[96];
    fixture_job_id(id, hex, 0x71);
    store_job(&a, hex, 1, a.d->self_text);
    store_job(&b, hex, 1, a.d->self_text);
    store_signed(&a, id, 0, 7, &b.d->self, sk); /* b chosen, killed as it went out */
    store_signed(&a, id, 0, 9, &c, sk);         /* moved to c before b was back */
    store_signed(&b, id, 0, 9, &c, sk);         /* b back: the latest one only */
    CHECK_EQ_U64(rows_of(&b), 1);

    CHECK_EQ_U64(exchange(&b, &a), 2); /* epoch 9, then b's history */
    CHECK_EQ_U64(rows_of(&b), 2);      /* b now holds what the chain anchors */
    veil_err err = {0};
    uint64_t latest = 0;
    bool found = false;
    CHECK_EQ_INT(veil_store_assignment_latest_epoch(b.d->store, hex, 0, &latest, &found, &err), 0);
    CHECK_EQ_U64(latest, 9);
    CHECK_EQ_INT(veil_store_replica_get_node(b.d->store, hex, 0, bound, sizeof bound, &err), 0);
    char ctext[VEIL_P2P_PEER_ID_TEXT_MAX];
    veil_p2p_peer_id_to_text(&c, ctext, sizeof ctext);
    CHECK_EQ_STR(bound, ctext); /* history: the replica stays with c */
    CHECK_EQ_U64(b.d->watched.n, 0);
    CHECK_EQ_U64(exchange(&b, &a), 0); /* the digests agree now */
    fixture_close(&a);
    fixture_close(&b);
}

/* 3 jobs of 64 replicas, each with an older assignment naming b: 384 to
 * bring, at most VEIL_CATCHUP_ASG_MAX per answer. */
static void test_answer_bounded(void)
{
    uint8_t sk[64];
    veil_p2p_peer_id dec, c;
    fixture_new_peer(&dec, NULL, sk);
    fixture_new_peer(&c, NULL, NULL);
    struct node a, b;
    node_open(&a, &dec);
    node_open(&b, &dec);
    enum { JOBS = 3, REPLICAS = 64 };
    for (int j = 0; j < JOBS; j++) {
        uint8_t id[32];
        char hex[65];
        fixture_job_id(id, hex, (uint8_t)(0xa0 + j));
        store_job(&a, hex, REPLICAS, a.d->self_text);
        store_job(&b, hex, REPLICAS, a.d->self_text);
        for (uint32_t r = 0; r < REPLICAS; r++) {
            store_signed(&a, id, r, 7, &b.d->self, sk);
            store_signed(&a, id, r, 9, &c, sk);
            store_signed(&b, id, r, 9, &c, sk);
        }
    }
    size_t first = exchange(&b, &a);
    CHECK_EQ_U64(first, VEIL_CATCHUP_ASG_MAX); /* 2 whole jobs (latest + history) */
    CHECK_EQ_U64(rows_of(&b), (size_t)JOBS * REPLICAS + 2 * REPLICAS);
    CHECK_EQ_U64(exchange(&b, &a), 2 * REPLICAS); /* the third job, next pass */
    CHECK_EQ_U64(rows_of(&b), (size_t)JOBS * REPLICAS * 2);
    CHECK_EQ_U64(exchange(&b, &a), 0);
    fixture_close(&a);
    fixture_close(&b);
}

/* 3: b's round was settled with no assignment stored. */
static void test_settled_without_assignment(void)
{
    uint8_t sk[64];
    veil_p2p_peer_id dec, c;
    fixture_new_peer(&dec, NULL, sk);
    fixture_new_peer(&c, NULL, NULL);
    struct node a, b;
    node_open(&a, &dec);
    node_open(&b, &dec);
    uint8_t id[32];
    char hex[65];
    fixture_job_id(id, hex, 0x72);
    store_job(&a, hex, 1, a.d->self_text);
    store_job(&b, hex, 1, a.d->self_text);
    store_signed(&a, id, 0, 7, &b.d->self, sk);
    store_signed(&a, id, 0, 9, &c, sk);
    veil_err err = {0};
    /* c's running report, taken with no binding known; the round settled */
    CHECK_EQ_INT(veil_store_replica_set_state(b.d->store, hex, 0, VEIL_REPLICA_RUNNING, NULL, &err),
                 0);
    struct round *r = veil_daemon_round(b.d, id, 0, true);
    CHECK(r != NULL);
    CHECK_EQ_INT(veil_daemon_round_move(b.d, r, VEIL_ROUND_ST_DECIDED), 0);
    CHECK_EQ_U64(rows_of(&b), 0);

    CHECK_EQ_U64(exchange(&b, &a), 2);
    CHECK_EQ_U64(rows_of(&b), 2);
    char bound[96], ctext[VEIL_P2P_PEER_ID_TEXT_MAX];
    CHECK_EQ_INT(veil_store_replica_get_node(b.d->store, hex, 0, bound, sizeof bound, &err), 0);
    veil_p2p_peer_id_to_text(&c, ctext, sizeof ctext);
    CHECK_EQ_STR(bound, ctext); /* the latest one binds it, the older one is history */
    CHECK_EQ_U64(exchange(&b, &a), 0);
    fixture_close(&a);
    fixture_close(&b);
}

/* 4: the submitter missed the later assignment of its own job. */
static void test_own_job_assignment_brought(void)
{
    uint8_t sk[64];
    veil_p2p_peer_id dec, c, x;
    fixture_new_peer(&dec, NULL, sk);
    fixture_new_peer(&c, NULL, NULL);
    fixture_new_peer(&x, NULL, NULL);
    struct node s, m;
    node_open(&s, &dec);
    node_open(&m, &dec);
    uint8_t id[32];
    char hex[65], bound[96], xtext[VEIL_P2P_PEER_ID_TEXT_MAX], ctext[VEIL_P2P_PEER_ID_TEXT_MAX];
    veil_p2p_peer_id_to_text(&x, xtext, sizeof xtext);
    veil_p2p_peer_id_to_text(&c, ctext, sizeof ctext);
    fixture_job_id(id, hex, 0x73);
    store_job(&s, hex, 1, s.d->self_text);
    store_job(&m, hex, 1, s.d->self_text);
    store_signed(&s, id, 0, 7, &x, sk);
    store_signed(&m, id, 0, 7, &x, sk);
    store_signed(&m, id, 0, 9, &c, sk); /* placed again: s never stored it */
    veil_err err = {0};
    size_t moved = 0;
    CHECK_EQ_INT(veil_store_node_lost(s.d->store, xtext, &moved, &err), 0);
    enum veil_replica_state st;
    CHECK_EQ_INT(veil_store_replica_get_state(s.d->store, hex, 0, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_RESCHEDULING);

    CHECK_EQ_U64(exchange(&s, &m), 1); /* before: 0, and bound to x for good */
    CHECK_EQ_INT(veil_store_replica_get_state(s.d->store, hex, 0, &st, &err), 0);
    CHECK_EQ_INT(st, VEIL_REPLICA_ASSIGNED);
    CHECK_EQ_INT(veil_store_replica_get_node(s.d->store, hex, 0, bound, sizeof bound, &err), 0);
    CHECK_EQ_STR(bound, ctext);
    CHECK_EQ_U64(exchange(&s, &m), 0); /* decided here now: not listed again */
    fixture_close(&s);
    fixture_close(&m);
}

VTEST_MAIN(VTEST(test_older_assignment_brought), VTEST(test_answer_bounded),
           VTEST(test_settled_without_assignment), VTEST(test_own_job_assignment_brought))
