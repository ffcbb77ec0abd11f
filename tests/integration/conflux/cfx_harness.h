// SPDX-License-Identifier: Apache-2.0
/*
 * cfx_harness.h - what the Conflux integration tests and benchmarks share: a
 * temporary Guardian directory with realms, a Master super cluster of real
 * nats-server processes on free 127.0.0.1 ports (configuration from
 * veil_master_config), the Guardian daemon in a child process, enrollment
 * credentials and tokens. Everything started is stopped by cfx_env_teardown,
 * which the tests also run from atexit.
 */
#ifndef VEIL_CFX_HARNESS_H
#define VEIL_CFX_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <veil/conflux.h>
#include <veil/guardian.h>

#define CFX_MAX_SRV 8

struct cfx_env {
    char dir[256];     /* temp root */
    char gdir[300];    /* Guardian directory */
    char confdir[300]; /* Master configuration */
    char ca[340];      /* root certificate */
    int clusters, per_cluster, base_port;
    pid_t servers[CFX_MAX_SRV];
    pid_t guardian;
    char urls_csv[1024];
    char url_buf[CFX_MAX_SRV][64];
    const char *urls[CFX_MAX_SRV];
    int n_urls;
    int creds_seq;
};

/* Creates the Guardian (realms listed), binds `cluster_realm` to chain
 * cluster `cluster_id` when non-zero, writes Master's configuration. */
int cfx_env_setup(struct cfx_env *e, const char *const *realms, int n_realms, int clusters,
                  int per_cluster, bool client_verify);
/* setup + servers + Guardian daemon, on other ports if one was taken
 * meanwhile (3 attempts). */
int cfx_env_start(struct cfx_env *e, const char *const *realms, int n_realms, int clusters,
                  int per_cluster, bool client_verify);
int cfx_env_bind(struct cfx_env *e, const char *realm, uint64_t cluster_id);
int cfx_server_start(struct cfx_env *e, int i);
void cfx_server_kill(struct cfx_env *e, int i);
int cfx_servers_start(struct cfx_env *e);
/* Waits until every running server has its routes and gateways. */
int cfx_wait_meshed(struct cfx_env *e);
/* extra: NULL-terminated extra arguments for `veil guardian serve`. */
int cfx_guardian_start(struct cfx_env *e, const char *const *extra);
void cfx_guardian_stop(struct cfx_env *e);
/* A fresh enrollment credential file; the path goes to out. */
int cfx_enroll_creds(struct cfx_env *e, char *out, size_t cap);
int cfx_token(struct cfx_env *e, const char *realm, const char *taints, char *out, size_t cap);
void cfx_env_teardown(struct cfx_env *e);
/* Index of the server whose client URL is `url`, or -1. */
int cfx_server_of(const struct cfx_env *e, const char *url);
/* Polls cond(arg) every 20 ms up to timeout_ms. */
bool cfx_wait(bool (*cond)(void *), void *arg, int timeout_ms);
/* A default agent configuration for this env (dir under the temp root). */
void cfx_agent_config(struct cfx_env *e, struct veil_conflux_config *c, const char *name, char *dir,
                      size_t dir_cap, char *creds, size_t creds_cap);

#endif
