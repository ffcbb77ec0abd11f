// SPDX-License-Identifier: Apache-2.0
/*
 * dashboard.h - the operators' web dashboard served by the local HTTP API
 * (issue 19): its static assets, embedded in the binary at build time
 * (dashboard/embed.cmake), and the /v1 endpoints that only it needed.
 * Internal to veil_node: api.c routes requests here.
 *
 * The dashboard's own endpoints work from the store alone (dashboard.c);
 * those that ask the chain (the cluster's policy, an inclusion proof checked
 * by the contract) are in dashboard_chain.c, reached through a function
 * pointer that veild passes in its veil_api_config, so that programs linking
 * veil_node without the chain client (tests, benchmarks) never pull it in.
 */
#ifndef VEIL_NODE_DASHBOARD_H
#define VEIL_NODE_DASHBOARD_H

#include <stddef.h>
#include <stdint.h>

#include <veil/node.h>
#include <veil/privacy.h>

/* One embedded file, served at "/ui/<name>" ("/ui/" serves index.html). */
struct veil_dash_asset {
    const char *name;
    const char *content_type;
    const unsigned char *data;
    size_t len;
};

/* Generated at build time from src/node/dashboard/ (dashboard_assets.c). */
extern const struct veil_dash_asset veil_dash_assets[];
extern const size_t veil_dash_assets_len;

/* The asset a GET of `url` names, or NULL. "/" and "/ui" name nothing (the
 * API redirects them to "/ui/"). */
const struct veil_dash_asset *veil_dashboard_asset(const char *url);

/* What the dashboard serves from memory (dashboard_cache.c), owned by the
 * API (one per veil_api):
 *  - the chain views, read by a refresher thread of its own, never on the
 *    API's thread: the cluster's policy and this cluster's disputes every
 *    `period_ms`, and the inclusion checks the API asked for (queued); each
 *    answer is the last value read, with its age and a `stale` marker when
 *    the last read failed (the RPC is down) or is older than 3 periods;
 *  - veild's in-memory view of its members (size and epoch of each one's
 *    last telemetry ciphertext) and rounds (schedulers, digest tally,
 *    attempts, deadline), a JSON snapshot handed in on veild's loop thread
 *    (daemon_dash.c) and trimmed to this node's view when served. */
struct veil_dash_cache;

struct veil_dash_cache_opts {
    uint64_t period_ms;       /* chain refresh period (0: 15 s) */
    uint64_t verify_fresh_ms; /* an inclusion check is redone after this (0: 60 s) */
};

/* Starts the refresher thread when `chain` and `node_cfg` are given (else
 * the chain views answer 503 and only the daemon snapshot is kept). */
VEIL_WARN_UNUSED int veil_dash_cache_start(struct veil_dash_cache **out,
                                           const veil_config *node_cfg, veil_store *store,
                                           veil_api_dash_chain_fn chain,
                                           const struct veil_dash_cache_opts *opts, veil_err *err);
/* Stops and joins the refresher (waits for an RPC in flight to time out). */
void veil_dash_cache_stop(struct veil_dash_cache *c);

/* veild's snapshot (a json_t *, stolen): {"members": {peer: {"epoch",
 * "bytes"}}, "rounds": {job_hex: [round, ...]}} (daemon_dash.c). */
void veil_dash_cache_set_daemon_view(struct veil_dash_cache *c, void *view);

/* GET /v1/cluster's policy fields, set into `out` (a json_t * object):
 * policy (or null), policy_age_ms, policy_stale, policy_error. */
void veil_dash_cache_policy(struct veil_dash_cache *c, void *out);
/* GET /v1/disputes: {disputes: [...], age_ms, stale, error?}. */
void *veil_dash_cache_disputes(struct veil_dash_cache *c);
/* An inclusion check of replica `replica` of job `job_hex`: the cached
 * answer (with age_ms; `stale` while a re-check runs) or 202 {"pending":
 * true} after queueing the check. Returns the HTTP status. */
unsigned veil_dash_cache_verify(struct veil_dash_cache *c, const char *job_hex, int replica,
                                void **reply);
/* Sets "last_telemetry_bytes" (and the epoch of that message,
 * "last_telemetry_bytes_epoch") on each row of GET /v1/nodes (a json_t *
 * array) from veild's snapshot; null where this node kept none. */
void veil_dash_cache_annotate_nodes(struct veil_dash_cache *c, void *rows);
/* The whole rounds object of the last snapshot (a new json_t *, NULL when
 * none): daemon_dash.c keeps a settled round's last tally from it. */
void *veil_dash_cache_daemon_rounds(struct veil_dash_cache *c);
/* The snapshot's rounds of job `job_hex` (a new json_t * array, maybe
 * empty; NULL when out of memory), untrimmed. */
void *veil_dash_cache_job_rounds(struct veil_dash_cache *c, const char *job_hex);

/* A request for one of the dashboard's endpoints, already authorized. */
struct veil_dash_request {
    veil_store *store;
    const veil_config *node_cfg;   /* NULL when veild did not pass its config */
    veil_api_dash_chain_fn chain;  /* NULL: the chain views answer 503 */
    struct veil_dash_cache *cache; /* NULL: as without chain views, no snapshot */
    const char *self;              /* this node's peer ID text */
    const char *method;
    const char *url;
    const char *tail; /* the "tail" query argument (logs), or NULL */
    const uint8_t *body;
    size_t body_len;
};

/* Returns true when `url` is a dashboard endpoint; then *code and *reply (a
 * jansson json_t*, never NULL on return true) are the answer. */
bool veil_dashboard_route(const struct veil_dash_request *r, unsigned *code, void **reply);

/* Job `id_hex` (a jansson json_t*, as GET /v1/jobs/{id} answers it) trimmed
 * to what node `self` may see of it (api.c, hook H4 of
 * docs/THREAT_MODEL.md): the replicas it runs in full; of its own job's
 * other replicas, that each is placed, its state and anchor's existence,
 * never the node; of another member's, nothing but their number. NULL with err when the job is
 * unknown or memory ran out. */
void *veil_api_job_view(veil_store *store, const char *self, const char *id_hex, veil_err *err);

/* This node's view of one replica of a job `submitter` submitted, placed on
 * `chosen` ("" or NULL: none): api.c's rule (veil_privacy_view_of, with an
 * unschedulable row FULL to its submitter). */
enum veil_privacy_view veil_api_view_for(const char *self, const char *submitter,
                                         const char *chosen);

/* The rounds of job `id_hex` as node `self` may see them (hook H4): none of
 * another member's job unless it runs the replica; of its own job's replica
 * placed elsewhere, schedulers, tally, attempts and deadline but no digest;
 * the replicas it runs (or unschedulable ones of its own job) in full. A new
 * json_t * array; NULL with err when the job is unknown. */
void *veil_dash_job_rounds(struct veil_dash_cache *c, veil_store *store, const char *self,
                           const char *id_hex, veil_err *err);

/* The accessor daemon_dash.c hands veild's snapshot through. */
struct veil_dash_cache *veil_api_dash_cache(veil_api *api);

#endif /* VEIL_NODE_DASHBOARD_H */
