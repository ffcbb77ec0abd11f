// SPDX-License-Identifier: Apache-2.0
/*
 * daemon_sync.h - private to veild's node daemon: the node-to-node sync
 * streams (daemon_sync.c): inclusion proofs fetched from peers, and the
 * catch-up query (what a node lacks of each member's jobs).
 */
#ifndef VEIL_NODE_DAEMON_SYNC_H
#define VEIL_NODE_DAEMON_SYNC_H

#include <stdint.h>

#include <jansson.h>

#include "daemon_core.h"

/* Serves /veil/anchor-proof/1.0.0 (registered by daemon_p2p.c). */
void veil_daemon_on_proof_stream(veil_p2p_stream *s, const char *protocol, void *user_data);
/* Every anchor tick: asks one live peer (the next one each time, at most one
 * request in flight and one per VEIL_PROOF_ASK_GAP_MS) for the proofs of this
 * node's assignments whose batch it could not rebuild. */
void veil_daemon_proof_tick(veil_daemon *d, uint64_t now_ms);
#define VEIL_PROOF_ASK_GAP_MS 15000

/* Serves /veil/catch-up/1.0.0 (registered by daemon_p2p.c). */
void veil_daemon_on_catchup_stream(veil_p2p_stream *s, const char *protocol, void *user_data);
/* Every rounds tick: when a catch-up pass is due (struct catchup_clock),
 * asks every live member for what this node lacks of that member's jobs. */
void veil_daemon_catchup_tick(veil_daemon *d, uint64_t now_ms);
/* The catch-up request to the member whose peer ID text is `member`: the
 * jobs it submitted that this node holds, and the others whose replica
 * this node runs, each with the digest of this node's decisions (the
 * latest assignment of each replica, then the older ones naming this node;
 * daemon_catchup.c). */
int veil_daemon_catchup_request(veil_daemon *d, const char *member, veil_buf *out,
                                veil_err *err) VEIL_WARN_UNUSED;
/* The answer to a catch-up request `req` from the node `who`: the signed
 * assignments of the jobs whose digest differs (the latest ones, then the
 * older ones naming `who`; at most VEIL_CATCHUP_ASG_MAX), the jobs it
 * lacks announced again (*announced); *held gets how many jobs it listed. */
int veil_daemon_catchup_answer(veil_daemon *d, const char *who, const uint8_t *req, size_t len,
                               veil_buf *out, size_t *announced, size_t *held,
                               veil_err *err) VEIL_WARN_UNUSED;
/* Takes a catch-up answer from `peer`: each assignment checked and
 * recorded as if it came from the topic. */
void veil_daemon_catchup_take(veil_daemon *d, const char *peer, const uint8_t *msg, size_t n);
/* Catch-up stream limits: jobs announced again per answer (the asker's
 * follow-up pass gets the rest). */
#define CATCHUP_ANNOUNCE_MAX 64

/* After each catch-up pass: this node reports again the state of the
 * containers it runs (daemon_exec.c), so that a replica the others failed
 * or were rescheduling while this node was cut off is taken back by the
 * node it is bound to (a report from any other node is ignored). */
void veil_daemon_report_containers(veil_daemon *d);

/* A digest of a round for a replica this node ran to its end (the store
 * binds it here and shows it exited, or failed with this node's own
 * container record failed: issue 18): a node that missed the exit (it
 * learned the job later) rescheduled the replica when this node died, and
 * nobody else evaluates that round. Its final status goes out again, at
 * most once per round and re-send period, so that the rescheduling node
 * settles the round (chaos s7). veil_daemon_final_report_due is the
 * decision (true: publish now, and the next one is not due before a
 * period); veil_daemon_report_final publishes when it is due. */
bool veil_daemon_final_report_due(veil_daemon *d, struct round *r, uint64_t now_ms);
void veil_daemon_report_final(veil_daemon *d, struct round *r, uint64_t now_ms);
/* A later assignment named this node for a replica whose end it heard from
 * its earlier runner (issue 18, session 9): the end, adopted, is published
 * as this node's own report (exited, code 0), and counts as this period's
 * final report of the round; later re-sends are veil_daemon_report_final's. */
void veil_daemon_report_adopted_end(veil_daemon *d, struct round *r, uint64_t now_ms);

/* Rounds nobody can end (issue 18, daemon_rounds.c's top comment): a node
 * holding a round planned past its deadline with no digest at all asks for
 * its outcome (an outcome query: a SCHED_DIGEST with `ask`), at most once
 * per re-send period and ROUND_QUERY_MAX times per round;
 * veil_daemon_outcome_query_due is that decision (true: ask now). A node
 * hearing a query or a digest of the round answers with what it already
 * sends: veil_daemon_answer_outcome (its final report as the replica's
 * runner, the final verdict as its deciding node, each rate-limited). */
#define ROUND_QUERY_MAX 20
bool veil_daemon_outcome_query_due(veil_daemon *d, struct round *r, uint64_t now_ms);
void veil_daemon_answer_outcome(veil_daemon *d, struct round *r, uint64_t now_ms);

/* The start of a replica an assignment binds to this node is claimed once
 * through the store's container record: true when the caller starts it
 * (a new record, or *again: a copy that ended here, stopped when the
 * replica moved away or failed, the replica now chosen again). A record of
 * a copy being started or running claims nothing (chaos s8). */
bool veil_daemon_exec_claim(veil_daemon *d, const char *job_hex, uint32_t replica, const char *name,
                            bool *again);

/* Every executor tick: the replicas the store binds to this node that are
 * still `assigned` are started (veil_daemon_execute_assignment again; a
 * start in flight or done claims nothing): a start that waited for an
 * unreadable image policy goes on once it is readable (chaos s8). */
void veil_daemon_exec_start_waiting(veil_daemon *d);

/* One stored assignment row (the store's JSON) encoded as the message its
 * signer published, for publishing again or answering a catch-up. */
int veil_daemon_assignment_encode(json_t *row, veil_buf *out) VEIL_WARN_UNUSED;

#endif /* VEIL_NODE_DAEMON_SYNC_H */
