// SPDX-License-Identifier: Apache-2.0
/*
 * route_net.h - the whole-topology routing test's host program
 * (route_net_node.c: one process per network namespace, built by
 * net_netns.sh): the fixed realm table (names, identities, credentials,
 * public addresses), the seeded user-space delay line, the host state
 * (embedded Anchor agent, NATS connection, relays, ways to every peer) and
 * the source's transfer (route_net_xfer.c: path selection, failover,
 * figures).
 */
#ifndef VEIL_TEST_ROUTE_NET_H
#define VEIL_TEST_ROUTE_NET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nats/nats.h>

#include <veil/embed.h>
#include <veil/route.h>

enum { RN_M, RN_P1, RN_P2, RN_T, RN_H1, RN_H2, RN_H3, RN_N };
#define RN_SRC    RN_H1 /* the transfer's source */
#define RN_DST    RN_H2 /* ... and destination */
#define RN_PORT   5000  /* every agent's UDP port */
#define RN_REALM  "acme"
#define RN_MARKER "VEIL-PLAINTEXT-MARKER"

struct rn_ident {
    const char *name;
    const char *public_ip; /* NULL behind a NAT */
    const char *lan_ip;    /* the address it binds (its own) */
    const char *taint;
    uint8_t pk[32], sk[64], cred[256];
    size_t cred_len;
};
extern struct rn_ident rn_ids[RN_N];
extern uint8_t rn_guardian_pk[32];

void rn_idents_init(void);
int rn_index(const uint8_t pk[32]); /* -1 when unknown */
int rn_by_name(const char *name);
uint64_t rn_now_ms(void); /* CLOCK_REALTIME: shared by every namespace (punch times) */
bool rn_has_marker(const uint8_t *b, size_t n);
void rn_cred_info(int i, struct veil_anchor_cred_info *c);

/* ---- seeded user-space delay line (netem is not available here) ---------- */

#define RN_QMAX 1024
struct rn_pending {
    uint64_t due;
    int to;
    size_t len;
    uint8_t data[1600];
};
struct rn_delay {
    struct rn_pending q[RN_QMAX];
    size_t n;
    uint64_t send_failures, overflow;
};
void rn_delay_send(struct rn_delay *dl, int self, int to, const uint8_t *d, size_t len);
void rn_delay_flush(struct rn_delay *dl, veil_embed *e);

/* ---- NATS: messages handed from libnats' thread to the host's loop ------- */

#define RN_NQ 256
struct rn_nmsg {
    char subject[128];
    size_t len;
    uint8_t data[VEIL_ROUTE_TOPO_MAX_BYTES];
};
struct rn_natsq {
    pthread_mutex_t mu;
    struct rn_nmsg q[RN_NQ];
    size_t head, n, dropped;
};
void rn_natsq_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
bool rn_natsq_pop(struct rn_natsq *q, struct rn_nmsg *out);

/* ---- the host ------------------------------------------------------------ */

enum rn_way_kind { RN_WAY_NONE, RN_WAY_DIRECT, RN_WAY_PUNCH, RN_WAY_RELAY };

/* How this host reaches one peer (decided from the peer's topo summary). */
struct rn_way {
    enum rn_way_kind kind;
    bool ready;
    int relay;           /* RN_WAY_RELAY: the relay's index */
    uint64_t punch_at;   /* RN_WAY_PUNCH: both sides start sending then */
    uint64_t last_offer; /* last PUNCH_OFFER sent */
    uint64_t nonce;
    struct veil_route_onion onion; /* RN_WAY_RELAY */
    uint64_t setup_ms;
    uint64_t last_q;
    uint32_t q_seq;
    uint64_t q_sent;
    bool reached;
};

struct rn_xfer;

struct rn_host {
    int self;
    veil_embed *e;
    natsConnection *nc;
    struct rn_natsq nq;
    struct rn_delay dl;
    struct veil_route_relay relay; /* the transfer's cells (app datagrams, delayed) */
    veil_route_carrier *car;       /* the reach phase's cells (the agent's cell kind) */
    uint64_t car_forwarded;        /* last printed */
    uint64_t last_car_print;
    enum veil_route_nat nat;
    char addr[64]; /* reflexive "ip:port" (its own for a public host) */
    struct veil_route_reflex seen[RN_N];
    bool seen_from[RN_N];
    uint32_t link_rtt_us[RN_N]; /* own measurements, published in topo */
    bool have_topo[RN_N];
    struct veil_route_topo topo[RN_N];
    uint64_t topo_seq, last_topo, last_hello;
    bool relay_ok[RN_N]; /* RELAY_OK received from that relay */
    uint64_t last_ask[RN_N];
    struct rn_way way[RN_N];
    bool all_reached;
    uint64_t start_ms;
    /* figures and checks */
    uint64_t cells_in, relayed, marker_hits, delivered, signals_in, topo_in;
    struct rn_xfer *x; /* the source's transfer, NULL elsewhere */
};

/* Sends an application message (first byte: its kind) to peer j on this
 * host's way to it (a direct Anchor datagram, or a DATA cell on its onion
 * path, carried as the agent's relay-cell kind); false when the way is not
 * ready. */
bool rn_send_app(struct rn_host *h, int j, const uint8_t *m, size_t len);
/* Publishes a path signal on veil.<realm>.path.<dst>.<self>. */
void rn_signal(struct rn_host *h, int dst, enum veil_route_signal_type type, uint64_t nonce,
               uint64_t at_ms);
/* The RTT (us) of link a-b as this host or a summary reports it, 0 if unknown. */
uint32_t rn_link_rtt(const struct rn_host *h, int a, int b);
/* True when the policy allows relay r between a and b and r said it is willing. */
bool rn_relay_allowed(const struct rn_host *h, int a, int r, int b);
/* Asks relay r (RELAY_ASK over Master) unless it answered; true once it did. */
bool rn_relay_ready(struct rn_host *h, int r);
/* One turn of the host's loop (agent, NATS, timers); wait_ms for the agent. */
void rn_step(struct rn_host *h, int wait_ms);

/* ---- the source's transfer (route_net_xfer.c) ------------------------------ */

/* Runs the transfer from h1 to h2; kills P1 (its pid appears in
 * kill_pid_file once the test is ready) mid-transfer; prints the figures as
 * one JSON line and the checks. 0 when every check held. */
int rn_xfer_run(struct rn_host *h, const char *kill_pid_file);
/* A reply ('p' probe or 'a' data) delivered to the source. */
void rn_xfer_on_reply(struct rn_host *h, const uint8_t *m, size_t len);

#endif /* VEIL_TEST_ROUTE_NET_H */
