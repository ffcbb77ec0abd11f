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

/* A request for one of the dashboard's endpoints, already authorized. */
struct veil_dash_request {
    veil_store *store;
    const veil_config *node_cfg;  /* NULL when veild did not pass its config */
    veil_api_dash_chain_fn chain; /* NULL: the chain views answer 503 */
    const char *self;             /* this node's peer ID text */
    const char *method;
    const char *url;
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

#endif /* VEIL_NODE_DASHBOARD_H */
