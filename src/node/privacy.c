// SPDX-License-Identifier: Apache-2.0
/*
 * privacy.c - the rules that keep the scheduler from being a capacity oracle
 * (issue 12; include/veil/privacy.h, docs/THREAT_MODEL.md): capacity classes,
 * the per-member outcome budget and its ledger, the constraint-isolation
 * check, the outcome-redaction rule and its application to the API's JSON
 * rows. Pure: no clock (callers pass the time), no I/O, caller-owned state;
 * every node computes the same answers from the same inputs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <veil/privacy.h>

void veil_privacy_policy_default(struct veil_privacy_policy *p)
{
    memset(p, 0, sizeof *p);
    p->ratio_num = 2;
    p->ratio_den = 1;
    p->outcomes_per_period = 32;
    p->period_s = 3600;
    p->min_label_members = 2;
}

static bool classes_on(const struct veil_privacy_policy *p)
{
    return p->ratio_num != 0 && p->ratio_den != 0;
}

int veil_privacy_policy_check(const struct veil_privacy_policy *p, veil_err *err)
{
    if ((p->ratio_num == 0) != (p->ratio_den == 0))
        return veil_err_set(err, VEIL_E_INVALID,
                            "privacy policy: class ratio %" PRIu32 "/%" PRIu32
                            " (both 0 disables classes)",
                            p->ratio_num, p->ratio_den);
    /* num/den >= 5/4, in 64 bits: 4 num >= 5 den */
    if (classes_on(p) && 4ull * p->ratio_num < 5ull * p->ratio_den)
        return veil_err_set(err, VEIL_E_INVALID,
                            "privacy policy: class ratio %" PRIu32 "/%" PRIu32
                            " is below 5/4 (classes that fine hide nothing)",
                            p->ratio_num, p->ratio_den);
    if (p->outcomes_per_period != 0 && p->period_s == 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "privacy policy: an outcome budget needs a period of at least 1 s");
    if (p->min_label_members == 0)
        return veil_err_set(err, VEIL_E_INVALID,
                            "privacy policy: min_label_members must be at least 1");
    return 0;
}

uint32_t veil_privacy_hidden_bp(const struct veil_privacy_policy *p)
{
    if (!classes_on(p))
        return 0;
    /* (q - 1) / (q + 1) with q = num / den */
    uint64_t num = (uint64_t)p->ratio_num - p->ratio_den,
             den = (uint64_t)p->ratio_num + p->ratio_den;
    return (uint32_t)(10000 * num / den);
}

static uint32_t next_bound(const struct veil_privacy_policy *p, uint32_t b)
{
    uint64_t n = ((uint64_t)b * p->ratio_num + p->ratio_den - 1) / p->ratio_den;
    return n > b ? (n > UINT32_MAX ? UINT32_MAX : (uint32_t)n) : b + 1;
}

uint16_t veil_privacy_class_down(const struct veil_privacy_policy *p, uint16_t v)
{
    if (!classes_on(p) || v == 0)
        return v;
    uint32_t b = 1;
    for (uint32_t n = next_bound(p, b); n <= v; n = next_bound(p, b))
        b = n;
    return (uint16_t)b;
}

void veil_privacy_class_res(const struct veil_privacy_policy *p, uint16_t *res, size_t n)
{
    for (size_t i = 0; i < n; i++)
        res[i] = veil_privacy_class_down(p, res[i]);
}

uint32_t veil_privacy_class_next(const struct veil_privacy_policy *p, uint16_t v)
{
    if (!classes_on(p))
        return (uint32_t)v + 1;
    uint32_t n = v == 0 ? 1 : next_bound(p, veil_privacy_class_down(p, v));
    return n > 0xFFFF ? 0xFFFF : n;
}

/* ------------------------------------------------------------------------ */

static bool same_member(const struct veil_privacy_slot *a, const uint8_t *m, size_t len)
{
    return a->member_len == len && memcmp(a->member, m, len) == 0;
}

/* Drops entries whose period is before the previous one. */
static void prune(struct veil_privacy_ledger *l, uint64_t current)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->used[i].slot.period + 1 >= current)
            l->used[w++] = l->used[i];
    l->n = w;
}

static void refuse(veil_err *why, const struct veil_privacy_slot *s, const char *what)
{
    char hex[2 * VEIL_PRIVACY_MEMBER_MAX + 1];
    size_t n = s->member_len < 8 ? s->member_len : 8;
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", s->member[i]);
    hex[2 * n] = '\0';
    (void)veil_err_set(why, VEIL_E_LIMIT, "member %s... period %" PRIu64 " slot %" PRIu32 ": %s",
                       hex, s->period, s->seq, what);
}

int veil_privacy_budget_charge(struct veil_privacy_ledger *l, const struct veil_privacy_policy *p,
                               const struct veil_privacy_slot *s, uint64_t now_s,
                               enum veil_privacy_verdict *verdict, veil_err *why, veil_err *err)
{
    if (p->outcomes_per_period == 0 || p->period_s == 0) {
        *verdict = VEIL_PRIVACY_ACCEPT; /* no budget in this cluster's policy */
        return 0;
    }
    if (s->member_len == 0 || s->member_len > VEIL_PRIVACY_MEMBER_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "outcome slot: member key of %u bytes",
                            s->member_len);
    uint64_t cur = now_s / p->period_s;
    prune(l, cur);
    /* one period of skew either way: nodes' clocks need not agree closely */
    if (s->period + 1 < cur || s->period > cur + 1) {
        *verdict = VEIL_PRIVACY_STALE;
        refuse(why, s, "not the current outcome period (clock skew over one period?)");
        return 0;
    }
    if (s->seq >= p->outcomes_per_period) {
        *verdict = VEIL_PRIVACY_OVER_BUDGET;
        char m[96];
        snprintf(m, sizeof m, "over the cluster's budget of %" PRIu32 " outcomes per %" PRIu32 " s",
                 p->outcomes_per_period, p->period_s);
        refuse(why, s, m);
        return 0;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct veil_privacy_slot *u = &l->used[i].slot;
        if (!same_member(u, s->member, s->member_len) || u->period != s->period || u->seq != s->seq)
            continue;
        bool same_job = memcmp(u->job_id, s->job_id, sizeof u->job_id) == 0;
        *verdict = same_job ? VEIL_PRIVACY_REPEAT : VEIL_PRIVACY_REUSED;
        if (!same_job)
            refuse(why, s, "slot already used by another job (equivocation: both are evidence)");
        return 0;
    }
    if (l->n >= l->cap)
        return veil_err_set(err, VEIL_E_LIMIT, "outcome ledger full (%zu slots)", l->cap);
    l->used[l->n++].slot = *s;
    *verdict = VEIL_PRIVACY_ACCEPT;
    return 0;
}

uint32_t veil_privacy_budget_next(const struct veil_privacy_ledger *l,
                                  const struct veil_privacy_policy *p, const uint8_t *member,
                                  size_t member_len, uint64_t period)
{
    uint32_t next = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct veil_privacy_slot *u = &l->used[i].slot;
        if (same_member(u, member, member_len) && u->period == period && u->seq >= next)
            next = u->seq + 1;
    }
    return next < p->outcomes_per_period ? next : p->outcomes_per_period;
}

/* ------------------------------------------------------------------------ */

size_t veil_privacy_label_matches(const struct veil_privacy_labels *members, size_t n,
                                  uint16_t region, uint16_t zone)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if ((region == 0 || members[i].region == region) && (zone == 0 || members[i].zone == zone))
            m++;
    return m;
}

int veil_privacy_constraint_check(const struct veil_privacy_policy *p,
                                  const struct veil_privacy_labels *members, size_t n,
                                  uint16_t region, uint16_t zone, veil_err *err)
{
    if (region == 0 && zone == 0)
        return 0;
    size_t m = veil_privacy_label_matches(members, n, region, zone);
    if (m == 0 || m == n || m >= p->min_label_members)
        return 0;
    return veil_err_set(err, VEIL_E_INVALID,
                        "constraint region=%u zone=%u selects fewer than %" PRIu32
                        " members (cluster policy min_label_members): it would single nodes out",
                        region, zone, p->min_label_members);
}

/* ------------------------------------------------------------------------ */

static bool same_peer(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen != 0 && alen == blen && memcmp(a, b, alen) == 0;
}

enum veil_privacy_view veil_privacy_view_of(const uint8_t *viewer, size_t viewer_len,
                                            const uint8_t *submitter, size_t submitter_len,
                                            const uint8_t *chosen, size_t chosen_len)
{
    if (same_peer(viewer, viewer_len, chosen, chosen_len))
        return VEIL_PRIVACY_VIEW_FULL;
    if (same_peer(viewer, viewer_len, submitter, submitter_len))
        return VEIL_PRIVACY_VIEW_PLACED;
    return VEIL_PRIVACY_VIEW_NONE;
}

int veil_privacy_redact_assignment(void *row, enum veil_privacy_view v)
{
    json_t *o = row;
    if (!json_is_object(o))
        return -1;
    if (v == VEIL_PRIVACY_VIEW_NONE)
        return 1;
    if (v == VEIL_PRIVACY_VIEW_PLACED) {
        (void)json_object_del(o, "node");
        (void)json_object_del(o, "signature");
        (void)json_object_del(o, "commitment");
    }
    return 0;
}

int veil_privacy_redact_replica_state(void *row, enum veil_privacy_view v)
{
    json_t *o = row;
    if (!json_is_object(o))
        return -1;
    if (v == VEIL_PRIVACY_VIEW_PLACED) {
        (void)json_object_del(o, "node");
    } else if (v == VEIL_PRIVACY_VIEW_NONE) {
        json_t *replica = json_incref(json_object_get(o, "replica"));
        json_object_clear(o);
        if (replica && json_object_set_new(o, "replica", replica) != 0)
            return -1;
    }
    return 0;
}
