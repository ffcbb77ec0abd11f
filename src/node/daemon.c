// SPDX-License-Identifier: Apache-2.0
/*
 * daemon.c - the core of veild's node daemon (owned by the veild
 * integration): it decides the node's roles once at start (from the keys it
 * holds and the on-chain policy), starts the services (store, chain client,
 * libp2p, HTTP API), runs one periodic dispatcher that calls each role's
 * tick at that role's own period (as Redis's serverCron calls each xxxCron),
 * routes cluster-topic messages to the role that handles them, and stops
 * everything in order. The roles' work lives in daemon_<role>.c (see
 * daemon_core.h for the map).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_core.h"
#include "daemon_dash.h"
#include "daemon_overlay.h"
#include "daemon_policy.h"
#include "daemon_sched.h"

/* An attempt of a round that has no digest majority after this long (and at
 * least 6 telemetry intervals) is retried by the decryptor: a scheduler may
 * have died, or telemetry differed between schedulers. Generous, because a
 * retry discards the work of schedulers that are merely slow. */
#define ROUND_DEADLINE_MS 60000
/* While a round is undecided its submitter re-announces the job (with a
 * growing gap, at most jobs.reannounce_max times) and its schedulers
 * re-publish their digest and re-send their output this often (2 telemetry
 * intervals, clamped): a decryptor that was down, or restarted and lost what
 * it held in memory, gets everything again when it is back. */
#define RESEND_MIN_MS           3000
#define RESEND_MAX_MS           30000
#define REGISTRY_POLL_MS        5000
#define BOOTSTRAP_MS            2000
#define ROUND_TICK_MS           200
#define ROUND_RETENTION_DEFAULT 600000 /* ms: settled rounds kept in memory */
#define REANNOUNCE_MAX_DEFAULT  20

uint64_t veil_daemon_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool veil_daemon_peer_eq(const struct veil_peer_id *a, const struct veil_peer_id *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

void veil_daemon_to_peer(struct veil_peer_id *out, const veil_p2p_peer_id *in)
{
    memset(out, 0, sizeof *out);
    memcpy(out->bytes, in->bytes, in->len);
    out->len = in->len;
}

void veil_daemon_publish(veil_daemon *d, const veil_buf *msg, const char *what)
{
    veil_err err = {0};
    if (veil_gossipsub_publish(d->gs, d->topic, msg->data, msg->len, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "not published", "what=%s error=\"%s\"", what, err.msg);
}

uint64_t veil_daemon_resend_period_ms(const veil_daemon *d)
{
    uint64_t p = 2 * d->interval_ms;
    return p < RESEND_MIN_MS ? RESEND_MIN_MS : p > RESEND_MAX_MS ? RESEND_MAX_MS : p;
}

/* The base, or twice a full queue of evaluations at this node's measured
 * speed when that is longer (round_pace_deadline_ms). */
uint64_t veil_daemon_round_deadline_ms(const veil_daemon *d)
{
    uint64_t base = 6 * d->interval_ms > ROUND_DEADLINE_MS ? 6 * d->interval_ms : ROUND_DEADLINE_MS;
    return round_pace_deadline_ms(&d->rounds.pace, base);
}

void veil_daemon_roles_text(unsigned roles, char *out, size_t cap)
{
    static const struct {
        unsigned role;
        const char *name;
    } names[] = {{VEIL_ROLE_MEMBER, "member"},       {VEIL_ROLE_SCHEDULER, "scheduler"},
                 {VEIL_ROLE_DECRYPTOR, "decryptor"}, {VEIL_ROLE_ANCHORER, "anchorer"},
                 {VEIL_ROLE_EXECUTOR, "executor"},   {VEIL_ROLE_KEY_HOLDER, "key_holder"}};
    size_t used = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < VEIL_ARRAY_LEN(names); i++) {
        if (!(roles & names[i].role))
            continue;
        int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", names[i].name);
        if (w < 0 || (size_t)w >= cap - used)
            return;
        used += (size_t)w;
    }
}

/* ---- the cluster topic ---------------------------------------------------- */

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

void veil_daemon_on_topic_message(void *ctx, const struct veil_gs_message *msg)
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
        veil_daemon_on_telemetry(d, msg);
        break;
    case VEIL_MSG_JOB_SUBMIT:
        veil_daemon_on_job_submit(d, msg->data, msg->data_len, msg->from, msg->from_len);
        break;
    case VEIL_MSG_SCHED_DIGEST:
        veil_daemon_on_sched_digest(d, msg);
        break;
    case VEIL_MSG_ASSIGNMENT:
        veil_daemon_on_assignment(d, msg->data, msg->data_len);
        break;
    case VEIL_MSG_CONTAINER_STATUS:
        veil_daemon_on_container_status(d, msg->data, msg->data_len, msg);
        break;
    case VEIL_MSG_ROUND_RETRY:
        veil_daemon_on_round_retry(d, msg);
        break;
    case VEIL_MSG_PARTIAL:
        veil_daemon_on_partial(d, msg);
        break;
    case VEIL_MSG_NODE_KEY:
        veil_daemon_on_node_key(d, msg);
        break;
    default:
        break;
    }
}

/* ---- the cron ------------------------------------------------------------ */

static void cron_add(veil_daemon *d, const char *name, unsigned role, uint64_t period_ms,
                     uint64_t first_ms, void (*tick)(veil_daemon *, uint64_t))
{
    if (d->n_cron == DAEMON_CRON_MAX)
        return; /* the table below fits: a programming error caught in review */
    struct daemon_cron *c = &d->cron[d->n_cron++];
    c->name = name;
    c->role = role;
    c->period_ms = period_ms;
    c->next_ms = uv_now(d->loop) + first_ms;
    c->tick = tick;
}

/* The anchorer's passes run on workers (issue 18): counted as work in
 * flight, so that the daemon is freed only after the last one. */
static bool anchor_work_begin(void *ctx)
{
    veil_daemon *d = ctx;
    if (d->stopping)
        return false;
    d->works++;
    return true;
}

static void anchor_work_end(void *ctx)
{
    veil_daemon *d = ctx;
    d->works--;
    if (d->stopping)
        veil_daemon_maybe_free(d);
}

static void latency_tick(veil_daemon *d, uint64_t now_ms)
{
    veil_daemon_latency_tick(&d->latency, d->host, now_ms);
}

/* Each role's periodic work, at its own period, in this order within one
 * dispatch (the round-related ticks at 200 ms, as the job timer was). */
static void cron_init(veil_daemon *d)
{
    cron_add(d, "intake", VEIL_ROLE_MEMBER, ROUND_TICK_MS, ROUND_TICK_MS, veil_daemon_intake_tick);
    cron_add(d, "decryptor", VEIL_ROLE_DECRYPTOR, ROUND_TICK_MS, ROUND_TICK_MS,
             veil_daemon_decryptor_tick);
    cron_add(d, "rounds", VEIL_ROLE_MEMBER, ROUND_TICK_MS, ROUND_TICK_MS, veil_daemon_rounds_tick);
    cron_add(d, "scheduler", VEIL_ROLE_SCHEDULER, ROUND_TICK_MS, ROUND_TICK_MS,
             veil_daemon_scheduler_tick);
    /* first telemetry soon after start (peers have had a moment to connect) */
    cron_add(d, "telemetry", VEIL_ROLE_MEMBER, d->interval_ms, 1000, veil_daemon_telemetry_tick);
    cron_add(d, "anchor", VEIL_ROLE_MEMBER, REGISTRY_POLL_MS, REGISTRY_POLL_MS,
             veil_daemon_anchor_tick);
    cron_add(d, "executor", VEIL_ROLE_EXECUTOR, REGISTRY_POLL_MS, REGISTRY_POLL_MS,
             veil_daemon_exec_tick);
    cron_add(d, "registry", VEIL_ROLE_MEMBER, REGISTRY_POLL_MS, REGISTRY_POLL_MS,
             veil_daemon_registry_tick);
    cron_add(d, "policy", VEIL_ROLE_MEMBER, 1000, 1000, veil_daemon_policy_cron);
    cron_add(d, "latency", VEIL_ROLE_MEMBER, 1000, 1000, latency_tick);
    cron_add(d, "dashboard", VEIL_ROLE_MEMBER, DAEMON_DASH_PERIOD_MS, DAEMON_DASH_PERIOD_MS,
             veil_daemon_dash_tick);
    cron_add(d, "bootstrap", VEIL_ROLE_MEMBER, BOOTSTRAP_MS, BOOTSTRAP_MS,
             veil_daemon_bootstrap_tick);
    if (d->overlay)
        cron_add(d, "overlay", VEIL_ROLE_MEMBER, BOOTSTRAP_MS, 500, veil_daemon_overlay_tick);
}

/* The dispatcher: runs what is due, nothing else. A tick keeps its phase
 * (telemetry stays one per epoch); one that ran late is not run twice. */
static void on_cron(uv_timer_t *t)
{
    veil_daemon *d = t->data;
    uint64_t mono = uv_now(d->loop);
    for (size_t i = 0; i < d->n_cron && !d->stopping; i++) {
        struct daemon_cron *c = &d->cron[i];
        if (mono < c->next_ms || !daemon_has_role(d, c->role))
            continue;
        c->next_ms += c->period_ms;
        if (c->next_ms <= mono)
            c->next_ms = mono + c->period_ms;
        c->tick(d, veil_daemon_wall_ms());
    }
}

/* ---- start and stop --------------------------------------------------------- */

static int load_public_key(veil_daemon *d, const char *path, veil_err *err)
{
    if (veil_fhe_public_load(path, &d->fhe_pk, err) != 0)
        return veil_err_wrap(err, "zama.public_key_file");
    return 0;
}

/* The Ed25519 key of the designated decryptor, active in this cluster: from
 * the chain, or at a start from the stored view (issue 18) from the stored
 * member set, which holds only the cluster's active nodes. */
static bool decryptor_key(veil_daemon *d, uint8_t key[32], veil_err *err)
{
    uint64_t cid;
    veil_eth_address op;
    bool active;
    if (d->chain_from_store)
        return veil_daemon_registry_stored_key(d, &d->decryptor, key);
    return veil_contract_get_node(d->chain, &d->decryptor, &cid, &op, &active, key, err) == 0 &&
           active && cid == d->cluster_id;
}

/* The designated decryptor of the on-chain policy (its first decryptor),
 * and on that node the FHE secret key. */
static int load_designated(veil_daemon *d, const veil_contract_policy *pol, veil_err *err)
{
    if (pol->n_decryptors > 0) {
        d->decryptor = pol->decryptors[0];
        uint8_t key[32];
        if (decryptor_key(d, key, err)) {
            veil_p2p_peer_id_from_ed25519(key, &d->decryptor_peer);
            d->have_decryptor_peer = true;
        }
    }
    const veil_eth_address *me = veil_chain_client_signer(d->chain);
    const char *cli = veil_config_str(d->cfg, "zama.client_key_file", NULL);
    if (cli && me && memcmp(me->b, d->decryptor.b, 20) == 0) {
        if (veil_fhe_client_load(cli, &d->fhe_ck, err) != 0)
            return veil_err_wrap(err, "zama.client_key_file");
        veil_log(VEIL_LOG_INFO, SUB, "this node is the cluster's designated decryptor", NULL);
    }
    return 0;
}

/* The evaluation key, then who decrypts: the key holders a threshold
 * dealing names (threshold.pub beside the public key, its hash the
 * policy's), or the policy's designated decryptor. After the libp2p start:
 * a key holder opens its share with the node's identity key. */
static int load_fhe_keys(veil_daemon *d, veil_err *err)
{
    const char *srv = veil_config_str(d->cfg, "zama.server_key_file", NULL);
    if (srv && veil_fhe_server_load(srv, (unsigned)veil_config_int(d->cfg, "threads", 0),
                                    &d->fhe_sk, err) != 0)
        return veil_err_wrap(err, "zama.server_key_file");
    veil_contract_policy pol = {0};
    uint64_t stored_block = 0;
    if (veil_daemon_policy_boot(d, &pol, &stored_block, err) != 0)
        return -1;
    if (d->chain_from_store) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "chain unreachable at start: using the policy and members stored at block %llu",
                 (unsigned long long)stored_block);
        veil_log(VEIL_LOG_WARN, SUB, msg, "policy_version=%llu members=%zu members_block=%llu",
                 (unsigned long long)pol.version, d->n_allowed,
                 (unsigned long long)(d->follower.next_block - 1));
    }
    int rc = veil_daemon_holder_init(d, pol.fhe_key_hash, pol.n_decryptors, err);
    if (rc == 0 && !d->th.cluster)
        rc = load_designated(d, &pol, err);
    veil_contract_policy_clear(&pol);
    return rc;
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
    a->host = (struct veil_anchor_host){
        .loop = d->loop, .begin = anchor_work_begin, .end = anchor_work_end, .ctx = d};
    a->sender = daemon_has_role(d, VEIL_ROLE_ANCHORER);
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
    /* anchors count once as deep as the registry follower's events */
    int64_t conf = veil_config_int(d->cfg, "chain.confirmations", 2);
    a->confirmations = (uint64_t)veil_config_int(d->cfg, "anchor.confirmations", conf);
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

static void keccak_hash(uint8_t out[32], const struct veil_hash_iov *parts, size_t n, void *ctx)
{
    (void)ctx;
    veil_keccak k;
    veil_keccak_init(&k);
    for (size_t i = 0; i < n; i++)
        veil_keccak_update(&k, parts[i].data, parts[i].len);
    veil_keccak_final(&k, out);
}

/* The node's roles, decided once: every node is a member and runs what it
 * is assigned; holding the server key makes it a scheduler; the designated
 * decryptor (holding the client key) also sends the anchors; in a threshold
 * cluster a node holding a share is a key holder. */
static void decide_roles(veil_daemon *d)
{
    d->roles = VEIL_ROLE_MEMBER | VEIL_ROLE_EXECUTOR;
    if (d->fhe_sk)
        d->roles |= VEIL_ROLE_SCHEDULER;
    if (d->fhe_ck)
        d->roles |= VEIL_ROLE_DECRYPTOR | VEIL_ROLE_ANCHORER;
    /* threshold: every holder decrypts; the first one sends the anchors */
    if (d->th.share)
        d->roles |= VEIL_ROLE_KEY_HOLDER | (d->th.index == 1 ? VEIL_ROLE_ANCHORER : 0);
}

/* The cluster this node belongs to (written by `veil node join`). */
static int read_cluster(veil_daemon *d, veil_err *err)
{
    const char *cid = veil_config_str(d->cfg, "cluster_id", NULL);
    const char *contract = veil_config_str(d->cfg, "contract_address", NULL);
    char *end = NULL;
    if (!cid || !contract || !veil_config_str(d->cfg, "zama.public_key_file", NULL))
        return veil_err_set(err, VEIL_E_INVALID,
                            "cluster_id, contract_address and zama.public_key_file are required "
                            "(run 'veil node join BUNDLE' and start veild -c DATA_DIR/veild.yaml)");
    if (veil_eth_address_parse(contract, &d->contract, err) != 0)
        return veil_err_wrap(err, "contract_address");
    errno = 0;
    d->cluster_id = strtoull(cid, &end, 10);
    if (errno || !end || *end || d->cluster_id == 0)
        return veil_err_set(err, VEIL_E_INVALID, "cluster_id '%s' is not a cluster number", cid);
    snprintf(d->topic, sizeof d->topic, "/veil/cluster/%llu/v1", (unsigned long long)d->cluster_id);
    d->interval_ms = (uint64_t)veil_config_int(d->cfg, "telemetry.interval", 10000);
    if (d->interval_ms < 100)
        d->interval_ms = 100;
    veil_privacy_policy_default(&d->privacy);
    int64_t keep = veil_config_int(d->cfg, "jobs.round_retention", ROUND_RETENTION_DEFAULT);
    int64_t max = veil_config_int(d->cfg, "jobs.reannounce_max", REANNOUNCE_MAX_DEFAULT);
    d->round_retention_ms = keep > 0 ? (uint64_t)keep : 0;
    d->reannounce_max = max > 0 ? (uint32_t)(max < 1000000 ? max : 1000000) : 0;
    return 0;
}

/* TEST ONLY switches: fixed telemetry, falsified first-attempt digests. */
static int read_test_switches(veil_daemon *d, veil_err *err)
{
    const char *fixed = veil_config_str(d->cfg, "telemetry.test_only_capacity", NULL);
    if (fixed) {
        if (veil_telemetry_test_override_parse(fixed, &d->fixed, err) != 0)
            return veil_err_wrap(err, "telemetry.test_only_capacity");
        d->fixed_capacity = true;
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: telemetry is a fixed capacity, not sampled", NULL);
    }
    const char *split = veil_config_str(d->cfg, "debug.test_only_split_job", NULL);
    if (split && *split) {
        snprintf(d->test_split_job, sizeof d->test_split_job, "%s", split);
        veil_log(VEIL_LOG_WARN, SUB, "TEST ONLY: first-attempt digests of these jobs are falsified",
                 "job_name=%s", d->test_split_job);
    }
    return 0;
}

/* Whether the store holds the policy and the member set of this cluster:
 * only then may veild start while its chain RPC is unreachable (issue 18). */
static bool stored_view(veil_daemon *d)
{
    struct veil_store_chain_member *v = NULL;
    uint8_t *abi = NULL;
    size_t n = 0, len = 0;
    uint64_t block;
    bool members = false, policy = false;
    veil_err err = {0};
    if (veil_store_chain_members_get(d->store, d->cluster_id, &v, &n, &block, &members, &err) !=
            0 ||
        veil_store_chain_policy_get(d->store, d->cluster_id, &abi, &len, &block, &policy, &err) !=
            0)
        veil_log(VEIL_LOG_WARN, SUB, "stored chain view not read", "error=\"%s\"", err.msg);
    free(v);
    free(abi);
    return members && policy;
}

static int open_chain(veil_daemon *d, veil_err *err)
{
    const veil_config *cfg = d->cfg;
    int (*chain_open)(const char *, uint64_t, const char *, const char *, const char *,
                      veil_chain_client **, veil_err *) =
        stored_view(d) ? veil_daemon_chain_open_deferred : veil_daemon_chain_open;
    if (chain_open(veil_config_str(cfg, "rpc_url", "http://127.0.0.1:8545"),
                   (uint64_t)veil_config_int(cfg, "chain_id", 0),
                   veil_config_str(cfg, "contract_address", NULL),
                   veil_config_str(cfg, "keystore", NULL),
                   veil_config_str(cfg, "keystore_password_file", NULL), &d->chain, err) != 0)
        return -1;
    return veil_daemon_registry_load(d, err);
}

static int start_api(veil_daemon *d, const char **listen, veil_err *err)
{
    char token_path[4200];
    if (veil_api_token_path(d->cfg, token_path, sizeof token_path, err) != 0)
        return -1;
    *listen = veil_config_str(d->cfg, "api.listen", "127.0.0.1:7070");
    /* the dashboard's chain views reach the chain client through veild's
     * config; the API itself links only veil_node */
    struct veil_api_config ac = {.listen = *listen,
                                 .token_file = token_path,
                                 .submitter = d->self_text,
                                 .node_cfg = d->cfg,
                                 .dash_chain = veil_dashboard_chain_view};
    return veil_api_start(&d->api, &ac, d->store, err);
}

/* The decryptor and the key holders receive scheduler outputs. */
static int set_output_handler(veil_daemon *d, veil_err *err)
{
    if (!daemon_has_role(d, VEIL_ROLE_DECRYPTOR) && !daemon_has_role(d, VEIL_ROLE_KEY_HOLDER))
        return 0;
    return veil_p2p_host_set_handler(d->host, SCHED_OUTPUT_PROTO, veil_daemon_on_output_stream, d,
                                     err);
}

/* This node as a member of its own cluster. */
static void add_self(veil_daemon *d)
{
    struct member *self = veil_daemon_member_get(d, d->self.bytes, d->self.len, true);
    if (self) {
        snprintf(self->org, sizeof self->org, "%s", d->org);
        self->alive = true;
        veil_daemon_member_store(d, self);
    }
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
    /* the store before the chain: it holds the view of the chain a start
     * during an RPC outage uses (issue 18) */
    if (read_cluster(d, err) != 0 || read_test_switches(d, err) != 0 ||
        load_public_key(d, veil_config_str(cfg, "zama.public_key_file", NULL), err) != 0 ||
        veil_store_open(&d->store, veil_config_str(cfg, "data_dir", "."), err) != 0 ||
        open_chain(d, err) != 0 || veil_daemon_identity_load(d, err) != 0 ||
        load_fhe_keys(d, err) != 0)
        goto fail;
    decide_roles(d);
    if (anchorer_init(d, err) != 0 || gossip_dump_open(d, err) != 0 ||
        veil_daemon_p2p_start(d, err) != 0 || set_output_handler(d, err) != 0 ||
        veil_daemon_overlay_start(d, err) != 0)
        goto fail;
    const char *listen = NULL;
    if (start_api(d, &listen, err) != 0)
        goto fail;
    add_self(d);
    /* Unfinished rounds from the store are planned once the mesh had time to
     * form and telemetry to arrive (two epochs). */
    d->resume_at_ms = veil_daemon_wall_ms() + 2 * d->interval_ms + 1000;
    veil_daemon_rewatch_containers(d);
    veil_daemon_intake_reload(d); /* before the resume: held jobs stay held */
    veil_daemon_resume_rounds(d);
    uv_timer_init(loop, &d->cron_timer);
    d->cron_timer.data = d;
    cron_init(d);
    uv_timer_start(&d->cron_timer, on_cron, DAEMON_CRON_BASE, DAEMON_CRON_BASE);
    char roles[96];
    veil_daemon_roles_text(d->roles, roles, sizeof roles);
    veil_log(VEIL_LOG_INFO, SUB, "node started",
             "peer=%s cluster=%llu topic=%s api=%s roles=%s round_retention_ms=%llu "
             "reannounce_max=%u",
             d->self_text, (unsigned long long)d->cluster_id, d->topic, listen, roles,
             (unsigned long long)d->round_retention_ms, d->reannounce_max);
    *out = d;
    return 0;
fail:
    veil_daemon_stop(d, NULL, NULL);
    return -1;
}

static void free_daemon(veil_daemon *d)
{
    veil_daemon_members_free(d);
    veil_anchorer_free(&d->anchorer);
    round_table_free(&d->rounds);
    veil_daemon_holder_free(d);
    watch_list_free(&d->watched);
    id_set_free(&d->announced);
    intake_defer_free(&d->deferred);
    veil_daemon_keys_free(d); /* node-computed keys (daemon_keys.c) */
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
    veil_daemon_policy_free(d);
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
void veil_daemon_maybe_free(veil_daemon *d)
{
    if (d->handles_closed && d->works == 0)
        free_daemon(d);
}

static void handle_closed(uv_handle_t *h)
{
    veil_daemon *d = h->data;
    if (--d->closing_handles == 0) {
        d->handles_closed = true;
        veil_daemon_maybe_free(d);
    }
}

static void host_closed(void *user_data)
{
    veil_daemon *d = user_data;
    d->host = NULL;
    d->closing_handles++;
    uv_close((uv_handle_t *)&d->cron_timer, handle_closed);
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
    veil_daemon_overlay_stop(d);
    if (d->gs) {
        veil_gossipsub_detach(d->gs);
        d->gs = NULL;
    }
    bool timer = d->cron_timer.loop != NULL;
    if (d->host) {
        if (timer) {
            uv_timer_stop(&d->cron_timer);
            veil_p2p_host_close(d->host, host_closed, d);
        } else {
            veil_p2p_host_close(d->host, NULL, NULL);
            free_daemon(d);
        }
        return;
    }
    if (timer) { /* started, then the host went away: close the timer first */
        d->closing_handles++;
        uv_close((uv_handle_t *)&d->cron_timer, handle_closed);
        return;
    }
    free_daemon(d);
}
