// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_dash.c - veild's in-memory state as the dashboard shows it (issue
 * 19), read on the loop thread (a cron task) and handed to the API's
 * dashboard cache as one JSON snapshot, so that the API's thread never
 * touches the daemon's tables:
 *   members: per member, the size in bytes and the epoch of the last
 *            telemetry ciphertext this node keeps (never a value);
 *   rounds:  per job, each replica's round: lifecycle state, attempt of
 *            VEIL_ROUND_MAX_ATTEMPTS, the schedulers, the digest tally
 *            (voted, largest, needed: veil_round_decide's), the agreed
 *            digest once a majority formed, when it was planned and its
 *            deadline. A settled round drops its digests (round_move): the
 *            last tally an earlier snapshot of the same attempt saw is kept
 *            when it had the majority, else voted/largest are null. Never the chosen node: the
 *            API adds what this node may see of a replica from the store,
 *            trimmed (hook H4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon_core.h"
#include "daemon_dash.h"
#include "dashboard.h"

static json_t *peer_json(const struct veil_peer_id *p)
{
    veil_p2p_peer_id pid;
    char text[VEIL_P2P_PEER_ID_TEXT_MAX];
    if (veil_p2p_peer_id_from_bytes(p->bytes, p->len, &pid, NULL) != 0 ||
        veil_p2p_peer_id_to_text(&pid, text, sizeof text) < 0)
        return json_string("?");
    return json_string(text);
}

/* Each member's newest kept telemetry message: {peer: {epoch, bytes}}. */
static json_t *members_json(const veil_daemon *d)
{
    json_t *out = json_object();
    for (size_t i = 0; out && i < d->n_members; i++) {
        const struct member *m = &d->members[i];
        size_t best = TELEMETRY_HISTORY;
        for (size_t k = 0; k < TELEMETRY_HISTORY; k++)
            if (m->hist[k].data &&
                (best == TELEMETRY_HISTORY || m->hist[k].epoch > m->hist[best].epoch))
                best = k;
        if (best == TELEMETRY_HISTORY)
            continue;
        json_object_set_new(out, m->text,
                            json_pack("{s:I, s:I}", "epoch", (json_int_t)m->hist[best].epoch,
                                      "bytes", (json_int_t)m->hist[best].len));
    }
    return out;
}

static json_t *round_json(const veil_daemon *d, const struct round *r)
{
    struct veil_round_tally t = {0};
    uint8_t agreed[32];
    enum veil_round_verdict v =
        veil_round_decide(r->schedulers, r->n_schedulers, r->digests, r->n_digests, false,
                          r->attempt, VEIL_ROUND_MAX_ATTEMPTS, agreed, &t);
    json_t *scheds = json_array();
    for (size_t i = 0; scheds && i < r->n_schedulers; i++)
        json_array_append_new(scheds, peer_json(&r->schedulers[i]));
    bool planned = r->planned_ms != 0;
    json_t *o = json_pack(
        "{s:i, s:s, s:i, s:i, s:o, s:I, s:I, s:I, s:b, s:b, s:o, s:o}", "replica", (int)r->replica,
        "state", veil_round_state_name(r->state), "attempt", (int)r->attempt + 1, "max_attempts",
        VEIL_ROUND_MAX_ATTEMPTS, "schedulers", scheds, "voted", (json_int_t)t.voted, "largest",
        (json_int_t)t.largest, "needed", (json_int_t)t.needed, "split", t.split,
        "this_node_schedules", r->i_schedule, "planned_ms",
        planned ? json_integer((json_int_t)r->planned_ms) : json_null(), "deadline_ms",
        planned ? json_integer((json_int_t)(r->planned_ms + veil_daemon_round_deadline_ms(d)))
                : json_null());
    if (o && v == VEIL_ROUND_AGREED) {
        char hex[65];
        veil_hex_encode(hex, sizeof hex, agreed, sizeof agreed);
        json_object_set_new(o, "agreed_digest", json_string(hex));
    }
    return o;
}

/* A settled round's tally from the previous snapshot `prev` (same replica
 * and attempt) when it showed a majority, else null counts. */
static void keep_tally(json_t *o, json_t *prev_list)
{
    json_t *p = NULL, *row;
    size_t i;
    json_array_foreach(prev_list, i, row)
    {
        if (json_equal(json_object_get(row, "replica"), json_object_get(o, "replica")) &&
            json_equal(json_object_get(row, "attempt"), json_object_get(o, "attempt")))
            p = row;
    }
    /* only a tally that had the majority the decision needed: a node that
     * saw fewer digests than the decryptor would show a split it never had */
    bool seen = json_integer_value(json_object_get(p, "largest")) >=
                    json_integer_value(json_object_get(o, "needed")) &&
                json_integer_value(json_object_get(p, "largest")) > 0;
    static const char *const keys[] = {"voted", "largest", "agreed_digest"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = seen ? json_object_get(p, keys[k]) : NULL;
        if (v)
            json_object_set(o, keys[k], v);
        else if (k < 2)
            json_object_set_new(o, keys[k], json_null());
    }
}

/* {job_hex: [round, ...]} over the round table. */
static json_t *rounds_json(const veil_daemon *d, json_t *prev)
{
    json_t *out = json_object();
    for (size_t i = 0; out && i < d->rounds.n; i++) {
        const struct round *r = d->rounds.v[i];
        json_t *list = json_object_get(out, r->job_hex);
        if (!list) {
            list = json_array();
            json_object_set_new(out, r->job_hex, list);
        }
        json_t *o = round_json(d, r);
        if (o && veil_round_state_terminal(r->state) && r->n_digests == 0)
            keep_tally(o, json_object_get(prev, r->job_hex));
        json_array_append_new(list, o);
    }
    return out;
}

void veil_daemon_dash_tick(veil_daemon *d, uint64_t now_ms)
{
    (void)now_ms;
    struct veil_dash_cache *c = veil_api_dash_cache(d->api);
    if (!c)
        return;
    json_t *prev = veil_dash_cache_daemon_rounds(c);
    json_t *view =
        json_pack("{s:o, s:o}", "members", members_json(d), "rounds", rounds_json(d, prev));
    json_decref(prev);
    if (!view) {
        veil_log(VEIL_LOG_WARN, SUB, "dashboard snapshot: out of memory", NULL);
        return;
    }
    veil_dash_cache_set_daemon_view(c, view);
}
