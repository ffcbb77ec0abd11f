// SPDX-License-Identifier: Apache-2.0
/*
 * privacy.h - the scheduler must not be a capacity oracle (issue 12): pure,
 * clock-free and I/O-free rules every node applies on its own, so that a
 * member cannot recover another node's free capacity from placement
 * outcomes. docs/THREAT_MODEL.md says what each rule defends and where the
 * daemon calls it.
 *
 *   - capacity classes: a node's free value is rounded DOWN to a geometric
 *     grid before it is encrypted, so every comparison the circuit makes
 *     (feasibility, binpack/spread order) reveals at most a class index;
 *     rounding down never over-commits a node;
 *   - the outcome budget: each member may obtain at most `per_period`
 *     placement outcomes per period; a job carries its member's slot
 *     (period, sequence) and every node accepts a slot at most once, so all
 *     honest nodes refuse the same jobs and a reused slot names its member;
 *   - constraint isolation: a region/zone constraint that fewer than k
 *     members satisfy (but at least one) is refused;
 *   - outcome redaction: who may see which node a replica landed on.
 */
#ifndef VEIL_PRIVACY_H
#define VEIL_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>

/* ------------------------------------------------------------------------ */
/* Cluster policy (on chain: see docs/THREAT_MODEL.md, "Policy on chain").  */
/* ------------------------------------------------------------------------ */

struct veil_privacy_policy {
    /* Capacity classes: consecutive class bounds grow by at least
     * ratio_num/ratio_den (>= 5/3 hides every value beyond 25%; 2/1 is the
     * default). 0/0 disables classes. */
    uint32_t ratio_num, ratio_den;
    /* Outcome budget: outcomes per member per period of period_s seconds. */
    uint32_t outcomes_per_period;
    uint32_t period_s;
    /* Constraint isolation: a label constraint must match 0 or >= k members. */
    uint32_t min_label_members;
};

/* The defaults: classes x2, 32 outcomes per member per hour, k = 2. */
void veil_privacy_policy_default(struct veil_privacy_policy *p);
/* Refuses a policy that cannot hold: ratio below 5/4 (or num/den of 0 with
 * the other non-zero), a budget with a zero period, k of 0. */
VEIL_WARN_UNUSED int veil_privacy_policy_check(const struct veil_privacy_policy *p, veil_err *err);
/* The relative precision (in 1/10000) that classes of ratio q hide:
 * (q - 1) / (q + 1). A class [b, next - 1] spans a little less than q, so a
 * promise of "not within p" needs q strictly above (1 + p) / (1 - p): the
 * 25% promise needs q > 5/3 (the default 2 hides 33%, 7/4 hides 27%). */
uint32_t veil_privacy_hidden_bp(const struct veil_privacy_policy *p);

/* ------------------------------------------------------------------------ */
/* Capacity classes.                                                        */
/* ------------------------------------------------------------------------ */

/* The class bound at or below `v` (quantized units): the largest b_k <= v on
 * the grid b_0 = 1, b_{k+1} = max(b_k + 1, ceil(b_k * num / den)); 0 stays
 * 0. With classes disabled, v itself. Always <= v (never over-commits). */
uint16_t veil_privacy_class_down(const struct veil_privacy_policy *p, uint16_t v);
/* class_down on each of `n` quantized free values in place (a node's cpu,
 * memory, disk and gpu words, before they are encrypted). */
void veil_privacy_class_res(const struct veil_privacy_policy *p, uint16_t *res, size_t n);
/* The next class bound above `v` (the bound after class_down(v)); 0xFFFF
 * when none fits in 16 bits. Used to state what a member can learn. */
uint32_t veil_privacy_class_next(const struct veil_privacy_policy *p, uint16_t v);

/* ------------------------------------------------------------------------ */
/* Outcome budget.                                                          */
/* ------------------------------------------------------------------------ */

#define VEIL_PRIVACY_MEMBER_MAX 32 /* a member's key: an address or peer ID hash */

/* A job's slot, signed by its submitter inside the job announcement. */
struct veil_privacy_slot {
    uint8_t member[VEIL_PRIVACY_MEMBER_MAX];
    uint8_t member_len;
    uint64_t period; /* unix_s / period_s at submission */
    uint32_t seq;    /* 0 .. outcomes_per_period - 1 */
    uint8_t job_id[32];
};

/* One accepted slot. */
struct veil_privacy_used {
    struct veil_privacy_slot slot;
};

/* The ledger: caller-owned storage of accepted slots. */
struct veil_privacy_ledger {
    struct veil_privacy_used *used;
    size_t n, cap;
};

enum veil_privacy_verdict {
    VEIL_PRIVACY_ACCEPT = 0,  /* charge taken: the job may be scheduled */
    VEIL_PRIVACY_REPEAT,      /* this job already holds this slot (a re-announcement) */
    VEIL_PRIVACY_OVER_BUDGET, /* seq beyond the budget: refuse, attributable */
    VEIL_PRIVACY_STALE,       /* period not the current one (or the one before) */
    VEIL_PRIVACY_REUSED,      /* slot taken by another job: equivocation, refuse */
};

/* Decides a job's slot at unix time now_s and, on ACCEPT, records it
 * (-1 only when the ledger is full: err says so, nothing recorded). `why`
 * (may be NULL) gets a message naming the member, period and budget for
 * every refusal. Entries of periods before the previous one are dropped. */
VEIL_WARN_UNUSED int veil_privacy_budget_charge(struct veil_privacy_ledger *l,
                                                const struct veil_privacy_policy *p,
                                                const struct veil_privacy_slot *s, uint64_t now_s,
                                                enum veil_privacy_verdict *verdict, veil_err *why,
                                                veil_err *err);
/* The next free sequence number of `member` in `period` (what a submitting
 * node puts in its own job's slot); outcomes_per_period when spent. */
uint32_t veil_privacy_budget_next(const struct veil_privacy_ledger *l,
                                  const struct veil_privacy_policy *p, const uint8_t *member,
                                  size_t member_len, uint64_t period);

/* ------------------------------------------------------------------------ */
/* Constraint isolation.                                                    */
/* ------------------------------------------------------------------------ */

/* A member's labels (8-bit codes as the telemetry carries them; 0 = none). */
struct veil_privacy_labels {
    uint16_t region, zone;
};
/* Members matching a request's region/zone (0 = any). */
size_t veil_privacy_label_matches(const struct veil_privacy_labels *members, size_t n,
                                  uint16_t region, uint16_t zone);
/* 0 when the constraint matches nobody, everybody it does not narrow, or at
 * least min_label_members members; -1 (err names the constraint) when it
 * would single out fewer. */
VEIL_WARN_UNUSED int veil_privacy_constraint_check(const struct veil_privacy_policy *p,
                                                   const struct veil_privacy_labels *members,
                                                   size_t n, uint16_t region, uint16_t zone,
                                                   veil_err *err);

/* ------------------------------------------------------------------------ */
/* Outcome redaction.                                                       */
/* ------------------------------------------------------------------------ */

enum veil_privacy_view {
    VEIL_PRIVACY_VIEW_NONE = 0, /* another member: the job's existence at most */
    VEIL_PRIVACY_VIEW_PLACED,   /* the submitter: placed / unschedulable, replica names */
    VEIL_PRIVACY_VIEW_FULL,     /* the chosen node: which replica it runs */
};
/* What `viewer` may see of one replica's assignment, given the job's
 * submitter and the chosen node (chosen_len 0 = unschedulable). Peer IDs as
 * bytes. */
enum veil_privacy_view veil_privacy_view_of(const uint8_t *viewer, size_t viewer_len,
                                            const uint8_t *submitter, size_t submitter_len,
                                            const uint8_t *chosen, size_t chosen_len);

/* The API's rows under a view (H4 of docs/THREAT_MODEL.md), as jansson
 * json_t* objects passed as void* (this header does not need jansson).
 * An assignment row (GET /v1/assignments; fields job_id, replica, epoch,
 * node, output_digest, signature, commitment, ...): FULL leaves it, PLACED
 * removes node, signature and commitment (each names or pins the node: the
 * signature and the unsalted commitment can be checked against every
 * member), NONE asks the caller to omit it. A replica-state row (the
 * replica_states of GET /v1/jobs/{id}): FULL leaves it, PLACED removes node,
 * NONE keeps only replica. Returns 1 when the row must be omitted, 0 when it
 * was kept (possibly trimmed), -1 when `row` is not an object. */
VEIL_WARN_UNUSED int veil_privacy_redact_assignment(void *row, enum veil_privacy_view v);
VEIL_WARN_UNUSED int veil_privacy_redact_replica_state(void *row, enum veil_privacy_view v);

#endif
