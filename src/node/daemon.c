/*
 * daemon.c - the node daemon's services on veild's libuv loop (owned by the
 * veild integration): the SQLite store and the local HTTP API, the libp2p
 * host with a connection gater fed by the on-chain registry (only peers
 * registered and active in this cluster get in: the registry is read once,
 * then followed through its NodeRegistered/NodeDeactivated events),
 * Kademlia discovery, gossipsub on the cluster topic, SWIM membership
 * (alive/dead into the store), anchoring (daemon_anchor.c), and the encrypted
 * telemetry timer (quantized free capacity -> one compact public-key FHE
 * ciphertext list -> gossip, under the 64 KiB message cap).
 *
 * Telemetry values never leave this process in plaintext: only the
 * ciphertext is published, only the epoch of others' telemetry is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <jansson.h>

#include <veil/chain.h>
#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/node.h>
#include <veil/p2p.h>
#include <veil/runtime.h>
#include <veil/swim.h>

#include "daemon.h"
#include "daemon_anchor.h"
#include "daemon_sched.h"

#define SUB         "daemon"
#define MAX_MEMBERS 256
/* Telemetry kept per member, by epoch: a round evaluates the epoch fixed when
 * it was planned, possibly after waiting behind other rounds, so the history
 * spans a long queue (32 epochs: 64 s at the tests' 2 s interval). */
#define TELEMETRY_HISTORY  32
#define REGISTRY_FOLLOW_MS 1000 /* at most one on-demand look at new blocks per second */
#define REGISTRY_POLL_MS   5000
#define KAD_REFRESH_MS     30000 /* Kademlia bootstrap again: discovers nodes that joined */

struct member {
    veil_p2p_peer_id id;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    char org[96];
    bool alive;
    uint64_t epoch; /* newest telemetry epoch seen */
    /* the last few telemetry ciphertexts (compact lists), by epoch: a round
     * at epoch E uses each member's newest one not after E */
    struct {
        uint64_t epoch;
        uint8_t *data;
        size_t len;
    } hist[TELEMETRY_HISTORY];
};

#define SCHED_OUTPUT_PROTO "/veil/sched-output/1.0.0"
#define SCHED_OUTPUT_MAX   (4u << 20)
#define ROUND_MAX_DIGESTS  16
#define MAX_ROUNDS         64
#define EPOCH_GUARD_MS     300 /* rounds start this far from an epoch boundary */
/* An attempt of a round that has no digest majority after this long (and at
 * least 6 telemetry intervals) is retried by the decryptor: a scheduler may
 * have died, or telemetry differed between schedulers. Generous, because a
 * retry discards the work of schedulers that are merely slow. */
#define ROUND_DEADLINE_MS 60000
/* While a round is undecided its submitter re-announces the job and its
 * schedulers re-publish their digest and re-send their output this often
 * (2 telemetry intervals, clamped): a decryptor that was down, or restarted
 * and lost what it held in memory, gets everything again when it is back. */
#define RESEND_MIN_MS 3000
#define RESEND_MAX_MS 30000

/* One replica's scheduling round, as this node takes part in it. */
struct round {
    bool used;
    uint8_t job_id[32];
    char job_hex[65];
    uint32_t replica, replicas;
    struct veil_sched_request req;
    bool have_schedulers, i_schedule;
    struct veil_peer_id schedulers[VEIL_MAX_SCHEDULERS];
    size_t n_schedulers;
    struct veil_published_digest digests[ROUND_MAX_DIGESTS];
    uint64_t digest_epochs[ROUND_MAX_DIGESTS];
    size_t n_digests;
    struct {
        struct veil_peer_id from;
        uint64_t epoch;
        uint8_t *data;
        size_t len;
    } outputs[VEIL_MAX_SCHEDULERS];
    size_t n_outputs;
    bool computing, computed, decided;
    bool resume; /* restored from the store: planned once the members are known */
    bool have_chosen;
    struct veil_peer_id chosen;
    uint64_t not_before_ms;
    /* retries (the decryptor's ROUND_RETRY): digests and outputs of epochs
     * before epoch_min belong to an earlier attempt and are ignored */
    uint32_t attempt, work_attempt;
    uint64_t epoch_min;
    uint64_t planned_ms, resend_ms;
    bool have_req;   /* the job's request is known (not only its digests) */
    bool test_split; /* TEST ONLY: see veil_daemon.test_split_job */
    /* a confidential job: req holds no values, this ciphertext does */
    uint8_t *req_ct;
    size_t req_ct_len;
    /* the computation on the worker thread */
    uint64_t epoch;
    size_t n_cands;
    struct veil_peer_id *cands;
    uint8_t **lists;
    size_t *list_lens;
    bool *excluded;
    veil_buf output; /* candidates || FHE output */
    int work_rc;
    veil_err work_err;
    uv_work_t work;
    veil_daemon *d;
};

struct veil_daemon {
    uv_loop_t *loop;
    const veil_config *cfg;
    veil_store *store;
    veil_api *api;
    veil_p2p_host *host;
    veil_gossipsub *gs;
    veil_swim_node *swim;
    veil_chain_client *chain;
    uint64_t cluster_id;
    char topic[64];
    veil_p2p_peer_id self;
    char self_text[VEIL_P2P_PEER_ID_TEXT_MAX];
    char org[96];
    /* the registry: Ed25519 keys of the cluster's active nodes, loaded once
     * at start and then kept current by the registry's events */
    uint8_t (*allowed)[32];
    size_t n_allowed;
    veil_log_follower follower;
    uint64_t followed_at_ms;
    veil_kad *kad;
    bool kad_busy;      /* a Kademlia bootstrap is running */
    uint64_t kad_at_ms; /* when the last one started */
    unsigned kad_runs;
    FILE *gossip_dump; /* TEST ONLY: every received cluster-topic message */
    /* membership */
    struct member members[MAX_MEMBERS];
    size_t n_members;
    /* telemetry */
    veil_fhe_public *fhe_pk;
    struct veil_cpu_sampler cpu;
    bool fixed_capacity;
    /* TEST ONLY (VEIL_TEST_ONLY_SPLIT_JOB): jobs of this name get a wrong
     * digest from this scheduler in their first attempt, so that the
     * end-to-end suite can make schedulers disagree and see the retry */
    char test_split_job[VEIL_JOB_NAME_MAX + 1];
    struct veil_telemetry_raw fixed;
    uint64_t interval_ms;
    uv_timer_t telemetry_timer, poll_timer, bootstrap_timer, job_timer;
    /* jobs */
    veil_p2p_keypair key; /* signs assignments when this node is the decryptor */
    veil_fhe_server *fhe_sk;
    veil_fhe_client *fhe_ck; /* only on the designated decryptor */
    veil_eth_address decryptor;
    veil_p2p_peer_id decryptor_peer;
    bool have_decryptor_peer;
    bool computing; /* one FHE round at a time */
    struct round rounds[MAX_ROUNDS];
    char announced[MAX_ROUNDS][65];
    size_t n_announced;
    struct veil_hasher keccak;
    uint64_t resume_at_ms;
    veil_eth_address contract;
    struct veil_anchorer anchorer;
    /* containers this node started and watches until they end */
    struct watched {
        uint8_t job_id[32];
        char job_hex[65];
        uint32_t replica;
        char name[128];
    } watched[MAX_ROUNDS];
    size_t n_watched;
    int closing_handles;
    bool stopping, handles_closed;
    int works; /* uv_queue_work items in flight (FHE rounds, container starts) */
    void (*done)(void *);
    void *done_data;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the registry and the gater ---------------------------------------- */

/* Loads the Ed25519 keys of the cluster's active nodes from the chain (once,
 * at start: afterwards the registry's events keep the set current). */
static int registry_refresh(veil_daemon *d, veil_err *err)
{
    veil_eth_address *nodes = NULL;
    size_t n = 0;
    if (veil_contract_active_nodes(d->chain, d->cluster_id, &nodes, &n, err) != 0)
        return -1;
    uint8_t(*keys)[32] = calloc(n ? n : 1, 32);
    if (!keys) {
        free(nodes);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t cid;
        veil_eth_address op;
        bool active;
        if (veil_contract_get_node(d->chain, &nodes[i], &cid, &op, &active, keys[k], err) != 0) {
            free(nodes);
            free(keys);
            return -1;
        }
        if (active && cid == d->cluster_id)
            k++;
    }
    free(nodes);
    free(d->allowed);
    d->allowed = keys;
    d->n_allowed = k;
    return 0;
}

static bool registry_has(const veil_daemon *d, const uint8_t key[32])
{
    for (size_t i = 0; i < d->n_allowed; i++)
        if (memcmp(d->allowed[i], key, 32) == 0)
            return true;
    return false;
}

static void registry_add(veil_daemon *d, const uint8_t key[32])
{
    if (registry_has(d, key))
        return;
    uint8_t(*keys)[32] = realloc(d->allowed, (d->n_allowed + 1) * 32);
    if (!keys)
        return;
    d->allowed = keys;
    memcpy(d->allowed[d->n_allowed++], key, 32);
}

/* Drops a key. Its peer's connections are closed by the sweep that follows
 * every registry_follow on the poll timer (not here: this also runs inside
 * the gater, in the middle of another connection's upgrade). */
static void registry_remove(veil_daemon *d, const uint8_t key[32])
{
    for (size_t i = 0; i < d->n_allowed; i++)
        if (memcmp(d->allowed[i], key, 32) == 0) {
            memcpy(d->allowed[i], d->allowed[--d->n_allowed], 32);
            break;
        }
}

/* A confirmed registry event: NodeRegistered / NodeDeactivated of this
 * cluster. The event only says which node changed; its current record on
 * chain says what it is now (so a replayed or reordered event cannot
 * re-admit a node deactivated since). */
static int on_registry_log(const veil_eth_log *log, void *user)
{
    veil_daemon *d = user;
    veil_contract_node_event ev;
    if (veil_contract_decode_node_log(log, &ev) != 0 || ev.cluster_id != d->cluster_id)
        return 0; /* another event, or another cluster's */
    char node_text[43];
    veil_eth_address_format(&ev.node, node_text);
    uint64_t cid;
    veil_eth_address op;
    bool active;
    uint8_t key[32];
    veil_err err = {0};
    if (veil_contract_get_node(d->chain, &ev.node, &cid, &op, &active, key, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "registry lookup failed", "node=%s error=\"%s\"", node_text,
                 err.msg);
    } else if (active && cid == d->cluster_id) {
        if (!registry_has(d, key))
            veil_log(VEIL_LOG_INFO, SUB, "node registered on chain", "node=%s block=%llu",
                     node_text, (unsigned long long)log->block_number);
        registry_add(d, key);
    } else if (registry_has(d, key)) {
        veil_log(VEIL_LOG_INFO, SUB, "node deactivated on chain", "node=%s block=%llu", node_text,
                 (unsigned long long)log->block_number);
        registry_remove(d, key);
    }
    return 0;
}

/* Applies the registry events confirmed since the last look. */
static void registry_follow(veil_daemon *d)
{
    veil_err err = {0};
    d->followed_at_ms = uv_now(d->loop);
    if (veil_log_follower_poll(&d->follower, veil_chain_client_rpc(d->chain), &d->contract,
                               on_registry_log, d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "registry events not read", "error=\"%s\"", err.msg);
}

static bool peer_allowed(veil_daemon *d, const veil_p2p_peer_id *peer)
{
    uint8_t key[32];
    if (veil_p2p_peer_id_ed25519_key(peer, key, NULL) != 0)
        return false; /* every Veil node has an Ed25519 identity */
    if (registry_has(d, key))
        return true;
    /* A node may have registered since the last look: read the new
     * confirmed events now (rate limited), not the whole registry. */
    if (uv_now(d->loop) - d->followed_at_ms >= REGISTRY_FOLLOW_MS) {
        registry_follow(d);
        return registry_has(d, key);
    }
    return false;
}

static bool gater(veil_p2p_host *host, const veil_p2p_peer_id *peer,
                  const veil_p2p_multiaddr *remote, bool inbound, void *user_data)
{
    (void)host;
    (void)remote;
    veil_daemon *d = user_data;
    bool ok = peer_allowed(d, peer);
    if (!ok)
        veil_log(VEIL_LOG_WARN, SUB, "refused peer not registered in the cluster",
                 "peer=%s inbound=%d", veil_p2p_peer_id_str(peer).s, inbound);
    return ok;
}

/* ---- membership ---------------------------------------------------------- */

static struct member *member_get(veil_daemon *d, const uint8_t *id, size_t len, bool create)
{
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].id.len == len && memcmp(d->members[i].id.bytes, id, len) == 0)
            return &d->members[i];
    if (!create || d->n_members == MAX_MEMBERS)
        return NULL;
    veil_p2p_peer_id pid;
    if (veil_p2p_peer_id_from_bytes(id, len, &pid, NULL) != 0)
        return NULL;
    struct member *m = &d->members[d->n_members++];
    memset(m, 0, sizeof *m);
    m->id = pid;
    veil_p2p_peer_id_to_text(&pid, m->text, sizeof m->text);
    return m;
}

static void member_store(veil_daemon *d, const struct member *m)
{
    struct veil_store_node n = {0};
    snprintf(n.peer_id, sizeof n.peer_id, "%.95s", m->text);
    snprintf(n.organization, sizeof n.organization, "%s", m->org);
    n.alive = m->alive;
    n.last_epoch = m->epoch;
    veil_err err = {0};
    if (veil_store_node_upsert(d->store, &n, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "store node failed", "error=\"%s\"", err.msg);
}

static void reschedule_lost(veil_daemon *d, const struct member *m);

static void on_swim_event(veil_swim_node *node, const struct veil_swim_event *ev, void *user_data)
{
    (void)node;
    veil_daemon *d = user_data;
    struct member *m = member_get(d, ev->id, ev->id_len, true);
    if (!m)
        return;
    if (ev->meta_len > 0 && ev->meta_len < sizeof m->org) {
        /* metadata is the member's organization name (printable only) */
        bool printable = true;
        for (size_t i = 0; i < ev->meta_len; i++)
            printable &= ev->meta[i] >= 0x20 && ev->meta[i] < 0x7f;
        if (printable) {
            memcpy(m->org, ev->meta, ev->meta_len);
            m->org[ev->meta_len] = '\0';
        }
    }
    veil_log(VEIL_LOG_INFO, SUB, "member", "event=%s peer=%s", veil_swim_event_name(ev->type),
             m->text);
    switch (ev->type) {
    case VEIL_SWIM_EV_JOIN:
    case VEIL_SWIM_EV_ALIVE:
    case VEIL_SWIM_EV_UPDATE:
        m->alive = true;
        member_store(d, m);
        break;
    case VEIL_SWIM_EV_DEAD:
    case VEIL_SWIM_EV_LEAVE: {
        m->alive = false;
        member_store(d, m);
        size_t moved = 0;
        veil_err err = {0};
        if (veil_store_node_lost(d->store, m->text, &moved, &err) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "store node lost failed", "error=\"%s\"", err.msg);
        else if (moved)
            veil_log(VEIL_LOG_INFO, SUB, "replicas to reschedule", "node=%s count=%zu", m->text,
                     moved);
        reschedule_lost(d, m);
        break;
    }
    case VEIL_SWIM_EV_SUSPECT:
        break;
    }
}

/* ---- cluster topic --------------------------------------------------------- */

/* Keeps a member's telemetry ciphertext by epoch (same epoch replaces, else
 * the oldest slot goes). */
static int member_add_telemetry(struct member *m, uint64_t epoch, const uint8_t *data, size_t len)
{
    if (len == 0 || len > VEIL_MSG_MAX_BYTES)
        return -1;
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    size_t slot = 0;
    for (size_t i = 0; i < TELEMETRY_HISTORY; i++) {
        if (m->hist[i].data && m->hist[i].epoch == epoch) {
            slot = i;
            break;
        }
        if (!m->hist[i].data || m->hist[i].epoch < m->hist[slot].epoch)
            slot = i;
        if (!m->hist[slot].data)
            break;
    }
    free(m->hist[slot].data);
    m->hist[slot].data = copy;
    m->hist[slot].len = len;
    m->hist[slot].epoch = epoch;
    return 0;
}

static void on_telemetry(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_telemetry t;
    veil_err err = {0};
    if (veil_msg_telemetry_decode(&t, msg->data, msg->data_len, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad telemetry message", "error=\"%s\"", err.msg);
        return;
    }
    /* The author must be the node the telemetry is about. */
    if (t.node.len != msg->from_len || memcmp(t.node.bytes, msg->from, msg->from_len) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "telemetry for another node dropped", NULL);
        return;
    }
    struct member *m = member_get(d, t.node.bytes, t.node.len, true);
    if (!m || t.epoch < m->epoch)
        return;
    if (member_add_telemetry(m, t.epoch, t.ciphertext, t.ciphertext_len) != 0)
        return;
    m->epoch = t.epoch;
    m->alive = true;
    member_store(d, m);
    veil_log(VEIL_LOG_DEBUG, SUB, "telemetry received", "peer=%s epoch=%llu bytes=%zu", m->text,
             (unsigned long long)t.epoch, t.ciphertext_len);
}

/* ---- anchoring ------------------------------------------------------------ */

/* The earliest batch epoch a round still undecided could land in: a round
 * evaluates the epoch before the one it starts in, and starts no earlier
 * than it was planned for (not_before_ms). The sender holds those batches
 * so that they are complete when they go out. */
static void anchor_hold(veil_daemon *d)
{
    uint64_t hold = UINT64_MAX;
    for (size_t i = 0; i < MAX_ROUNDS; i++) {
        const struct round *r = &d->rounds[i];
        if (!r->used || !r->have_schedulers || r->decided)
            continue;
        uint64_t e = veil_epoch_of(r->not_before_ms, d->interval_ms);
        uint64_t b = veil_anchor_batch_epoch(e ? e - 1 : 0, d->interval_ms, d->anchorer.batch_ms);
        if (b < hold)
            hold = b;
    }
    d->anchorer.hold_batch = hold;
}

/* After each recorded assignment: in single mode the decryptor anchors it at
 * once; batches (and every other node's look on chain) wait for the poll
 * timer (daemon_anchor.c). */
static void anchor_note_assignment(veil_daemon *d)
{
    if (d->anchorer.sender && !d->anchorer.batch)
        veil_anchorer_tick(&d->anchorer, wall_ms());
}

/* ---- jobs: submission, encrypted rounds, decryption, assignments ------------ */

static void keccak_hash(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx)
{
    (void)ctx;
    veil_keccak k;
    veil_keccak_init(&k);
    for (size_t i = 0; i < n; i++)
        veil_keccak_update(&k, parts[i].data, parts[i].len);
    veil_keccak_final(&k, out);
}

/* The inputs of the last evaluation (not while the worker uses them). */
static void round_free_work(struct round *r)
{
    for (size_t i = 0; r->lists && i < r->n_cands; i++)
        free(r->lists[i]);
    free(r->lists);
    free(r->list_lens);
    free(r->cands);
    free(r->excluded);
    r->lists = NULL;
    r->list_lens = NULL;
    r->cands = NULL;
    r->excluded = NULL;
    r->n_cands = 0;
}

static void round_free_outputs(struct round *r)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        free(r->outputs[i].data);
    memset(r->outputs, 0, sizeof r->outputs);
    r->n_outputs = 0;
}

static void round_free(struct round *r)
{
    round_free_outputs(r);
    round_free_work(r);
    free(r->req_ct);
    veil_buf_free(&r->output);
    memset(r, 0, sizeof *r);
}

static uint64_t resend_period_ms(const veil_daemon *d)
{
    uint64_t p = 2 * d->interval_ms;
    return p < RESEND_MIN_MS ? RESEND_MIN_MS : p > RESEND_MAX_MS ? RESEND_MAX_MS : p;
}

static uint64_t round_deadline_ms(const veil_daemon *d)
{
    return 6 * d->interval_ms > ROUND_DEADLINE_MS ? 6 * d->interval_ms : ROUND_DEADLINE_MS;
}

static bool peer_eq(const struct veil_peer_id *a, const struct veil_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static void to_peer(struct veil_peer_id *out, const veil_p2p_peer_id *in)
{
    memset(out, 0, sizeof *out);
    memcpy(out->bytes, in->bytes, in->len);
    out->len = in->len;
}

static struct round *round_find(veil_daemon *d, const uint8_t job_id[32], uint32_t replica,
                                bool create)
{
    struct round *free_slot = NULL;
    for (size_t i = 0; i < MAX_ROUNDS; i++) {
        struct round *r = &d->rounds[i];
        if (r->used && r->replica == replica && memcmp(r->job_id, job_id, 32) == 0)
            return r;
        if (!r->used && !free_slot)
            free_slot = r;
    }
    if (!create)
        return NULL;
    if (!free_slot) {
        /* recycle the oldest decided round */
        for (size_t i = 0; i < MAX_ROUNDS && !free_slot; i++)
            if (d->rounds[i].decided && !d->rounds[i].computing)
                free_slot = &d->rounds[i];
        if (!free_slot)
            return NULL;
        round_free(free_slot);
    }
    free_slot->used = true;
    memcpy(free_slot->job_id, job_id, 32);
    veil_hex_encode(free_slot->job_hex, sizeof free_slot->job_hex, job_id, 32);
    free_slot->replica = replica;
    free_slot->d = d;
    veil_buf_init(&free_slot->output);
    return free_slot;
}

/* Moves a replica forward along pending|rescheduling -> scheduling ->
 * awaiting_decryption, as far as `to`. */
static void replica_state(veil_daemon *d, const char *job_hex, uint32_t replica,
                          enum veil_replica_state to)
{
    static const enum veil_replica_state path[] = {VEIL_REPLICA_SCHEDULING,
                                                   VEIL_REPLICA_AWAITING_DECRYPTION};
    veil_err err = {0};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(path); i++) {
        enum veil_replica_state cur;
        if (veil_store_replica_get_state(d->store, job_hex, replica, &cur, &err) != 0 || cur == to)
            return;
        /* never backwards: a restarted node re-planning a round it had seen
         * reach awaiting_decryption leaves it there (only a retry goes back) */
        if (cur == VEIL_REPLICA_AWAITING_DECRYPTION && to == VEIL_REPLICA_SCHEDULING)
            return;
        if (veil_replica_transition_ok(cur, path[i]))
            veil_store_replica_set_state(d->store, job_hex, replica, path[i], NULL, &err);
        if (path[i] == to)
            return;
    }
}

static void try_decide(veil_daemon *d, struct round *r);

/* Gives a round the request of its job (a confidential one: a copy of the
 * request ciphertext). */
static int round_set_req(struct round *r, const struct veil_sched_request *req, const uint8_t *ct,
                         size_t ct_len)
{
    r->req = *req;
    free(r->req_ct);
    r->req_ct = NULL;
    r->req_ct_len = 0;
    if (req->confidential) {
        if (!ct || ct_len == 0 || !(r->req_ct = malloc(ct_len)))
            return -1;
        memcpy(r->req_ct, ct, ct_len);
        r->req_ct_len = ct_len;
    }
    r->have_req = true;
    return 0;
}

/* The request of a round from its job's spec (and, for a confidential job,
 * the request ciphertext the spec's digest names). */
static int round_req_from_spec(struct round *r, const struct veil_job_spec *spec, const uint8_t *ct,
                               size_t ct_len)
{
    struct veil_sched_request req = {0};
    req.policy = spec->policy;
    req.confidential = spec->redacted;
    if (!spec->redacted) {
        req.region = spec->region;
        req.zone = spec->zone;
        veil_err err = {0};
        if (veil_telemetry_quantize_request(spec, req.res, &err) != 0) {
            /* no node can ever satisfy it: the circuit over zero candidates */
            memset(req.res, 0xff, sizeof req.res);
        }
    }
    r->replicas = spec->replicas;
    return round_set_req(r, &req, ct, ct_len);
}

/* Chooses the round's schedulers over the members SWIM says are alive. */
static void plan_round(veil_daemon *d, struct round *r)
{
    struct veil_peer_id alive[MAX_MEMBERS];
    size_t n = 0;
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].alive)
            to_peer(&alive[n++], &d->members[i].id);
    size_t chosen[VEIL_MAX_SCHEDULERS];
    r->n_schedulers = veil_select_schedulers(r->job_id, alive, n, VEIL_MAX_SCHEDULERS, chosen);
    struct veil_peer_id self;
    to_peer(&self, &d->self);
    r->i_schedule = false;
    for (size_t i = 0; i < r->n_schedulers; i++) {
        r->schedulers[i] = alive[chosen[i]];
        if (peer_eq(&r->schedulers[i], &self))
            r->i_schedule = true;
    }
    r->have_schedulers = true;
    /* Every scheduler must pick the same epoch (epoch_of(now) - 1): they hear
     * of the job within milliseconds of each other, so starting away from an
     * epoch boundary makes them agree; a retry also waits for an epoch after
     * the ones the failed attempt used. */
    r->planned_ms = wall_ms();
    r->not_before_ms =
        veil_round_start_ms(r->planned_ms, d->interval_ms, EPOCH_GUARD_MS, r->epoch_min);
    /* The epoch is fixed here, not when the evaluation starts: a scheduler
     * busy with other rounds evaluates later, on the same inputs. */
    r->epoch = veil_epoch_of(r->not_before_ms, d->interval_ms) - 1;
    r->resend_ms = r->planned_ms + resend_period_ms(d);
    replica_state(d, r->job_hex, r->replica, VEIL_REPLICA_SCHEDULING);
    veil_log(VEIL_LOG_INFO, SUB, "round planned",
             "job=%.16s replica=%u attempt=%u schedulers=%zu me=%d", r->job_hex, r->replica,
             r->attempt + 1, r->n_schedulers, r->i_schedule);
    /* outputs and digests may have arrived before this node knew the job
     * (a decryptor that just restarted) */
    try_decide(d, r);
}

static void sched_work(uv_work_t *w)
{
    struct round *r = w->data;
    veil_daemon *d = r->d;
    veil_fhe_ct **words = calloc(r->n_cands * VEIL_TELEMETRY_WORDS + 1, sizeof *words);
    veil_buf fhe_out;
    veil_buf_init(&fhe_out);
    bool none = true;
    r->work_rc = words ? 0 : veil_err_set(&r->work_err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_cands && r->work_rc == 0; i++)
        r->work_rc = veil_daemon_telemetry_expand(r->lists[i], r->list_lens[i],
                                                  &words[i * VEIL_TELEMETRY_WORDS], &r->work_err);
    veil_fhe_ct *req_words[VEIL_DAEMON_REQUEST_WORDS] = {0};
    if (r->work_rc == 0 && r->req.confidential) {
        /* the request is a ciphertext too: every resource and constraint is
         * compared under encryption */
        r->work_rc = veil_daemon_request_expand(r->req_ct, r->req_ct_len, req_words, &r->work_err);
        if (r->work_rc == 0)
            r->work_rc =
                veil_daemon_schedule_confidential(d->fhe_sk, &r->req, req_words, words, r->n_cands,
                                                  r->excluded, &fhe_out, &none, NULL, &r->work_err);
    } else if (r->work_rc == 0) {
        r->work_rc = veil_daemon_schedule(d->fhe_sk, &r->req, words, r->n_cands, r->excluded,
                                          &fhe_out, &none, NULL, &r->work_err);
    }
    for (size_t i = 0; i < VEIL_DAEMON_REQUEST_WORDS; i++)
        if (req_words[i])
            veil_fhe_ct_free(req_words[i]);
    for (size_t i = 0; words && i < r->n_cands * VEIL_TELEMETRY_WORDS; i++)
        veil_fhe_ct_free(words[i]);
    free(words);
    /* output = u32 n || n x (u8 len || peer) || u8 none || FHE output */
    veil_buf_reset(&r->output);
    veil_buf_put_u32be(&r->output, (uint32_t)r->n_cands);
    for (size_t i = 0; i < r->n_cands; i++) {
        veil_buf_put_u8(&r->output, r->cands[i].len);
        veil_buf_put(&r->output, r->cands[i].bytes, r->cands[i].len);
    }
    veil_buf_put_u8(&r->output, none ? 1 : 0);
    veil_buf_put(&r->output, fhe_out.data, fhe_out.len);
    veil_buf_free(&fhe_out);
    if (r->work_rc == 0 && !veil_buf_ok(&r->output))
        r->work_rc = veil_err_set(&r->work_err, VEIL_E_NOMEM, "out of memory");
}

static void on_assignment(veil_daemon *d, const uint8_t *data, size_t len);
static void check_agreement(veil_daemon *d, struct round *r);
static void start_next_replica(veil_daemon *d, const struct round *prev);

static void add_output(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                       uint64_t epoch, const uint8_t *data, size_t len)
{
    if (epoch < r->epoch_min)
        return; /* an earlier attempt's */
    size_t slot = r->n_outputs;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (peer_eq(&r->outputs[i].from, from)) {
            if (r->outputs[i].epoch >= epoch)
                return; /* one output per scheduler and epoch: its first */
            slot = i;   /* a newer evaluation by the same scheduler */
        }
    if (slot == VEIL_MAX_SCHEDULERS)
        return;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return;
    memcpy(copy, data, len);
    if (slot < r->n_outputs)
        free(r->outputs[slot].data);
    else
        r->n_outputs++;
    r->outputs[slot].from = *from;
    r->outputs[slot].epoch = epoch;
    r->outputs[slot].data = copy;
    r->outputs[slot].len = len;
    try_decide(d, r);
}

static void add_digest(veil_daemon *d, struct round *r, const struct veil_peer_id *from,
                       uint64_t epoch, const uint8_t digest[32])
{
    if (epoch < r->epoch_min)
        return; /* an earlier attempt's */
    size_t slot = r->n_digests;
    for (size_t i = 0; i < r->n_digests; i++)
        if (peer_eq(&r->digests[i].scheduler, from)) {
            if (r->digest_epochs[i] >= epoch)
                return; /* its first digest for this attempt counts (re-sends too) */
            slot = i;
        }
    if (slot == ROUND_MAX_DIGESTS)
        return;
    r->digests[slot].scheduler = *from;
    memcpy(r->digests[slot].digest, digest, 32);
    r->digest_epochs[slot] = epoch;
    if (slot == r->n_digests)
        r->n_digests++;
    replica_state(d, r->job_hex, r->replica, VEIL_REPLICA_AWAITING_DECRYPTION);
    try_decide(d, r);
}

struct out_send {
    veil_buf msg;
};

static void out_stream_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    (void)user_data;
}

static void out_stream_open(veil_p2p_stream *s, const char *protocol, const veil_err *err,
                            void *user_data)
{
    (void)protocol;
    struct out_send *o = user_data;
    if (!s) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot reach the decryptor", "error=\"%s\"",
                 err ? err->msg : "?");
    } else {
        static const struct veil_p2p_stream_callbacks cb = {.on_close = out_stream_close};
        veil_p2p_stream_set_callbacks(s, &cb, NULL);
        veil_err e2 = {0};
        if (veil_p2p_stream_write_lp(s, o->msg.data, o->msg.len, NULL, NULL, &e2) != 0 ||
            veil_p2p_stream_close_write(s, &e2) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "sending the output failed", "error=\"%s\"", e2.msg);
            veil_p2p_stream_reset(s);
        }
    }
    veil_buf_free(&o->msg);
    free(o);
}

static void maybe_free(veil_daemon *d);
static void publish_result(veil_daemon *d, struct round *r, bool first);

static void sched_after(uv_work_t *w, int status)
{
    struct round *r = w->data;
    veil_daemon *d = r->d;
    d->works--;
    if (d->stopping) {
        maybe_free(d);
        return;
    }
    d->computing = false;
    r->computing = false;
    if (r->work_attempt != r->attempt || r->decided) {
        /* the decision (the other schedulers agreed first) or a retry came
         * while this ran: the result belongs to a finished attempt */
        veil_log(r->decided ? VEIL_LOG_DEBUG : VEIL_LOG_INFO, SUB,
                 r->decided ? "evaluation finished after the decision"
                            : "evaluation of a retried attempt dropped",
                 "job=%.16s replica=%u attempt=%u now=%u", r->job_hex, r->replica,
                 r->work_attempt + 1, r->attempt + 1);
        return;
    }
    r->computed = true;
    if (status != 0 || r->work_rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "round failed", "job=%.16s replica=%u error=\"%s\"",
                 r->job_hex, r->replica, r->work_rc ? r->work_err.msg : "cancelled");
        return;
    }
    publish_result(d, r, true);
}

/* Publishes this scheduler's digest on the topic and streams its output to
 * the decryptor; `first` also counts them locally (later calls re-send them
 * to a decryptor that may have been down). */
static void publish_result(veil_daemon *d, struct round *r, bool first)
{
    struct veil_msg_sched_digest m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.epoch = r->epoch;
    to_peer(&m.scheduler, &d->self);
    veil_sched_output_digest(m.output_digest, r->job_id, r->replica, r->epoch, r->output.data,
                             r->output.len);
    if (r->test_split && r->attempt == 0) /* TEST ONLY: a digest no one else has */
        for (size_t i = 0; i < 32; i++)
            m.output_digest[i] ^= d->self.bytes[d->self.len - 32 + i];
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_sched_digest_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "digest not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
    char dhex[65];
    veil_hex_encode(dhex, sizeof dhex, m.output_digest, 32);
    veil_log(first ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
             first ? "round evaluated" : "round result re-sent",
             "job=%.16s replica=%u attempt=%u epoch=%llu "
             "candidates=%zu output_bytes=%zu digest=%.16s",
             r->job_hex, r->replica, r->attempt + 1, (unsigned long long)r->epoch, r->n_cands,
             r->output.len, dhex);
    struct veil_peer_id self = m.scheduler;
    if (first)
        add_digest(d, r, &m.scheduler, r->epoch, m.output_digest);
    /* the output (well over 64 KiB) goes to the decryptor on a direct stream */
    if (d->fhe_ck) {
        if (first)
            add_output(d, r, &self, r->epoch, r->output.data, r->output.len);
        return;
    }
    if (!d->have_decryptor_peer)
        return;
    struct out_send *o = calloc(1, sizeof *o);
    if (!o)
        return;
    veil_buf_init(&o->msg);
    veil_buf_put(&o->msg, r->job_id, 32);
    veil_buf_put_u32be(&o->msg, r->replica);
    veil_buf_put_u64be(&o->msg, r->epoch);
    veil_buf_put(&o->msg, r->output.data, r->output.len);
    static const char *const protos[] = {SCHED_OUTPUT_PROTO};
    if (veil_p2p_host_new_stream(d->host, &d->decryptor_peer, protos, 1, out_stream_open, o,
                                 &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot reach the decryptor", "error=\"%s\"", err.msg);
        veil_buf_free(&o->msg);
        free(o);
    }
}

/* True when a member's telemetry of `epoch` may have been dropped from its
 * full history (its oldest entry is newer): a round at that epoch can no
 * longer see the inputs it was planned on. */
static bool telemetry_evicted(const struct member *m, uint64_t epoch)
{
    uint64_t oldest = UINT64_MAX;
    for (size_t k = 0; k < TELEMETRY_HISTORY; k++) {
        if (!m->hist[k].data)
            return false; /* not full: nothing was dropped */
        if (m->hist[k].epoch < oldest)
            oldest = m->hist[k].epoch;
    }
    return oldest > epoch;
}

/* Starts the FHE evaluation of a round on the worker pool. */
static void start_compute(veil_daemon *d, struct round *r)
{
    round_free_work(r); /* a previous attempt's inputs */
    r->work_attempt = r->attempt;
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].alive && telemetry_evicted(&d->members[i], r->epoch)) {
            /* Waited too long: evaluate the newest epoch instead of reporting
             * a node missing. The schedulers may then disagree, and the
             * decryptor's retry re-aligns them on a new epoch. */
            uint64_t e = veil_epoch_of(wall_ms(), d->interval_ms) - 1;
            veil_log(VEIL_LOG_WARN, SUB, "round inputs no longer held: newer epoch",
                     "job=%.16s replica=%u epoch=%llu now=%llu", r->job_hex, r->replica,
                     (unsigned long long)r->epoch, (unsigned long long)e);
            r->epoch = e;
            break;
        }
    struct veil_telemetry_seen seen[MAX_MEMBERS];
    size_t hist_of[MAX_MEMBERS], member_of[MAX_MEMBERS], n = 0;
    for (size_t i = 0; i < d->n_members; i++) {
        struct member *m = &d->members[i];
        if (!m->alive)
            continue;
        size_t best = TELEMETRY_HISTORY;
        for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
            if (m->hist[k].data && m->hist[k].epoch <= r->epoch &&
                (best == TELEMETRY_HISTORY || m->hist[k].epoch > m->hist[best].epoch))
                best = k;
        if (best == TELEMETRY_HISTORY)
            continue;
        to_peer(&seen[n].node, &m->id);
        seen[n].epoch = m->hist[best].epoch;
        seen[n].alive = true;
        hist_of[n] = best;
        member_of[n] = i;
        n++;
    }
    size_t idx[MAX_MEMBERS];
    size_t nc = veil_round_candidates(seen, n, r->epoch, VEIL_TELEMETRY_MAX_AGE_EPOCHS, idx);
    r->n_cands = nc;
    r->cands = calloc(nc + 1, sizeof *r->cands);
    r->lists = calloc(nc + 1, sizeof *r->lists);
    r->list_lens = calloc(nc + 1, sizeof *r->list_lens);
    r->excluded = calloc(nc + 1, sizeof *r->excluded);
    if (!r->cands || !r->lists || !r->list_lens || !r->excluded)
        return;
    for (size_t i = 0; i < nc; i++) {
        struct member *m = &d->members[member_of[idx[i]]];
        size_t k = hist_of[idx[i]];
        r->cands[i] = seen[idx[i]].node;
        r->lists[i] = malloc(m->hist[k].len);
        if (!r->lists[i])
            return;
        memcpy(r->lists[i], m->hist[k].data, m->hist[k].len);
        r->list_lens[i] = m->hist[k].len;
        /* replicas land on distinct nodes: exclude those chosen already */
        for (size_t j = 0; j < MAX_ROUNDS; j++) {
            struct round *o = &d->rounds[j];
            if (o->used && o != r && o->decided && o->have_chosen &&
                memcmp(o->job_id, r->job_id, 32) == 0 && peer_eq(&o->chosen, &r->cands[i]))
                r->excluded[i] = true;
        }
    }
    r->computing = true;
    d->computing = true;
    r->work.data = r;
    if (uv_queue_work(d->loop, &r->work, sched_work, sched_after) != 0) {
        r->computing = false;
        d->computing = false;
        r->computed = true;
    } else {
        d->works++;
    }
}

static void try_decide(veil_daemon *d, struct round *r)
{
    if (!d->fhe_ck || r->decided || !r->have_schedulers)
        return;
    for (size_t i = 0; i < r->n_outputs; i++) {
        veil_err err = {0};
        const uint8_t *out = r->outputs[i].data;
        size_t len = r->outputs[i].len;
        /* The guard first: only an output a majority of the round's
         * schedulers vouched for is ever decrypted. */
        if (veil_decrypt_guard(r->job_id, r->replica, r->outputs[i].epoch, out, len, r->schedulers,
                               r->n_schedulers, r->digests, r->n_digests, &err) != 0) {
            veil_log(VEIL_LOG_DEBUG, SUB, "decryption refused",
                     "job=%.16s replica=%u reason=\"%s\"", r->job_hex, r->replica, err.msg);
            continue;
        }
        struct veil_peer_id *cands = NULL;
        size_t nc = 0;
        bool none = true;
        const uint8_t *fhe;
        size_t fhe_len;
        uint32_t index = 0;
        bool found = false;
        int rc = veil_daemon_output_parse(out, len, &cands, &nc, &none, &fhe, &fhe_len, &err);
        if (rc == 0 && !none)
            rc = veil_daemon_output_decrypt(d->fhe_ck, fhe, fhe_len, &index, &found, &err);
        if (rc != 0 || (found && index >= nc)) {
            veil_log(VEIL_LOG_WARN, SUB, "bad scheduler output", "error=\"%s\"", err.msg);
            free(cands);
            continue;
        }
        struct veil_msg_assignment a = {0};
        memcpy(a.job_id, r->job_id, 32);
        a.replica = r->replica;
        a.schedulable = !none && found;
        if (a.schedulable)
            a.node = cands[index];
        veil_sched_output_digest(a.output_digest, r->job_id, r->replica, r->outputs[i].epoch, out,
                                 len);
        a.epoch = r->outputs[i].epoch;
        free(cands);
        veil_buf msg;
        veil_buf_init(&msg);
        if (veil_assignment_sign(&a, d->cluster_id, d->key.secret_key, &err) != 0 ||
            veil_msg_assignment_encode(&msg, &a, &err) != 0 ||
            veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0) {
            veil_log(VEIL_LOG_WARN, SUB, "assignment not published", "error=\"%s\"", err.msg);
            veil_buf_free(&msg);
            return;
        }
        veil_log(VEIL_LOG_INFO, SUB, "assignment signed", "job=%.16s replica=%u schedulable=%d",
                 r->job_hex, r->replica, a.schedulable);
        r->decided = true;
        on_assignment(d, msg.data, msg.len);
        veil_buf_free(&msg);
        return;
    }
    check_agreement(d, r);
}

/* Every node obeys the decryptor's retry of a round: the attempt's digests
 * and outputs are dropped, the schedulers are chosen again from the members
 * alive now, and they evaluate at an epoch >= epoch_min (so that what an
 * earlier attempt computed can never be counted with the new one). */
static void apply_retry(veil_daemon *d, const struct veil_msg_round_retry *m)
{
    struct round *r = round_find(d, m->job_id, m->replica, true);
    if (!r || m->attempt <= r->attempt || r->have_chosen)
        return; /* repeated, stale, or decided already */
    r->attempt = m->attempt;
    r->epoch_min = m->epoch_min;
    r->n_digests = 0;
    round_free_outputs(r);
    r->computed = false; /* an evaluation in flight is dropped when it ends */
    const char *why = m->reason == VEIL_RETRY_SPLIT ? "the schedulers' digests disagreed"
                                                    : "no digest majority before the deadline";
    char note[160];
    veil_err err = {0};
    if (m->final) {
        r->decided = true;
        snprintf(note, sizeof note, "failed after %u attempts: %s", m->attempt, why);
        veil_store_replica_set_state(d->store, r->job_hex, r->replica, VEIL_REPLICA_FAILED, NULL,
                                     &err);
        veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err);
        veil_log(VEIL_LOG_WARN, SUB, "round abandoned",
                 "job=%.16s replica=%u attempts=%u reason=\"%s\"", r->job_hex, r->replica,
                 m->attempt, why);
        if (r->replicas)
            start_next_replica(d, r);
        return;
    }
    snprintf(note, sizeof note, "attempt %u of %d: %s", m->attempt + 1, VEIL_ROUND_MAX_ATTEMPTS,
             why);
    veil_store_replica_set_state(d->store, r->job_hex, r->replica, VEIL_REPLICA_SCHEDULING, NULL,
                                 &err);
    veil_store_replica_set_note(d->store, r->job_hex, r->replica, note, &err);
    veil_log(VEIL_LOG_WARN, SUB, "round retry",
             "job=%.16s replica=%u attempt=%u of=%d epoch_min=%llu reason=\"%s\"", r->job_hex,
             r->replica, m->attempt + 1, VEIL_ROUND_MAX_ATTEMPTS, (unsigned long long)m->epoch_min,
             why);
    if (r->have_req)
        plan_round(d, r); /* otherwise planned when the job itself arrives */
}

/* The decryptor's side: a round with no majority that cannot get one any
 * more (or ran past its deadline) is retried, at most
 * VEIL_ROUND_MAX_ATTEMPTS times in all, then abandoned visibly. */
static void check_agreement(veil_daemon *d, struct round *r)
{
    if (!d->fhe_ck || r->decided || !r->have_schedulers)
        return;
    uint64_t now = wall_ms();
    struct veil_round_tally t;
    enum veil_round_verdict v = veil_round_decide(
        r->schedulers, r->n_schedulers, r->digests, r->n_digests,
        now >= r->planned_ms + round_deadline_ms(d), r->attempt, VEIL_ROUND_MAX_ATTEMPTS, NULL, &t);
    if (v != VEIL_ROUND_RETRY && v != VEIL_ROUND_GIVE_UP)
        return;
    struct veil_msg_round_retry m = {0};
    memcpy(m.job_id, r->job_id, 32);
    m.replica = r->replica;
    m.attempt = r->attempt + 1;
    m.reason = t.split ? VEIL_RETRY_SPLIT : VEIL_RETRY_DEADLINE;
    m.final = v == VEIL_ROUND_GIVE_UP;
    /* after every epoch this attempt used, and after any evaluation still
     * running (it started before now) */
    m.epoch_min = veil_epoch_of(now, d->interval_ms);
    for (size_t i = 0; i < r->n_digests; i++)
        if (r->digest_epochs[i] + 1 > m.epoch_min)
            m.epoch_min = r->digest_epochs[i] + 1;
    veil_log(VEIL_LOG_WARN, SUB, "no digest agreement",
             "job=%.16s replica=%u attempt=%u schedulers=%zu voted=%zu largest=%zu needed=%zu "
             "verdict=%s",
             r->job_hex, r->replica, r->attempt + 1, r->n_schedulers, t.voted, t.largest, t.needed,
             veil_round_verdict_name(v));
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_round_retry_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "round retry not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
    apply_retry(d, &m);
}

static void on_round_retry(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_round_retry m;
    veil_err err = {0};
    if (veil_msg_round_retry_decode(&m, msg->data, msg->data_len, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad round retry", "error=\"%s\"", err.msg);
        return;
    }
    /* only the designated decryptor runs retries (its gossip signature
     * authenticates the author) */
    if (!d->have_decryptor_peer || msg->from_len != d->decryptor_peer.len ||
        memcmp(msg->from, d->decryptor_peer.bytes, msg->from_len) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "round retry from a node other than the decryptor ignored",
                 NULL);
        return;
    }
    apply_retry(d, &m);
}

/* ---- execution: the chosen node runs the replica ------------------------------ */

/* One replica to start on this node (pulled and run on the worker pool: a
 * pull is network I/O and must not stall SWIM and gossip). */
struct exec_job {
    uv_work_t work;
    veil_daemon *d;
    uint8_t job_id[32];
    char job_hex[65];
    uint32_t replica;
    char name[128];
    struct veil_job_spec spec;
    bool have_spec;
    bool image_allowed;
    int rc;
    veil_err err;
    struct veil_container_info info;
};

static void publish_container_status(veil_daemon *d, const uint8_t job_id[32], uint32_t replica,
                                     enum veil_container_state state, int exit_code,
                                     const char *container_id)
{
    struct veil_msg_container_status m = {0};
    memcpy(m.job_id, job_id, 32);
    m.replica = replica;
    to_peer(&m.node, &d->self);
    m.state = (uint8_t)state;
    m.exit_code = exit_code;
    m.time_ms = wall_ms();
    snprintf(m.container_id, sizeof m.container_id, "%.64s", container_id);
    veil_buf msg;
    veil_buf_init(&msg);
    veil_err err = {0};
    if (veil_msg_container_status_encode(&msg, &m, &err) != 0 ||
        veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "container status not published", "error=\"%s\"", err.msg);
    veil_buf_free(&msg);
}

static void exec_work(uv_work_t *w)
{
    struct exec_job *e = w->data;
    veil_daemon *d = e->d;
    struct veil_runtime_config rc;
    if (veil_runtime_config_load(d->cfg, NULL, &rc, &e->err) != 0) {
        e->rc = -1;
        return;
    }
    rc.registry.quiet = true;
    struct veil_image_ref ref;
    struct veil_image_info img = {0};
    if (veil_image_ref_parse(e->spec.image, &ref, &e->err) != 0 ||
        veil_image_pull(rc.data_dir, &ref, &rc.registry, &img, &e->err) != 0) {
        e->rc = -1;
        return;
    }
    /* the command and args of the spec, the environment as K=V, the limits */
    size_t n_args = e->spec.n_command + e->spec.n_args;
    char **args = calloc(n_args + 1, sizeof *args);
    char **env = calloc(e->spec.n_env + 1, sizeof *env);
    e->rc = args && env ? 0 : veil_err_set(&e->err, VEIL_E_NOMEM, "out of memory");
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_command; i++)
        args[i] = e->spec.command[i];
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_args; i++)
        args[e->spec.n_command + i] = e->spec.args[i];
    for (size_t i = 0; e->rc == 0 && i < e->spec.n_env; i++) {
        size_t l = strlen(e->spec.env[i].name) + strlen(e->spec.env[i].value) + 2;
        env[i] = malloc(l);
        if (!env[i]) {
            e->rc = veil_err_set(&e->err, VEIL_E_NOMEM, "out of memory");
            break;
        }
        snprintf(env[i], l, "%s=%s", e->spec.env[i].name, e->spec.env[i].value);
    }
    if (e->rc == 0) {
        struct veil_run_request req = {0};
        req.name = e->name;
        req.image = img.name;
        req.args = n_args ? args : NULL;
        req.n_args = n_args;
        req.env = env;
        req.n_env = e->spec.n_env;
        req.memory_bytes = e->spec.memory_bytes;
        req.cpus = (double)e->spec.cpu_millis / 1000.0;
        req.pids_limit = 256;
        e->rc = veil_container_run(&rc.runtime, &req, false, &e->info, NULL, &e->err);
    }
    for (size_t i = 0; env && i < e->spec.n_env; i++)
        free(env[i]);
    free(env);
    free(args);
    veil_image_info_free(&img);
}

static void exec_after(uv_work_t *w, int status)
{
    struct exec_job *e = w->data;
    veil_daemon *d = e->d;
    veil_err err = {0};
    d->works--;
    if (d->stopping) {
        veil_job_spec_free(&e->spec);
        free(e);
        maybe_free(d);
        return;
    }
    if (status != 0 || e->rc != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "container failed to start",
                 "job=%.16s replica=%u error=\"%s\"", e->job_hex, e->replica,
                 e->rc ? e->err.msg : "cancelled");
        veil_store_container_set_state(d->store, e->name, "failed", -1, &err);
        veil_store_replica_set_state(d->store, e->job_hex, e->replica, VEIL_REPLICA_FAILED, NULL,
                                     &err);
        publish_container_status(d, e->job_id, e->replica, VEIL_CONTAINER_FAILED, -1, e->name);
    } else {
        veil_log(VEIL_LOG_INFO, SUB, "container running", "job=%.16s replica=%u container=%s",
                 e->job_hex, e->replica, e->name);
        veil_store_container_set_state(d->store, e->name, "running", 0, &err);
        veil_store_replica_set_state(d->store, e->job_hex, e->replica, VEIL_REPLICA_RUNNING, NULL,
                                     &err);
        publish_container_status(d, e->job_id, e->replica, VEIL_CONTAINER_RUNNING, 0, e->name);
        if (d->n_watched < MAX_ROUNDS) {
            struct watched *wt = &d->watched[d->n_watched++];
            memcpy(wt->job_id, e->job_id, 32);
            snprintf(wt->job_hex, sizeof wt->job_hex, "%s", e->job_hex);
            wt->replica = e->replica;
            snprintf(wt->name, sizeof wt->name, "%s", e->name);
        }
    }
    if (e->have_spec)
        veil_job_spec_free(&e->spec);
    free(e);
}

/* Polls the containers this node started; reports those that ended. */
static void watch_containers(veil_daemon *d)
{
    /* Container supervisors are forked from veild (the runtime's detached
     * mode) and exit with their container: reap them. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    struct veil_runtime_config rc;
    veil_err err = {0};
    if (d->n_watched == 0 || veil_runtime_config_load(d->cfg, NULL, &rc, &err) != 0)
        return;
    for (size_t i = 0; i < d->n_watched;) {
        struct watched *w = &d->watched[i];
        struct veil_container_info info;
        if (veil_container_inspect(&rc.runtime, w->name, &info, &err) != 0 ||
            (info.status != VEIL_CT_EXITED && info.status != VEIL_CT_STOPPED)) {
            i++;
            continue;
        }
        bool ok = info.exit_code == 0;
        veil_log(VEIL_LOG_INFO, SUB, "container exited", "job=%.16s replica=%u exit_code=%d",
                 w->job_hex, w->replica, info.exit_code);
        veil_store_container_set_state(d->store, w->name, ok ? "exited" : "failed", info.exit_code,
                                       &err);
        veil_store_replica_set_state(d->store, w->job_hex, w->replica,
                                     ok ? VEIL_REPLICA_EXITED : VEIL_REPLICA_FAILED, NULL, &err);
        publish_container_status(d, w->job_id, w->replica,
                                 ok ? VEIL_CONTAINER_EXITED : VEIL_CONTAINER_FAILED, info.exit_code,
                                 w->name);
        *w = d->watched[--d->n_watched];
    }
}

/* A restarted node watches again the containers it started before (named
 * veil-<first 16 hex of the job id>-<replica>), so their exits are reported. */
static void rewatch_containers(veil_daemon *d)
{
    struct veil_runtime_config rc;
    struct veil_container_info *cts = NULL;
    size_t n = 0;
    veil_err err = {0};
    if (veil_runtime_config_load(d->cfg, NULL, &rc, &err) != 0 ||
        veil_container_list(&rc.runtime, false, &cts, &n, &err) != 0)
        return;
    json_t *jobs = veil_store_list_json(d->store, "jobs", &err);
    for (size_t i = 0; i < n && jobs; i++) {
        char prefix[17];
        unsigned replica;
        int used = 0;
        if (sscanf(cts[i].name, "veil-%16[0-9a-f]-%u%n", prefix, &replica, &used) != 2 ||
            cts[i].name[used] != '\0' || d->n_watched == MAX_ROUNDS)
            continue;
        size_t k;
        json_t *j;
        json_array_foreach(jobs, k, j)
        {
            const char *id = json_string_value(json_object_get(j, "id"));
            uint8_t job_id[32];
            if (!id || strncmp(id, prefix, 16) != 0 ||
                veil_hex_decode(job_id, 32, id, strlen(id), false, NULL) != 32)
                continue;
            struct watched *w = &d->watched[d->n_watched++];
            memcpy(w->job_id, job_id, 32);
            snprintf(w->job_hex, sizeof w->job_hex, "%s", id);
            w->replica = replica;
            snprintf(w->name, sizeof w->name, "%s", cts[i].name);
            veil_log(VEIL_LOG_INFO, SUB, "watching container again", "container=%s", w->name);
            break;
        }
    }
    json_decref(jobs);
    free(cts);
}

/* The assignment names this node: check the image against the on-chain
 * policy, then start the replica once (the store's UNIQUE (job, replica)
 * container record keeps a restarted node from starting it twice). */
static void execute_assignment(veil_daemon *d, const uint8_t job_id[32], const char *job_hex,
                               uint32_t replica)
{
    struct exec_job *e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->d = d;
    memcpy(e->job_id, job_id, 32);
    snprintf(e->job_hex, sizeof e->job_hex, "%s", job_hex);
    e->replica = replica;
    snprintf(e->name, sizeof e->name, "veil-%.16s-%u", job_hex, replica);
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_store_job_get(d->store, job_hex, &job, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assigned job unknown", "job=%.16s", job_hex);
        free(e);
        return;
    }
    int rc = veil_job_spec_parse(&e->spec, job.spec_json, strlen(job.spec_json), "job", &err);
    veil_store_job_free(&job);
    if (rc != 0) {
        free(e);
        return;
    }
    e->have_spec = true;
    /* image policy: the digest must be one the cluster allows on chain (an
     * empty list allows every image) */
    veil_contract_policy pol = {0};
    bool allowed = false;
    if (veil_contract_get_policy(d->chain, d->cluster_id, &pol, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "cannot read the image policy", "error=\"%s\"", err.msg);
    } else if (pol.n_image_digests == 0) {
        allowed = true;
    } else if (e->spec.image_digest[0]) {
        uint8_t dg[32];
        if (veil_hex_decode(dg, 32, e->spec.image_digest + 7, 64, false, NULL) == 32)
            for (size_t i = 0; i < pol.n_image_digests; i++)
                allowed |= memcmp(pol.image_digests[i], dg, 32) == 0;
    }
    veil_contract_policy_clear(&pol);
    bool created = false;
    if (veil_store_container_ensure(d->store, job_hex, replica, e->name, &created, &err) != 0 ||
        !created) {
        veil_job_spec_free(&e->spec);
        free(e);
        return;
    }
    if (!allowed) {
        veil_log(VEIL_LOG_WARN, SUB, "image refused by the on-chain policy",
                 "job=%.16s replica=%u image=%s", job_hex, replica, e->spec.image);
        veil_store_container_set_state(d->store, e->name, "refused", -1, &err);
        veil_store_replica_set_state(d->store, job_hex, replica, VEIL_REPLICA_FAILED, NULL, &err);
        publish_container_status(d, job_id, replica, VEIL_CONTAINER_FAILED, -1, e->name);
        veil_job_spec_free(&e->spec);
        free(e);
        return;
    }
    e->work.data = e;
    if (uv_queue_work(d->loop, &e->work, exec_work, exec_after) != 0) {
        veil_job_spec_free(&e->spec);
        free(e);
    } else {
        d->works++;
    }
}

static void on_container_status(veil_daemon *d, const uint8_t *data, size_t len,
                                const struct veil_gs_message *msg)
{
    struct veil_msg_container_status m;
    veil_err err = {0};
    if (veil_msg_container_status_decode(&m, data, len, &err) != 0)
        return;
    if (m.node.len != msg->from_len || memcmp(m.node.bytes, msg->from, msg->from_len) != 0)
        return; /* a node reports only its own containers */
    char job_hex[65];
    veil_hex_encode(job_hex, sizeof job_hex, m.job_id, 32);
    enum veil_replica_state to = m.state == VEIL_CONTAINER_RUNNING  ? VEIL_REPLICA_RUNNING
                                 : m.state == VEIL_CONTAINER_EXITED ? VEIL_REPLICA_EXITED
                                                                    : VEIL_REPLICA_FAILED;
    if (to == VEIL_REPLICA_EXITED) {
        enum veil_replica_state cur;
        if (veil_store_replica_get_state(d->store, job_hex, m.replica, &cur, &err) == 0 &&
            cur == VEIL_REPLICA_ASSIGNED)
            veil_store_replica_set_state(d->store, job_hex, m.replica, VEIL_REPLICA_RUNNING, NULL,
                                         &err);
    }
    veil_store_replica_set_state(d->store, job_hex, m.replica, to, NULL, &err);
    veil_log(VEIL_LOG_INFO, SUB, "container status", "job=%.16s replica=%u state=%s exit_code=%d",
             job_hex, m.replica, veil_replica_state_name(to), m.exit_code);
}

/* A member died: every round that placed a replica on it runs again (the
 * dead member is no candidate any more: rounds use live members only). */
static void reschedule_lost(veil_daemon *d, const struct member *m)
{
    struct veil_peer_id lost;
    to_peer(&lost, &m->id);
    for (size_t i = 0; i < MAX_ROUNDS; i++) {
        struct round *r = &d->rounds[i];
        if (!r->used || !r->have_chosen || !peer_eq(&r->chosen, &lost) || r->computing)
            continue;
        /* only what the store moved to rescheduling (assigned or running
         * there): a replica that exited or failed stays as it is */
        enum veil_replica_state st;
        veil_err err = {0};
        if (veil_store_replica_get_state(d->store, r->job_hex, r->replica, &st, &err) != 0 ||
            st != VEIL_REPLICA_RESCHEDULING)
            continue;
        uint8_t job_id[32];
        uint32_t replica = r->replica, replicas = r->replicas;
        struct veil_sched_request req = r->req;
        uint8_t *ct = r->req_ct;
        size_t ct_len = r->req_ct_len;
        r->req_ct = NULL; /* kept across the recycling of the slot */
        memcpy(job_id, r->job_id, 32);
        round_free(r);
        struct round *n = round_find(d, job_id, replica, true);
        int rc = n ? round_set_req(n, &req, ct, ct_len) : -1;
        free(ct);
        if (rc != 0)
            continue;
        n->replicas = replicas;
        veil_log(VEIL_LOG_INFO, SUB, "rescheduling", "job=%.16s replica=%u lost=%s", n->job_hex,
                 replica, m->text);
        plan_round(d, n);
    }
}

/* A restarted node resumes the rounds its store left unfinished. */
static int resume_replica(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    (void)node;
    veil_daemon *d = ctx;
    uint8_t job_id[32];
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_hex_decode(job_id, 32, job_hex, strlen(job_hex), false, NULL) != 32 ||
        veil_store_job_get(d->store, job_hex, &job, &err) != 0)
        return 0;
    struct veil_job_spec spec;
    int rc = veil_job_spec_parse(&spec, job.spec_json, strlen(job.spec_json), "job", &err);
    if (rc != 0) {
        veil_store_job_free(&job);
        return 0;
    }
    struct round *r = round_find(d, job_id, replica, true);
    if (r && !r->have_schedulers &&
        round_req_from_spec(r, &spec, job.request_ct, job.request_ct_len) == 0) {
        r->resume = true;
        veil_log(VEIL_LOG_INFO, SUB, "resuming", "job=%.16s replica=%u", job_hex, replica);
    }
    veil_store_job_free(&job);
    veil_job_spec_free(&spec);
    return 0;
}

static void on_sched_digest(veil_daemon *d, const struct veil_gs_message *msg)
{
    struct veil_msg_sched_digest m;
    veil_err err = {0};
    if (veil_msg_sched_digest_decode(&m, msg->data, msg->data_len, &err) != 0)
        return;
    if (m.scheduler.len != msg->from_len ||
        memcmp(m.scheduler.bytes, msg->from, msg->from_len) != 0)
        return; /* a digest speaks only for its author */
    struct round *r = round_find(d, m.job_id, m.replica, true);
    if (r)
        add_digest(d, r, &m.scheduler, m.epoch, m.output_digest);
}

static void start_next_replica(veil_daemon *d, const struct round *prev)
{
    if (prev->replica + 1 >= prev->replicas)
        return;
    struct round *r = round_find(d, prev->job_id, prev->replica + 1, true);
    if (!r || r->have_schedulers)
        return;
    if (!prev->have_req || round_set_req(r, &prev->req, prev->req_ct, prev->req_ct_len) != 0)
        return;
    r->replicas = prev->replicas;
    plan_round(d, r);
}

static void on_assignment(veil_daemon *d, const uint8_t *data, size_t len)
{
    struct veil_msg_assignment a;
    veil_err err = {0};
    if (veil_msg_assignment_decode(&a, data, len, &err) != 0 || !d->have_decryptor_peer)
        return;
    uint8_t pk[32];
    if (veil_p2p_peer_id_ed25519_key(&d->decryptor_peer, pk, &err) != 0 ||
        veil_assignment_verify(&a, d->cluster_id, pk, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "assignment refused", "error=\"%s\"", err.msg);
        return;
    }
    struct round *r = round_find(d, a.job_id, a.replica, true);
    if (!r)
        return;
    if (r->have_chosen || (r->decided && !d->fhe_ck))
        return; /* already recorded */
    r->decided = true;
    struct veil_store_assignment sa = {0};
    veil_hex_encode(sa.job_id, sizeof sa.job_id, a.job_id, 32);
    sa.replica = a.replica;
    if (a.schedulable) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(a.node.bytes, a.node.len, &pid, &err) != 0)
            return;
        veil_p2p_peer_id_to_text(&pid, sa.node, sizeof sa.node);
        r->chosen = a.node;
    }
    r->have_chosen = true;
    veil_hex_encode(sa.output_digest, sizeof sa.output_digest, a.output_digest, 32);
    sa.epoch = a.epoch;
    veil_hex_encode(sa.signature, sizeof sa.signature, a.signature, 64);
    uint8_t commitment[32];
    veil_assignment_commitment(commitment, &d->keccak, d->cluster_id, a.job_id, a.replica,
                               a.schedulable ? &a.node : NULL, a.output_digest, a.epoch);
    veil_hex_encode(sa.commitment, sizeof sa.commitment, commitment, 32);
    replica_state(d, sa.job_id, a.replica, VEIL_REPLICA_AWAITING_DECRYPTION);
    if (veil_store_assignment_record(d->store, &sa, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "assignment not stored", "error=\"%s\"", err.msg);
    veil_log(VEIL_LOG_INFO, SUB, "assignment", "job=%.16s replica=%u node=%s", sa.job_id, a.replica,
             a.schedulable ? sa.node : "unschedulable");
    struct veil_peer_id self;
    to_peer(&self, &d->self);
    if (a.schedulable && peer_eq(&a.node, &self))
        execute_assignment(d, a.job_id, sa.job_id, a.replica);
    anchor_note_assignment(d);
    if (r->replicas)
        start_next_replica(d, r);
}

static void on_job_submit(veil_daemon *d, const uint8_t *data, size_t len)
{
    struct veil_msg_job_submit m;
    struct veil_job_spec spec;
    veil_err err = {0};
    if (veil_msg_job_submit_decode(&m, data, len, &err) != 0 ||
        veil_msg_job_submit_check(&m, &spec, &err) != 0) {
        veil_log(VEIL_LOG_WARN, SUB, "job submission refused", "error=\"%s\"", err.msg);
        return;
    }
    char id_hex[65], nonce_hex[2 * VEIL_JOB_NONCE_LEN + 1], submitter[VEIL_PEER_ID_MAX + 1];
    veil_hex_encode(id_hex, sizeof id_hex, m.job_id, 32);
    veil_hex_encode(nonce_hex, sizeof nonce_hex, m.nonce, VEIL_JOB_NONCE_LEN);
    memcpy(submitter, m.submitter.bytes, m.submitter.len);
    submitter[m.submitter.len] = '\0';
    char *json = malloc(m.spec_json_len + 1);
    if (json) {
        memcpy(json, m.spec_json, m.spec_json_len);
        json[m.spec_json_len] = '\0';
        if (veil_store_job_insert_ct(d->store, id_hex, spec.name, json, submitter, nonce_hex,
                                     spec.replicas, m.request_ciphertext, m.request_ciphertext_len,
                                     &err) != 0 &&
            err.code != VEIL_E_EXISTS)
            veil_log(VEIL_LOG_WARN, SUB, "job not stored", "error=\"%s\"", err.msg);
        free(json);
    }
    /* A job seen again (re-announced while a replica is undecided, e.g. to
     * a decryptor back from an outage) continues at its first undecided
     * replica; the replicas decided before it keep their nodes excluded. */
    uint32_t first = 0;
    for (; first < spec.replicas; first++) {
        enum veil_replica_state st;
        if (veil_store_replica_get_state(d->store, id_hex, first, &st, &err) != 0 ||
            st == VEIL_REPLICA_PENDING || st == VEIL_REPLICA_SCHEDULING ||
            st == VEIL_REPLICA_AWAITING_DECRYPTION)
            break;
        struct round *done = round_find(d, m.job_id, first, true);
        char node[96];
        veil_p2p_peer_id pid;
        if (!done || done->have_chosen)
            continue;
        done->decided = true;
        done->replicas = spec.replicas;
        if (veil_store_replica_get_node(d->store, id_hex, first, node, sizeof node, &err) == 0 &&
            node[0] && veil_p2p_peer_id_parse(node, &pid, &err) == 0) {
            to_peer(&done->chosen, &pid);
            done->have_chosen = true;
        }
    }
    struct round *r = first < spec.replicas ? round_find(d, m.job_id, first, true) : NULL;
    if (r && d->test_split_job[0] && strcmp(spec.name, d->test_split_job) == 0)
        r->test_split = true;
    if (r && !r->have_schedulers &&
        round_req_from_spec(r, &spec, m.request_ciphertext, m.request_ciphertext_len) == 0) {
        veil_log(VEIL_LOG_INFO, SUB, "job received",
                 "job=%.16s name=%s replicas=%u replica=%u confidential=%d", id_hex, spec.name,
                 spec.replicas, first, spec.redacted);
        /* A node that just started does not know the live members yet (it
         * would choose itself as the only scheduler): it plans once the mesh
         * had time to form, like the rounds it resumes from its store. */
        if (wall_ms() < d->resume_at_ms)
            r->resume = true;
        else
            plan_round(d, r);
    }
    veil_job_spec_free(&spec);
}

/* The jobs this node's API accepted are announced on the cluster topic. */
struct pending_walk {
    char ids[MAX_ROUNDS][65];
    size_t n;
};

static int collect_pending(void *ctx, const char *job_hex, uint32_t replica, const char *node)
{
    (void)replica;
    (void)node;
    struct pending_walk *w = ctx;
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->ids[i], job_hex) == 0)
            return 0;
    if (w->n == MAX_ROUNDS)
        return 1;
    snprintf(w->ids[w->n++], 65, "%s", job_hex);
    return 0;
}

/* Publishes the JOB_SUBMIT of a job this node's API accepted (`local`: and
 * takes it in itself, the first time). */
static void publish_job(veil_daemon *d, const char *job_hex, bool local)
{
    struct veil_store_job job;
    veil_err err = {0};
    if (veil_store_job_get(d->store, job_hex, &job, &err) != 0)
        return;
    if (strcmp(job.submitter, d->self_text) == 0) {
        struct veil_msg_job_submit m = {0};
        size_t sl = strlen(job.submitter);
        /* the submitter as the API hashed it into the job id: peer ID text */
        if (sl <= VEIL_PEER_ID_MAX &&
            veil_hex_decode(m.job_id, 32, job.id, 64, false, NULL) == 32 &&
            veil_hex_decode(m.nonce, VEIL_JOB_NONCE_LEN, job.nonce, strlen(job.nonce), false,
                            NULL) == VEIL_JOB_NONCE_LEN) {
            memcpy(m.submitter.bytes, job.submitter, sl);
            m.submitter.len = (uint8_t)sl;
            m.spec_json = (const uint8_t *)job.spec_json;
            m.spec_json_len = strlen(job.spec_json);
            m.request_ciphertext = job.request_ct;
            m.request_ciphertext_len = job.request_ct_len;
            veil_buf msg;
            veil_buf_init(&msg);
            if (veil_msg_job_submit_encode(&msg, &m, &err) == 0 &&
                veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, &err) == 0) {
                veil_log(local ? VEIL_LOG_INFO : VEIL_LOG_DEBUG, SUB,
                         local ? "job announced" : "job re-announced", "job=%.16s", job_hex);
                if (local)
                    on_job_submit(d, msg.data, msg.len);
            } else {
                veil_log(VEIL_LOG_WARN, SUB, "job not announced", "error=\"%s\"", err.msg);
            }
            veil_buf_free(&msg);
        }
    }
    veil_store_job_free(&job);
}

static void announce_job(veil_daemon *d, const char *job_hex)
{
    for (size_t i = 0; i < d->n_announced; i++)
        if (strcmp(d->announced[i], job_hex) == 0)
            return;
    publish_job(d, job_hex, true);
    if (d->n_announced < MAX_ROUNDS)
        snprintf(d->announced[d->n_announced++], 65, "%s", job_hex);
    else
        d->n_announced = 0;
}

static void on_job_timer(uv_timer_t *t)
{
    veil_daemon *d = t->data;
    struct pending_walk *w = calloc(1, sizeof *w);
    veil_err err = {0};
    if (w && veil_store_each_replica(d->store, VEIL_REPLICA_PENDING, collect_pending, w, &err) == 0)
        for (size_t i = 0; i < w->n; i++)
            announce_job(d, w->ids[i]);
    free(w);
    uint64_t now = wall_ms();
    if (now >= d->resume_at_ms)
        for (size_t i = 0; i < MAX_ROUNDS; i++)
            if (d->rounds[i].used && d->rounds[i].resume && !d->rounds[i].have_schedulers) {
                d->rounds[i].resume = false;
                plan_round(d, &d->rounds[i]);
            }
    for (size_t i = 0; i < MAX_ROUNDS; i++) {
        struct round *r = &d->rounds[i];
        if (!r->used || !r->have_schedulers || r->decided)
            continue;
        if (d->fhe_ck && now >= r->planned_ms + round_deadline_ms(d))
            check_agreement(d, r);
        if (r->decided || now < r->resend_ms)
            continue;
        /* Undecided for a while: the decryptor may have been down, or have
         * restarted and lost what it held in memory. The submitter
         * re-announces the job, each scheduler re-sends its result. */
        r->resend_ms = now + resend_period_ms(d);
        publish_job(d, r->job_hex, false);
        if (r->i_schedule && r->computed && r->work_rc == 0 && r->output.len > 0 &&
            r->epoch >= r->epoch_min)
            publish_result(d, r, false);
    }
    if (d->computing || !d->fhe_sk)
        return;
    for (size_t i = 0; i < MAX_ROUNDS; i++) {
        struct round *r = &d->rounds[i];
        if (r->used && r->have_schedulers && r->i_schedule && !r->computed && !r->computing &&
            !r->decided && r->not_before_ms <= now) {
            start_compute(d, r);
            return;
        }
    }
}

/* The decryptor's side of /veil/sched-output/1.0.0: one length-prefixed
 * message, job id || replica || epoch || output. */
struct out_recv {
    veil_daemon *d;
    veil_p2p_lp_reader rd;
};

static void out_recv_data(veil_p2p_stream *s, const uint8_t *data, size_t len, void *user_data)
{
    struct out_recv *o = user_data;
    veil_err err = {0};
    const uint8_t *msg;
    size_t n;
    int rc = veil_p2p_lp_reader_feed(&o->rd, data, len, &err);
    if (rc == 0)
        rc = veil_p2p_lp_reader_next(&o->rd, &msg, &n, &err);
    if (rc < 0 || (rc == 1 && n < 44)) {
        veil_p2p_stream_reset(s);
        veil_p2p_lp_reader_free(&o->rd);
        free(o);
        return;
    }
    if (rc == 0)
        return;
    uint8_t job[32];
    uint32_t replica;
    uint64_t epoch;
    const uint8_t *output;
    size_t output_len;
    if (veil_daemon_output_msg_parse(msg, n, job, &replica, &epoch, &output, &output_len, &err) !=
        0)
        return;
    struct veil_peer_id from;
    veil_p2p_peer_id fp = *veil_p2p_stream_peer(s);
    to_peer(&from, &fp);
    struct round *rd = round_find(o->d, job, replica, true);
    if (rd)
        add_output(o->d, rd, &from, epoch, output, output_len);
}

static void out_recv_close(veil_p2p_stream *s, const veil_err *err, void *user_data)
{
    (void)s;
    (void)err;
    struct out_recv *o = user_data;
    veil_p2p_lp_reader_free(&o->rd);
    free(o);
}

static void on_output_stream(veil_p2p_stream *s, const char *protocol, void *user_data)
{
    (void)protocol;
    veil_daemon *d = user_data;
    struct out_recv *o = calloc(1, sizeof *o);
    if (!o || !d->fhe_ck) {
        free(o);
        veil_p2p_stream_reset(s);
        return;
    }
    o->d = d;
    veil_p2p_lp_reader_init(&o->rd, SCHED_OUTPUT_MAX);
    static const struct veil_p2p_stream_callbacks cb = {.on_data = out_recv_data,
                                                        .on_close = out_recv_close};
    veil_p2p_stream_set_callbacks(s, &cb, o);
}

/* TEST ONLY (debug.test_only_gossip_dump): one line per received message,
 * the author's peer ID and the payload in hex. */
static void gossip_dump(veil_daemon *d, const struct veil_gs_message *msg)
{
    if (!d->gossip_dump)
        return;
    char *hex = malloc(2 * msg->data_len + 1);
    veil_p2p_peer_id from;
    if (hex && veil_p2p_peer_id_from_bytes(msg->from, msg->from_len, &from, NULL) == 0) {
        veil_hex_encode(hex, 2 * msg->data_len + 1, msg->data, msg->data_len);
        fprintf(d->gossip_dump, "%s %s\n", veil_p2p_peer_id_str(&from).s, hex);
        fflush(d->gossip_dump);
    }
    free(hex);
}

static void on_topic_message(void *ctx, const struct veil_gs_message *msg)
{
    veil_daemon *d = ctx;
    enum veil_msg_type type;
    veil_err err = {0};
    gossip_dump(d, msg);
    if (veil_msg_peek_type(msg->data, msg->data_len, &type, &err) != 0) {
        veil_log(VEIL_LOG_DEBUG, SUB, "bad cluster message", "error=\"%s\"", err.msg);
        return;
    }
    switch (type) {
    case VEIL_MSG_TELEMETRY:
        on_telemetry(d, msg);
        break;
    case VEIL_MSG_JOB_SUBMIT:
        on_job_submit(d, msg->data, msg->data_len);
        break;
    case VEIL_MSG_SCHED_DIGEST:
        on_sched_digest(d, msg);
        break;
    case VEIL_MSG_ASSIGNMENT:
        on_assignment(d, msg->data, msg->data_len);
        break;
    case VEIL_MSG_CONTAINER_STATUS:
        on_container_status(d, msg->data, msg->data_len, msg);
        break;
    case VEIL_MSG_ROUND_RETRY:
        on_round_retry(d, msg);
        break;
    default:
        break;
    }
}

/* ---- telemetry --------------------------------------------------------------- */

static int telemetry_publish(veil_daemon *d, veil_err *err)
{
    struct veil_telemetry_raw raw;
    if (d->fixed_capacity) {
        raw = d->fixed;
    } else if (veil_telemetry_sample(&d->cpu, veil_config_str(d->cfg, "data_dir", "."), NULL, 100,
                                     &raw, err) != 0) {
        return -1;
    }
    struct veil_telemetry_q q;
    uint16_t words[VEIL_TELEMETRY_WORDS];
    veil_telemetry_quantize_free(&raw, &q);
    veil_telemetry_to_words(&q, words);
    veil_buf ct = {0}, msg = {0};
    int rc = veil_daemon_telemetry_encrypt(d->fhe_pk, words, &ct, err);
    veil_memzero(words, sizeof words);
    veil_memzero(&q, sizeof q);
    veil_memzero(&raw, sizeof raw);
    if (rc == 0) {
        struct veil_msg_telemetry t = {0};
        t.epoch = veil_epoch_of(wall_ms(), d->interval_ms);
        memcpy(t.node.bytes, d->self.bytes, d->self.len);
        t.node.len = d->self.len;
        t.ciphertext = ct.data;
        t.ciphertext_len = ct.len;
        rc = veil_msg_telemetry_encode(&msg, &t, err);
        if (rc == 0 && msg.len > VEIL_MSG_MAX_BYTES)
            rc = veil_err_set(err, VEIL_E_LIMIT, "telemetry message of %zu bytes over %d", msg.len,
                              VEIL_MSG_MAX_BYTES);
        if (rc == 0)
            rc = veil_gossipsub_publish(d->gs, d->topic, msg.data, msg.len, err);
        if (rc == 0) {
            veil_api_note_telemetry_published(d->api);
            struct member *self = member_get(d, d->self.bytes, d->self.len, true);
            if (self) {
                member_add_telemetry(self, t.epoch, ct.data, ct.len);
                self->epoch = t.epoch;
                self->alive = true;
                member_store(d, self);
            }
            veil_log(VEIL_LOG_DEBUG, SUB, "telemetry published", "epoch=%llu bytes=%zu",
                     (unsigned long long)t.epoch, msg.len);
        }
    }
    veil_buf_free(&ct);
    veil_buf_free(&msg);
    return rc;
}

static void on_telemetry_timer(uv_timer_t *t)
{
    veil_daemon *d = t->data;
    veil_err err = {0};
    if (telemetry_publish(d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "telemetry not published", "error=\"%s\"", err.msg);
}

static void on_poll_timer(uv_timer_t *t)
{
    veil_daemon *d = t->data;
    anchor_hold(d);
    veil_anchorer_tick(&d->anchorer, wall_ms());
    watch_containers(d);
    registry_follow(d);
    /* Peers deactivated on chain (the events just applied, or applied by the
     * gater since the last tick) lose their connections. */
    veil_p2p_conn *conns[64];
    size_t n = veil_p2p_host_conns(d->host, conns, VEIL_ARRAY_LEN(conns));
    if (n > VEIL_ARRAY_LEN(conns))
        n = VEIL_ARRAY_LEN(conns);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[32];
        const veil_p2p_peer_id *p = veil_p2p_conn_peer(conns[i]);
        if (veil_p2p_peer_id_ed25519_key(p, key, NULL) != 0 || !registry_has(d, key)) {
            veil_log(VEIL_LOG_WARN, SUB, "closing peer no longer active on chain", "peer=%s",
                     veil_p2p_peer_id_str(p).s);
            veil_p2p_conn_close(conns[i]);
        }
    }
}

/* ---- start and stop ------------------------------------------------------------ */

static int load_public_key(veil_daemon *d, const char *path, veil_err *err)
{
    if (veil_fhe_public_load(path, &d->fhe_pk, err) != 0)
        return veil_err_wrap(err, "zama.public_key_file");
    return 0;
}

/* The evaluation key, and on the designated decryptor (the on-chain
 * policy's decryptor address is this node's) the FHE secret key. */
static int load_fhe_keys(veil_daemon *d, veil_err *err)
{
    const char *srv = veil_config_str(d->cfg, "zama.server_key_file", NULL);
    if (srv && veil_fhe_server_load(srv, (unsigned)veil_config_int(d->cfg, "threads", 0),
                                    &d->fhe_sk, err) != 0)
        return veil_err_wrap(err, "zama.server_key_file");
    veil_contract_policy pol = {0};
    if (veil_contract_get_policy(d->chain, d->cluster_id, &pol, err) != 0)
        return veil_err_wrap(err, "reading the cluster policy");
    if (pol.n_decryptors > 0) {
        d->decryptor = pol.decryptors[0];
        uint64_t cid;
        veil_eth_address op;
        bool active;
        uint8_t key[32];
        if (veil_contract_get_node(d->chain, &d->decryptor, &cid, &op, &active, key, err) == 0 &&
            active && cid == d->cluster_id) {
            veil_p2p_peer_id_from_ed25519(key, &d->decryptor_peer);
            d->have_decryptor_peer = true;
        }
    }
    veil_contract_policy_clear(&pol);
    const veil_eth_address *me = veil_chain_client_signer(d->chain);
    const char *cli = veil_config_str(d->cfg, "zama.client_key_file", NULL);
    if (cli && me && memcmp(me->b, d->decryptor.b, 20) == 0) {
        if (veil_fhe_client_load(cli, &d->fhe_ck, err) != 0)
            return veil_err_wrap(err, "zama.client_key_file");
        veil_log(VEIL_LOG_INFO, SUB, "this node is the cluster's designated decryptor", NULL);
    }
    return 0;
}

static void dial_done(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err,
                      void *user_data)
{
    (void)host;
    (void)user_data;
    if (!conn)
        veil_log(VEIL_LOG_WARN, SUB, "bootstrap dial failed", "error=\"%s\"", err ? err->msg : "?");
}

/* Dials the bootstrap peers and joins SWIM through them. Repeated by a timer
 * for each bootstrap peer that is not a connected live member (it may start
 * later than this node, or the first dials may have formed two groups). */
static int bootstrap(veil_daemon *d, veil_err *err)
{
    const struct veil_config_value *bv = veil_config_get(d->cfg, "libp2p.bootstrap");
    for (size_t i = 0; bv && i < bv->n_items; i++) {
        veil_p2p_multiaddr ma;
        veil_p2p_peer_id pid;
        if (veil_p2p_multiaddr_parse(bv->items[i], &ma, err) != 0)
            return veil_err_wrap(err, "libp2p.bootstrap %s", bv->items[i]);
        if (veil_p2p_multiaddr_peer_id(&ma, &pid, err) != 0)
            return veil_err_wrap(err, "libp2p.bootstrap %s", bv->items[i]);
        if (veil_p2p_peer_id_equal(&pid, &d->self))
            continue; /* ourselves */
        veil_err e2 = {0};
        veil_p2p_multiaddr bare;
        veil_p2p_multiaddr_strip_peer(&ma, &bare);
        if (d->kad &&
            veil_kad_add_address(d->kad, pid.bytes, pid.len, bare.bytes, bare.len, &e2) != 0)
            veil_log(VEIL_LOG_DEBUG, SUB, "bootstrap peer not added to Kademlia",
                     "addr=%s error=\"%s\"", bv->items[i], e2.msg);
        /* Connected and a live SWIM member already? (SWIM's own view: a
         * member's `alive` flag also comes from its telemetry, which reaches
         * this node through gossip even when SWIM never joined it.) */
        struct veil_swim_member sm;
        bool live = d->swim &&
                    veil_swim_member_find(veil_swim_node_state(d->swim), pid.bytes, pid.len, &sm) &&
                    (sm.state == VEIL_SWIM_ALIVE || sm.state == VEIL_SWIM_SUSPECT);
        if (veil_p2p_host_find_conn(d->host, &pid) && live)
            continue;
        if (!veil_p2p_host_find_conn(d->host, &pid) &&
            veil_p2p_host_dial(d->host, &ma, NULL, dial_done, d, &e2) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "bootstrap dial failed", "addr=%s error=\"%s\"",
                     bv->items[i], e2.msg);
        if (veil_swim_node_join(d->swim, bv->items[i], &e2) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "SWIM join failed", "addr=%s error=\"%s\"", bv->items[i],
                     e2.msg);
    }
    return 0;
}

/* Kademlia's bootstrap (a lookup of our own ID, then of a random one) has
 * run: the peers it found were dialed (dial_discovered), so a node that knew
 * one bootstrap peer is now connected to the others it learned of. */
static void on_kad_bootstrap(veil_kad *kad, const veil_err *err,
                             const struct veil_kad_peer *closest, size_t n, void *user_data)
{
    veil_daemon *d = user_data;
    if (err && err->code == VEIL_E_STATE)
        return; /* detached: the daemon is stopping */
    d->kad_busy = false;
    if (err) {
        veil_log(VEIL_LOG_WARN, SUB, "Kademlia bootstrap failed", "error=\"%s\"", err->msg);
        return;
    }
    char ids[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used + 2 < sizeof ids; i++) {
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(closest[i].id, closest[i].id_len, &pid, NULL) != 0)
            continue;
        int w = snprintf(ids + used, sizeof ids - used, "%s%s", used ? "," : "",
                         veil_p2p_peer_id_str(&pid).s);
        if (w < 0 || (size_t)w >= sizeof ids - used)
            break;
        used += (size_t)w;
    }
    veil_log(VEIL_LOG_INFO, SUB, "Kademlia bootstrap done", "table=%zu found=%zu peers=%s",
             veil_kad_table_size(veil_kad_routing_table(kad)), n, ids);
}

/* Runs Kademlia's bootstrap now if none is running. */
static void kad_bootstrap(veil_daemon *d)
{
    veil_err err = {0};
    if (!d->kad || d->kad_busy)
        return;
    d->kad_at_ms = uv_now(d->loop);
    if (veil_kad_bootstrap(d->kad, on_kad_bootstrap, d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "Kademlia bootstrap not started", "error=\"%s\"", err.msg);
    else
        d->kad_busy = true;
    d->kad_runs++;
}

static void on_peer_connected(veil_p2p_host *host, veil_p2p_conn *conn, void *user_data)
{
    (void)host;
    (void)user_data;
    veil_log(VEIL_LOG_DEBUG, SUB, "peer connected", "peer=%s inbound=%d",
             veil_p2p_peer_id_str(veil_p2p_conn_peer(conn)).s, veil_p2p_conn_is_inbound(conn));
}

static void on_bootstrap_timer(uv_timer_t *t)
{
    veil_daemon *d = t->data;
    veil_err err = {0};
    if (bootstrap(d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "bootstrap failed", "error=\"%s\"", err.msg);
    /* Kademlia's bootstrap again: every 5 s while the mesh forms (the first
     * runs, or while the chain lists more active nodes than this one is
     * connected to), then every KAD_REFRESH_MS for nodes that join later. */
    veil_p2p_conn *conns[1];
    size_t connected = veil_p2p_host_conns(d->host, conns, 0);
    uint64_t since = uv_now(d->loop) - d->kad_at_ms;
    if (since >= KAD_REFRESH_MS ||
        ((d->kad_runs < 3 || connected + 1 < d->n_allowed) && since >= 5000))
        kad_bootstrap(d);
}

static int start_p2p(veil_daemon *d, veil_err *err)
{
    const char *key_file = veil_config_str(d->cfg, "libp2p.key_file", NULL);
    char def_key[4200];
    if (!key_file) {
        snprintf(def_key, sizeof def_key, "%s/p2p.key", veil_config_str(d->cfg, "data_dir", "."));
        key_file = def_key;
    }
    veil_p2p_keypair kp;
    if (veil_p2p_keypair_load(&kp, key_file, err) != 0)
        return veil_err_wrap(err, "libp2p key (run 'veil node join' first)");
    d->key = kp;
    veil_p2p_peer_id_from_ed25519(kp.public_key, &d->self);
    veil_p2p_peer_id_to_text(&d->self, d->self_text, sizeof d->self_text);
    struct veil_p2p_host_config hc;
    veil_p2p_host_config_init(&hc);
    hc.key = &kp;
    hc.gater = gater;
    hc.gater_data = d;
    int rc = veil_p2p_host_new(d->loop, &hc, &d->host, err);
    veil_p2p_keypair_wipe(&kp);
    if (rc != 0)
        return -1;
    static const struct veil_p2p_events ev = {.on_connected = on_peer_connected};
    if (veil_p2p_host_add_listener(d->host, &ev, d, err) < 0)
        return -1;
    const struct veil_config_value *lv = veil_config_get(d->cfg, "libp2p.listen");
    for (size_t i = 0; lv && i < lv->n_items; i++) {
        veil_p2p_multiaddr ma;
        if (veil_p2p_multiaddr_parse(lv->items[i], &ma, err) != 0 ||
            veil_p2p_host_listen(d->host, &ma, err) != 0)
            return veil_err_wrap(err, "libp2p.listen %s", lv->items[i]);
    }
    struct veil_gs_config gc;
    veil_gs_config_default(&gc);
    if (veil_gossipsub_attach(d->host, &gc, &d->gs, err) != 0 ||
        veil_gossipsub_subscribe(d->gs, d->topic, on_topic_message, d, err) != 0)
        return -1;
    struct veil_swim_attach_config sc = {0};
    sc.meta = (const uint8_t *)d->org;
    sc.meta_len = strlen(d->org);
    sc.on_event = on_swim_event;
    sc.user_data = d;
    if (veil_swim_attach(d->host, &sc, &d->swim, err) != 0)
        return -1;
    /* Kademlia: the bootstrap peers seed the routing table; its bootstrap
     * lookups find (and dial) the other nodes, and run again from the
     * bootstrap timer for nodes that join later. The gater still decides who
     * gets in: a discovered peer not active on chain is refused. */
    struct veil_kad_config kc;
    veil_kad_config_default(&kc);
    kc.refresh_interval_ms = 0; /* refreshed from the bootstrap timer */
    if (veil_kad_attach(d->host, &kc, &d->kad, err) != 0)
        return veil_err_wrap(err, "Kademlia");
    if (d->fhe_ck &&
        veil_p2p_host_set_handler(d->host, SCHED_OUTPUT_PROTO, on_output_stream, d, err) != 0)
        return -1;
    if (bootstrap(d, err) != 0)
        return -1;
    kad_bootstrap(d);
    veil_p2p_multiaddr addrs[8];
    size_t na = veil_p2p_host_listen_addrs(d->host, addrs, VEIL_ARRAY_LEN(addrs));
    for (size_t i = 0; i < na && i < VEIL_ARRAY_LEN(addrs); i++) {
        char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (veil_p2p_multiaddr_to_text(&addrs[i], text, sizeof text, NULL) == 0)
            veil_log(VEIL_LOG_INFO, SUB, "listening", "addr=%s/p2p/%s", text, d->self_text);
    }
    return 0;
}

/* Anchoring: the designated decryptor sends, in batch or single mode. */
static int anchorer_init(veil_daemon *d, veil_err *err)
{
    const char *mode = veil_config_str(d->cfg, "anchor.mode", "batch");
    if (strcmp(mode, "batch") != 0 && strcmp(mode, "single") != 0)
        return veil_err_set(err, VEIL_E_INVALID, "anchor.mode must be batch or single, not '%s'",
                            mode);
    struct veil_anchorer *a = &d->anchorer;
    a->store = d->store;
    a->chain = d->chain;
    a->contract = d->contract;
    a->cluster_id = d->cluster_id;
    a->keccak = &d->keccak;
    a->sender = d->fhe_ck != NULL;
    a->batch = strcmp(mode, "batch") == 0;
    a->interval_ms = d->interval_ms;
    /* defaults follow the telemetry epoch: 6 of them per batch (one minute
     * at the default 10 s), sent 2 epochs after the batch epoch ends */
    int64_t bi = veil_config_int(d->cfg, "anchor.batch_interval", 6 * (int64_t)d->interval_ms);
    int64_t bd = veil_config_int(d->cfg, "anchor.batch_delay", 2 * (int64_t)d->interval_ms);
    a->batch_ms = bi > 0 ? (uint64_t)bi : d->interval_ms;
    a->delay_ms = bd > 0 ? (uint64_t)bd : 0;
    a->hold_batch = UINT64_MAX;
    /* a round stuck in flight (no digest majority, decryptor input lost)
     * holds its batch epoch at most this long; what it decides later is
     * anchored on its own */
    a->max_hold_ms = 5 * a->batch_ms;
    const char *crash = veil_config_str(d->cfg, "debug.test_only_anchor_crash", NULL);
    if (crash) {
        if (strcmp(crash, "before_send") == 0)
            a->crash = VEIL_ANCHOR_CRASH_BEFORE_SEND;
        else if (strcmp(crash, "after_send") == 0)
            a->crash = VEIL_ANCHOR_CRASH_AFTER_SEND;
        else
            return veil_err_set(err, VEIL_E_INVALID,
                                "debug.test_only_anchor_crash must be before_send or after_send");
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: this node crashes around its first anchor",
                 "when=%s", crash);
    }
    if (a->sender)
        veil_log(VEIL_LOG_INFO, SUB, "this node anchors the cluster's assignments",
                 "mode=%s batch_interval_ms=%llu delay_ms=%llu", mode,
                 (unsigned long long)a->batch_ms, (unsigned long long)a->delay_ms);
    return 0;
}

/* TEST ONLY: a copy of every received cluster-topic message, so that the
 * privacy test can search what other nodes actually get. */
static int gossip_dump_open(veil_daemon *d, veil_err *err)
{
    const char *dump = veil_config_str(d->cfg, "debug.test_only_gossip_dump", NULL);
    if (dump) {
        d->gossip_dump = fopen(dump, "a");
        if (!d->gossip_dump)
            return veil_err_set(err, VEIL_E_IO, "debug.test_only_gossip_dump %s: %s", dump,
                                strerror(errno));
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: received cluster messages are dumped", "file=%s",
                 dump);
    }
    return 0;
}

int veil_daemon_start(veil_daemon **out, uv_loop_t *loop, const veil_config *cfg, veil_err *err)
{
    *out = NULL;
    veil_daemon *d = calloc(1, sizeof *d);
    if (!d)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    d->loop = loop;
    d->cfg = cfg;
    d->keccak.fn = keccak_hash;
    snprintf(d->org, sizeof d->org, "%s", veil_config_str(cfg, "node.organization", ""));
    const char *cid = veil_config_str(cfg, "cluster_id", NULL);
    const char *contract = veil_config_str(cfg, "contract_address", NULL);
    const char *pub = veil_config_str(cfg, "zama.public_key_file", NULL);
    char *end = NULL;
    if (!cid || !contract || !pub) {
        veil_err_set(err, VEIL_E_INVALID,
                     "cluster_id, contract_address and zama.public_key_file are required "
                     "(run 'veil node join BUNDLE' and start veild -c DATA_DIR/veild.yaml)");
        goto fail;
    }
    if (veil_eth_address_parse(contract, &d->contract, err) != 0) {
        veil_err_wrap(err, "contract_address");
        goto fail;
    }
    errno = 0;
    d->cluster_id = strtoull(cid, &end, 10);
    if (errno || !end || *end || d->cluster_id == 0) {
        veil_err_set(err, VEIL_E_INVALID, "cluster_id '%s' is not a cluster number", cid);
        goto fail;
    }
    snprintf(d->topic, sizeof d->topic, "/veil/cluster/%llu/v1", (unsigned long long)d->cluster_id);
    d->interval_ms = (uint64_t)veil_config_int(cfg, "telemetry.interval", 10000);
    if (d->interval_ms < 100)
        d->interval_ms = 100;
    const char *fixed = veil_config_str(cfg, "telemetry.test_only_capacity", NULL);
    if (fixed) {
        if (veil_telemetry_test_override_parse(fixed, &d->fixed, err) != 0) {
            veil_err_wrap(err, "telemetry.test_only_capacity");
            goto fail;
        }
        d->fixed_capacity = true;
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: telemetry is a fixed capacity, not sampled", NULL);
    }
    const char *split = veil_config_str(cfg, "debug.test_only_split_job", NULL);
    if (split && *split) {
        snprintf(d->test_split_job, sizeof d->test_split_job, "%s", split);
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: first-attempt digests of these jobs are falsified",
                 "job_name=%s", d->test_split_job);
    }
    if (load_public_key(d, pub, err) != 0)
        goto fail;
    const char *ks = veil_config_str(cfg, "keystore", NULL);
    if (veil_daemon_chain_open(veil_config_str(cfg, "rpc_url", "http://127.0.0.1:8545"),
                               (uint64_t)veil_config_int(cfg, "chain_id", 0), contract, ks,
                               veil_config_str(cfg, "keystore_password_file", NULL), &d->chain,
                               err) != 0)
        goto fail;
    /* The registry once, then its events from the block after the one this
     * snapshot saw (an event in between is applied again: harmless, each
     * one is checked against the node's current record). */
    uint64_t head = 0;
    if (veil_rpc_block_number(veil_chain_client_rpc(d->chain), &head, err) != 0 ||
        registry_refresh(d, err) != 0) {
        veil_err_wrap(err, "reading the cluster's nodes from the registry");
        goto fail;
    }
    veil_log_follower_init(&d->follower, head + 1,
                           (uint64_t)veil_config_int(cfg, "chain.confirmations", 2));
    d->followed_at_ms = uv_now(loop);
    if (load_fhe_keys(d, err) != 0)
        goto fail;
    if (veil_store_open(&d->store, veil_config_str(cfg, "data_dir", "."), err) != 0)
        goto fail;
    if (anchorer_init(d, err) != 0 || gossip_dump_open(d, err) != 0)
        goto fail;
    if (start_p2p(d, err) != 0)
        goto fail;
    char token_path[4200];
    if (veil_api_token_path(cfg, token_path, sizeof token_path, err) != 0)
        goto fail;
    struct veil_api_config ac = {.listen = veil_config_str(cfg, "api.listen", "127.0.0.1:7070"),
                                 .token_file = token_path,
                                 .submitter = d->self_text};
    if (veil_api_start(&d->api, &ac, d->store, err) != 0)
        goto fail;
    struct member *self = member_get(d, d->self.bytes, d->self.len, true);
    if (self) {
        snprintf(self->org, sizeof self->org, "%s", d->org);
        self->alive = true;
        member_store(d, self);
    }
    uv_timer_init(loop, &d->telemetry_timer);
    uv_timer_init(loop, &d->poll_timer);
    uv_timer_init(loop, &d->bootstrap_timer);
    uv_timer_init(loop, &d->job_timer);
    d->telemetry_timer.data = d->poll_timer.data = d->bootstrap_timer.data = d;
    d->job_timer.data = d;
    uv_timer_start(&d->job_timer, on_job_timer, 200, 200);
    /* Unfinished rounds from the store are planned once the mesh had time to
     * form and telemetry to arrive (two epochs). */
    d->resume_at_ms = wall_ms() + 2 * d->interval_ms + 1000;
    rewatch_containers(d);
    static const enum veil_replica_state unfinished[] = {
        VEIL_REPLICA_SCHEDULING, VEIL_REPLICA_AWAITING_DECRYPTION, VEIL_REPLICA_RESCHEDULING};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(unfinished); i++)
        veil_store_each_replica(d->store, unfinished[i], resume_replica, d, err);
    uv_timer_start(&d->bootstrap_timer, on_bootstrap_timer, 2000, 2000);
    /* first telemetry soon after start (peers have had a moment to connect) */
    uv_timer_start(&d->telemetry_timer, on_telemetry_timer, 1000, d->interval_ms);
    uv_timer_start(&d->poll_timer, on_poll_timer, REGISTRY_POLL_MS, REGISTRY_POLL_MS);
    veil_log(VEIL_LOG_INFO, SUB, "node started", "peer=%s cluster=%llu topic=%s api=%s",
             d->self_text, (unsigned long long)d->cluster_id, d->topic, ac.listen);
    *out = d;
    return 0;
fail:
    veil_daemon_stop(d, NULL, NULL);
    return -1;
}

static void free_daemon(veil_daemon *d)
{
    for (size_t i = 0; i < d->n_members; i++)
        for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
            free(d->members[i].hist[k].data);
    for (size_t i = 0; i < MAX_ROUNDS; i++)
        round_free(&d->rounds[i]);
    if (d->fhe_sk)
        veil_fhe_server_free(d->fhe_sk);
    if (d->fhe_ck)
        veil_fhe_client_free(d->fhe_ck);
    veil_p2p_keypair_wipe(&d->key);
    if (d->store)
        veil_store_close(d->store);
    if (d->chain)
        veil_chain_client_close(d->chain);
    if (d->fhe_pk)
        veil_fhe_public_free(d->fhe_pk);
    free(d->allowed);
    if (d->gossip_dump)
        fclose(d->gossip_dump);
    void (*done)(void *) = d->done;
    void *data = d->done_data;
    free(d);
    if (done)
        done(data);
}

/* Freed once its handles are closed and no worker item is in flight (a
 * round's or a container start's completion still points at it). */
static void maybe_free(veil_daemon *d)
{
    if (d->handles_closed && d->works == 0)
        free_daemon(d);
}

static void handle_closed(uv_handle_t *h)
{
    veil_daemon *d = h->data;
    if (--d->closing_handles == 0) {
        d->handles_closed = true;
        maybe_free(d);
    }
}

static void host_closed(void *user_data)
{
    veil_daemon *d = user_data;
    d->host = NULL;
    d->closing_handles++;
    uv_close((uv_handle_t *)&d->telemetry_timer, handle_closed);
    d->closing_handles++;
    uv_close((uv_handle_t *)&d->poll_timer, handle_closed);
    d->closing_handles++;
    uv_close((uv_handle_t *)&d->bootstrap_timer, handle_closed);
    d->closing_handles++;
    uv_close((uv_handle_t *)&d->job_timer, handle_closed);
}

void veil_daemon_stop(veil_daemon *d, void (*done)(void *user_data), void *user_data)
{
    if (!d)
        return;
    d->done = done;
    d->done_data = user_data;
    d->stopping = true;
    if (d->api) {
        veil_api_stop(d->api);
        d->api = NULL;
    }
    if (d->swim) {
        veil_swim_detach(d->swim);
        d->swim = NULL;
    }
    if (d->kad) {
        veil_kad_detach(d->kad);
        d->kad = NULL;
    }
    if (d->gs) {
        veil_gossipsub_detach(d->gs);
        d->gs = NULL;
    }
    bool timers =
        uv_is_active((uv_handle_t *)&d->telemetry_timer) || d->telemetry_timer.loop != NULL;
    if (d->host) {
        if (timers) {
            uv_timer_stop(&d->telemetry_timer);
            uv_timer_stop(&d->poll_timer);
            uv_timer_stop(&d->bootstrap_timer);
            uv_timer_stop(&d->job_timer);
            veil_p2p_host_close(d->host, host_closed, d);
        } else {
            veil_p2p_host_close(d->host, NULL, NULL);
            free_daemon(d);
        }
        return;
    }
    free_daemon(d);
}
