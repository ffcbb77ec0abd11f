// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_intake.h - the jobs intake holds back while the cluster's on-chain
 * policy cannot be read (daemon_intake.c): a transient RPC failure defers a
 * job (kept, its policy check retried with backoff), only a readable policy
 * that forbids it refuses it. The queue is caller-owned (in the daemon) and
 * bounded in size and in how long a job may wait; its rules are pure, for
 * their unit test. Each held job is also a row of the node's store
 * (intake_deferrals), so that a restarted node holds it again, with the
 * time of its first deferral, and checks it itself before any round. A
 * job that passed this node's check once is marked in the store and is
 * never held again.
 */
#ifndef VEIL_NODE_DAEMON_INTAKE_H
#define VEIL_NODE_DAEMON_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <veil/base.h>
#include <veil/node.h>

/* Jobs a node holds for the policy at once, for new deferrals: the queue's
 * `max`, from jobs.intake_defer_max (1..INTAKE_DEFER_MAX_LIMIT; a held
 * announcement is at most VEIL_MSG_MAX_BYTES). A restart holds every row the
 * store kept again, past the bound if need be (those jobs were waiting
 * already, and a row left out would let the job's rounds resume before this
 * node's check); new deferrals are then refused until the queue is below it,
 * and the start says so. */
#define INTAKE_DEFER_MAX_DEFAULT 1024
#define INTAKE_DEFER_MAX_LIMIT   1000000
#define INTAKE_DEFER_FIRST_MS    2000u  /* first re-check, doubled after each */
#define INTAKE_DEFER_CAP_MS      30000u /* longest gap between two re-checks */
/* a job waits at most this long, then is refused */
#define INTAKE_DEFER_LIMIT_MS (10u * 60 * 1000)

/* One job held at intake: its announcement as received (and the gossip
 * author it came from; none for this node's own), when it first waited, how
 * often its policy check failed, and when it is checked again. */
struct intake_deferred {
    char job_hex[65];
    uint8_t *msg; /* the announcement, then `from` (one allocation) */
    size_t len, from_len;
    uint64_t first_ms, next_ms; /* wall clock */
    uint32_t attempts;          /* failed checks after the first */
};

struct intake_deferrals {
    struct intake_deferred *v;
    size_t n, cap;
    size_t max; /* new deferrals held at once; 0: INTAKE_DEFER_MAX_DEFAULT */
};

/* The queue's bound for new deferrals (its `max`, or the default). */
size_t intake_defer_bound(const struct intake_deferrals *q);

/* The wait before re-check number `attempts` + 1: 2 s, 4 s, 8 s ... 30 s. */
uint64_t intake_defer_backoff_ms(uint32_t attempts);

/* True when `e` has waited as long as a job may (INTAKE_DEFER_LIMIT_MS). */
bool intake_defer_expired(const struct intake_deferred *e, uint64_t now_ms);

/* Holds `e` (its message and author copied): 1 when the job was not held
 * yet, 0 when it was (the held entry is kept: one log line per job), -1
 * when intake_defer_bound(q) jobs wait already (VEIL_E_LIMIT) or out of
 * memory. */
VEIL_WARN_UNUSED int intake_defer_put(struct intake_deferrals *q, const struct intake_deferred *e,
                                      const uint8_t *msg, const uint8_t *from, veil_err *err);

/* Moves one entry due at `now_ms` into `out` (the caller frees out->msg):
 * false when none is due. */
bool intake_defer_pop_due(struct intake_deferrals *q, uint64_t now_ms, struct intake_deferred *out);

/* Every entry due at `now_ms` waits one more backoff step (the policy is
 * still unreadable: one failed read per tick, not one per job). With a
 * store `s` (NULL: the queue alone), each one's failed checks are stored
 * too, so that its backoff goes on from there after a restart; -1 when a
 * write failed (err: the first; the queue is postponed all the same). */
VEIL_WARN_UNUSED int intake_defer_postpone_due(struct intake_deferrals *q, uint64_t now_ms,
                                               veil_store *s, veil_err *err);

/* Forgets the job (its policy check ran: taken in or refused). */
void intake_defer_drop(struct intake_deferrals *q, const char *job_hex);

bool intake_defer_has(const struct intake_deferrals *q, const char *job_hex);

void intake_defer_free(struct intake_deferrals *q);

/* Writes `e` (its announcement `msg` and gossip author `from`) to the
 * store: a new row, or the failed checks of a held one (its first deferral
 * time is kept). */
VEIL_WARN_UNUSED int intake_defer_save(veil_store *s, const struct intake_deferred *e,
                                       const uint8_t *msg, const uint8_t *from, veil_err *err);

struct intake_reload_counts {
    size_t held;       /* rows held again */
    size_t corrupt;    /* rows removed as unreadable */
    size_t rest;       /* rows stored while the reload read: not held */
    size_t taken_in;   /* rows of jobs that passed this node's check: removed */
    size_t past_bound; /* jobs held past intake_defer_bound(q) */
};

/* Holds again every job the store shows deferred (a restarted node), first
 * deferred first, the queue growing past its bound if need be (counted in
 * past_bound): each due at `now_ms`, with its stored first deferral time
 * and failed checks. A row of a job that passed
 * this node's intake check (veil_store_job_taken_in) is removed, not held:
 * such a job is never checked again. */
VEIL_WARN_UNUSED int intake_defer_reload(struct intake_deferrals *q, veil_store *s, uint64_t now_ms,
                                         struct intake_reload_counts *c, veil_err *err);

/* The replicas of held job `job_hex` that moved on while it waited (the
 * others' digests and retries move them to scheduling, awaiting_decryption;
 * an assignment recorded meanwhile whose node then died, to rescheduling)
 * go back to pending (veil_store_replicas_hold): this node has not taken
 * the job in, and the resume of the store's unfinished rounds at start
 * would plan them without this node's own intake check; once checked, the
 * intake plans or refuses each pending one. *back gets how many; -1 (err
 * names the job) when the store fails or the job is not held there (not
 * stored, no deferral row, or taken in). */
VEIL_WARN_UNUSED int intake_defer_hold_replicas(veil_store *s, const char *job_hex, uint32_t *back,
                                                veil_err *err);

struct veil_daemon;
/* At start, before the store's unfinished rounds resume (daemon.c): the
 * deferred jobs held again and logged, their replicas back to pending so
 * that no round of theirs resumes before this node's own intake check. */
void veil_daemon_intake_reload(struct veil_daemon *d);

#endif
