// SPDX-License-Identifier: Apache-2.0
/*
 * agent.h - private state of the Conflux agent shared by agent.c (thread,
 * connection, beacons, renewal), enroll.c (the enrollment/renewal exchange)
 * and commands.c (admin commands).
 */
#ifndef VEIL_CONFLUX_AGENT_H
#define VEIL_CONFLUX_AGENT_H

#include <pthread.h>

#include <nats/nats.h>

#include <veil/conflux.h>
#include <veil/guardian_serve.h>

#define CFX_MAX_SERVERS 16

/* The subscriptions of one connection to Master. */
struct cfx_subs {
    natsSubscription *cmd;     /* veil.<realm>.cmd.<node> */
    natsSubscription *topo;    /* veil.<realm>.topo.* (data-plane hosts only) */
    natsSubscription *revoked; /* veil.<realm>.revoked.* (data-plane hosts only) */
    natsSubscription *path;    /* veil.<realm>.path.<node>.* (hosts with on_path) */
};

struct veil_conflux {
    /* configuration (owned copies) */
    char *dir, *ca_file, *enroll_creds, *token, *eth_address;
    char *servers[CFX_MAX_SERVERS];
    size_t n_servers;
    uint64_t cluster_id;
    int64_t beacon_ms, timeout_ms;
    veil_nkey id;
    void (*on_shutdown)(void *arg);
    void *on_shutdown_arg;
    struct veil_conflux_hooks hooks;
    uint8_t guardian_pub[32];
    bool guardian_pinned;

    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;
    char name[64], realm[64], taints[256];
    char *jwt, *cert_pem, *ca_pem;
    uint64_t expires_ms, issued_ms, started_ms;
    natsConnection *nc;
    struct cfx_subs subs;
    uint8_t *topo[VEIL_CONFLUX_TOPO_SLOTS]; /* this node's topology messages (set by its host) */
    size_t topo_len[VEIL_CONFLUX_TOPO_SLOTS];
    bool topo_now;    /* publish it at once: a new member appeared */
    char (*seen)[64]; /* members whose topology messages arrived */
    size_t n_seen, cap_seen;
    uint8_t (*revoked)[32]; /* identities Guardian announced revoked */
    size_t n_revoked, cap_revoked;
    veil_ctl_replay replay;
    uint64_t reconnects, renewals, commands, key_epoch, beacon_seq, closed;
    bool stop, shutdown, renew_now;
    bool cred_rejected;     /* a server refused the credential: drop the connection */
    uint64_t retry_at_ms;   /* next renewal attempt after a failure */
    int64_t retry_delay_ms; /* doubles per failure, up to a minute */
    pthread_t thread;
    bool thread_started;
};

/* What the node asks for in one exchange. */
struct cfx_admission {
    enum veil_ctl_method method;
    const char *token;
    uint64_t cluster_id;
    uint8_t eth_address[20];
};

/* HELLO -> CHALLENGE -> PROVE -> RESULT on `subject`, answers read on the
 * `reply` subject (subscribed for the exchange). A refusal fails with the
 * Guardian's reason. */
int cfx_exchange(veil_conflux *a, natsConnection *nc, const char *subject, const char *reply,
                 const struct cfx_admission *adm, veil_ctl_result *out,
                 veil_err *err) VEIL_WARN_UNUSED;
/* First enrollment through the enrollment account. */
int cfx_enroll(veil_conflux *a, veil_ctl_result *out, veil_err *err) VEIL_WARN_UNUSED;
/* Stores a RESULT's credentials in the agent (under a->mu). */
int cfx_adopt(veil_conflux *a, veil_ctl_result *res, veil_err *err) VEIL_WARN_UNUSED;

/* The command subscription's handler (commands.c). */
void cfx_on_command(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);

/* Data plane (dataplane.c): subscribes the topology and revocation
 * subjects on a node connection (when the host set the hooks), publishes
 * the host's topology message (a->mu not held), frees that state. */
int cfx_subscribe_dataplane(veil_conflux *a, natsConnection *nc, struct cfx_subs *subs,
                            veil_err *err) VEIL_WARN_UNUSED;
void cfx_publish_topo(veil_conflux *a);
void cfx_dataplane_free(veil_conflux *a);

/* TLS + servers + reconnect options shared by every connection. */
int cfx_base_options(veil_conflux *a, natsOptions **out, veil_err *err) VEIL_WARN_UNUSED;
int cfx_nats_err(veil_err *err, natsStatus s, const char *what);

#endif
