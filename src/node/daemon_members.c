// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_members.c - the cluster's members as this node sees them (SWIM's
 * alive/dead, into the store; a dead member's replicas are rescheduled) and
 * encrypted telemetry: this node's quantized free capacity -> one compact
 * public-key FHE ciphertext list -> gossip (under the 64 KiB message cap),
 * and the other members' ciphertexts kept by epoch for the rounds.
 *
 * Telemetry values never leave this process in plaintext: only the
 * ciphertext is published, only the epoch of others' telemetry is stored.
 * Liveness is SWIM's alone: telemetry never marks a member alive.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_core.h"
#include "daemon_members.h"
#include "daemon_sched.h"

struct member *veil_daemon_member_get(veil_daemon *d, const uint8_t *id, size_t len, bool create)
{
    for (size_t i = 0; i < d->n_members; i++)
        if (d->members[i].id.len == len && memcmp(d->members[i].id.bytes, id, len) == 0)
            return &d->members[i];
    if (!create)
        return NULL;
    if (d->n_members == MAX_MEMBERS) {
        /* the one fixed limit left: the scheduling circuit's 8-bit node
         * index (issue 20 widens it); said, not silent */
        veil_log(VEIL_LOG_WARN, SUB, "member not tracked: the member table is full", "limit=%d",
                 MAX_MEMBERS);
        return NULL;
    }
    veil_p2p_peer_id pid;
    if (veil_p2p_peer_id_from_bytes(id, len, &pid, NULL) != 0)
        return NULL;
    struct member *m = &d->members[d->n_members++];
    memset(m, 0, sizeof *m);
    m->id = pid;
    veil_p2p_peer_id_to_text(&pid, m->text, sizeof m->text);
    return m;
}

void veil_daemon_member_store(veil_daemon *d, const struct member *m)
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

void veil_daemon_on_swim_event(veil_swim_node *node, const struct veil_swim_event *ev,
                               void *user_data)
{
    (void)node;
    veil_daemon *d = user_data;
    struct member *m = veil_daemon_member_get(d, ev->id, ev->id_len, true);
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
        /* it may have missed announcements, or this node may have (cut
         * off): this node asks the members for what it lacks of their jobs
         * (daemon_sync.c), and they ask it the same way */
        if (!m->alive || ev->type == VEIL_SWIM_EV_JOIN)
            catchup_soon(&d->catchup, veil_daemon_wall_ms());
        m->alive = true;
        veil_daemon_member_store(d, m);
        break;
    case VEIL_SWIM_EV_DEAD:
    case VEIL_SWIM_EV_LEAVE: {
        m->alive = false;
        veil_daemon_member_store(d, m);
        size_t moved = 0;
        veil_err err = {0};
        if (veil_store_node_lost(d->store, m->text, &moved, &err) != 0)
            veil_log(VEIL_LOG_WARN, SUB, "store node lost failed", "error=\"%s\"", err.msg);
        else if (moved)
            veil_log(VEIL_LOG_INFO, SUB, "replicas to reschedule", "node=%s count=%zu", m->text,
                     moved);
        veil_daemon_reschedule_lost(d, m);
        break;
    }
    case VEIL_SWIM_EV_SUSPECT:
        break;
    }
}

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

/* SWIM is the only authority over liveness: telemetry is gossip, which
 * may arrive late (a paused node's queued messages, a message relayed or
 * served again from a peer's cache after its author was declared dead), so
 * it is kept for the rounds but never revives a member SWIM holds dead (the
 * store's `alive` would then disagree with SWIM until its next event, and
 * rounds would wait on a dead node's votes). */
int veil_daemon_member_take_telemetry(struct member *m, uint64_t epoch, const uint8_t *ct,
                                      size_t len)
{
    if (epoch < m->epoch || member_add_telemetry(m, epoch, ct, len) != 0)
        return -1;
    m->epoch = epoch;
    return 0;
}

void veil_daemon_on_telemetry(veil_daemon *d, const struct veil_gs_message *msg)
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
    struct member *m = veil_daemon_member_get(d, t.node.bytes, t.node.len, true);
    if (!m || veil_daemon_member_take_telemetry(m, t.epoch, t.ciphertext, t.ciphertext_len) != 0)
        return;
    veil_daemon_member_store(d, m);
    veil_daemon_holder_telemetry_probe(d, &t); /* TEST ONLY; refused */
    veil_log(VEIL_LOG_DEBUG, SUB, "telemetry received", "peer=%s epoch=%llu bytes=%zu", m->text,
             (unsigned long long)t.epoch, t.ciphertext_len);
}

/* True when a member's telemetry of `epoch` may have been dropped from its
 * full history (its oldest entry is newer): a round at that epoch can no
 * longer see the inputs it was planned on. */
bool veil_daemon_member_evicted(const struct member *m, uint64_t epoch)
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

static int telemetry_publish(veil_daemon *d, veil_err *err)
{
    struct veil_telemetry_raw raw;
    if (d->fixed_capacity) {
        raw = d->fixed;
    } else if (veil_telemetry_sample(&d->cpu, veil_config_str(d->cfg, "data_dir", "."), NULL, 100,
                                     &raw, err) != 0) {
        return -1;
    } else {
        veil_daemon_latency_fill(&d->latency, veil_daemon_wall_ms(), raw.rtt_us);
    }
    struct veil_telemetry_q q;
    uint16_t words[VEIL_TELEMETRY_WORDS];
    veil_telemetry_quantize_free(&raw, &q);
    /* H1: round every free value down to its capacity class before it is
     * encrypted, so no comparison reveals more than the class */
    veil_privacy_class_res(&d->privacy, q.res, VEIL_RES_COUNT);
    veil_telemetry_to_words(&q, words);
    uint16_t own_words[VEIL_TELEMETRY_WORDS];
    memcpy(own_words, words, sizeof own_words);
    veil_buf ct = {0}, msg = {0};
    int rc = veil_daemon_telemetry_encrypt(d->fhe_pk, words, &ct, err);
    veil_memzero(words, sizeof words);
    veil_memzero(&q, sizeof q);
    veil_memzero(&raw, sizeof raw);
    if (rc == 0) {
        struct veil_msg_telemetry t = {0};
        t.epoch = veil_epoch_of(veil_daemon_wall_ms(), d->interval_ms);
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
            veil_daemon_keys_own_words(d, t.epoch, own_words); /* what its keys are computed on */
            veil_api_note_telemetry_published(d->api);
            struct member *self = veil_daemon_member_get(d, d->self.bytes, d->self.len, true);
            if (self && member_add_telemetry(self, t.epoch, ct.data, ct.len) != 0)
                veil_log(VEIL_LOG_WARN, SUB, "own telemetry not kept", "epoch=%llu",
                         (unsigned long long)t.epoch);
            if (self) {
                self->epoch = t.epoch;
                self->alive = true;
                veil_daemon_member_store(d, self);
            }
            veil_log(VEIL_LOG_DEBUG, SUB, "telemetry published", "epoch=%llu bytes=%zu",
                     (unsigned long long)t.epoch, msg.len);
        }
    }
    veil_memzero(own_words, sizeof own_words);
    veil_buf_free(&ct);
    veil_buf_free(&msg);
    return rc;
}

void veil_daemon_telemetry_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    veil_err err = {0};
    if (telemetry_publish(d, &err) != 0)
        veil_log(VEIL_LOG_WARN, SUB, "telemetry not published", "error=\"%s\"", err.msg);
}

size_t veil_daemon_member_hist_at(const struct member *m, uint64_t epoch)
{
    size_t best = TELEMETRY_HISTORY;
    for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
        if (m->hist[k].data && m->hist[k].epoch <= epoch &&
            (best == TELEMETRY_HISTORY || m->hist[k].epoch > m->hist[best].epoch))
            best = k;
    return best;
}

void veil_daemon_members_free(veil_daemon *d)
{
    for (size_t i = 0; i < d->n_members; i++)
        for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
            free(d->members[i].hist[k].data);
    d->n_members = 0;
}
