// SPDX-License-Identifier: Apache-2.0
/*
 * test_route_mesh.c - VeilNet routing between seven real processes over
 * 127.0.0.1 (no root): each host is an embedded VeilNet agent (real Anchor
 * sessions, credentials from the test Guardian, so realm and taints are
 * enforced underneath) running a relay (src/route/relay.c); per-link delays
 * and (seeded) losses are applied in user space by the sending process. The parent is the source
 * S: it keeps only the relays the policy allows (not X, of another realm,
 * nor T, whose taints are not contained), builds onion paths to D (direct,
 * via R1, via R2, via R2+R3), probes them as its selector asks, and sends
 * on the selected path. Checked: every path delivers; the choice converges
 * to the best path (via R1); killing R1 moves traffic to the next best
 * (via R2+R3); R2 and R3 relay cells yet never see the plaintext marker;
 * X and T receive no cell at all. Children are killed on every exit path.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include <veil/embed.h>
#include <veil/route.h>

#include "anchor_test_cred.h"
#include "vtest.h"

enum { S, D, R1, R2, R3, X, T, N_NODES };
static const char *const names[N_NODES] = {"S", "D", "R1", "R2", "R3", "X", "T"};
static const char *const realms[N_NODES] = {"acme", "acme",  "acme", "acme",
                                            "acme", "other", "acme"};
static const char *const taints[N_NODES] = {"pci", "pci", "pci", "pci", "pci", "pci", "gpu"};
/* one-way delay in ms from row to column (user space, by the sender) */
static const int delay_ms[N_NODES][N_NODES] = {
    /*        S    D  R1  R2  R3   X   T */
    /* S  */ {0, 150, 10, 40, 20, 1, 1},
    /* D  */ {5, 0, 10, 20, 5, 1, 1},
    /* R1 */ {10, 10, 0, 5, 5, 1, 1},
    /* R2 */ {15, 60, 5, 0, 10, 1, 1},
    /* R3 */ {20, 10, 5, 5, 0, 1, 1},
    /* X  */ {1, 1, 1, 1, 1, 0, 1},
    /* T  */ {1, 1, 1, 1, 1, 1, 0},
};
/* loss in percent from row to column (seeded, dropped by the sender) */
static const int loss_pct[N_NODES][N_NODES] = {
    [S] = {[D] = 20, [R2] = 5},
    [R2] = {[D] = 10},
};
static const char marker[] = "VEIL-PLAINTEXT-MARKER";

struct ident {
    uint8_t pk[32], sk[64], cred[256];
    size_t cred_len;
};
static struct ident ids[N_NODES];
static uint8_t g_gpk[32], g_gsk[64];
static pid_t pids[N_NODES];
static int stop_w[N_NODES], stats_r[N_NODES];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int node_of(const uint8_t pk[32])
{
    for (int i = 0; i < N_NODES; i++)
        if (memcmp(ids[i].pk, pk, 32) == 0)
            return i;
    return -1;
}

static void kill_children(void)
{
    for (int i = 0; i < N_NODES; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
            pids[i] = 0;
        }
}

/* ---- user-space delay line ------------------------------------------------ */

#define QMAX 512
struct pending {
    uint64_t due;
    int to;
    size_t len;
    uint8_t data[2048];
};
struct delay_line {
    struct pending q[QMAX];
    size_t n;
    uint64_t send_failures;
    uint64_t rng; /* seeded per host: the run is repeatable up to timing */
    uint64_t dropped;
};

static uint32_t next_rand(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*x >> 33);
}

static void delay_send(struct delay_line *dl, int self, int to, const uint8_t *d, size_t len)
{
    if (to < 0 || dl->n == QMAX || len > sizeof dl->q[0].data)
        return;
    if (next_rand(&dl->rng) % 100 < (uint32_t)loss_pct[self][to]) {
        dl->dropped++;
        return;
    }
    struct pending *p = &dl->q[dl->n++];
    p->due = now_ms() + (uint64_t)delay_ms[self][to];
    p->to = to;
    p->len = len;
    memcpy(p->data, d, len);
}

static void delay_flush(struct delay_line *dl, veil_embed *e)
{
    uint64_t now = now_ms();
    for (size_t i = 0; i < dl->n;) {
        if (dl->q[i].due > now) {
            i++;
            continue;
        }
        if (veil_embed_send(e, ids[dl->q[i].to].pk, dl->q[i].data, dl->q[i].len, NULL) != 0)
            dl->send_failures++; /* e.g. to a killed relay: counted, not fatal */
        dl->q[i] = dl->q[--dl->n];
    }
}

/* ---- hosts ------------------------------------------------------------------ */

static veil_embed *start(int self)
{
    veil_err err = {0};
    struct veil_anchor_local local = {.cred = ids[self].cred,
                                      .cred_len = ids[self].cred_len,
                                      .verify = anchor_test_cred_verify,
                                      .verify_ctx = g_gpk};
    memcpy(local.identity_pk, ids[self].pk, 32);
    memcpy(local.identity_sk, ids[self].sk, 64);
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, &err);
    if (!a)
        return NULL;
    struct veil_embed_config cfg = {.bind_ip = "127.0.0.1"};
    veil_embed *e = veil_embed_start(&cfg, a, &err);
    if (!e)
        fprintf(stderr, "%s: embed: %s\n", names[self], err.msg);
    return e;
}

static int add_peers(veil_embed *e, int self, const uint16_t *ports)
{
    for (int i = 0; i < N_NODES; i++) {
        char v4[32];
        snprintf(v4, sizeof v4, "10.88.0.%d", i + 1);
        if (i != self && veil_embed_add_peer(e, ids[i].pk, v4, "127.0.0.1", ports[i], NULL) != 0)
            return -1;
    }
    return 0;
}

struct host_stats {
    uint64_t received, relayed, marker_hits, delivered;
};

static bool has_marker(const uint8_t *b, size_t n)
{
    return memmem(b, n, marker, sizeof marker - 1) != NULL;
}

/* One received datagram at a relay or the destination. */
static void host_handle(struct veil_route_relay *r, struct delay_line *dl, int self,
                        const uint8_t from[32], const uint8_t *buf, size_t n, struct host_stats *st)
{
    static uint8_t out[4096];
    struct veil_route_action act;
    st->received++;
    st->marker_hits += has_marker(buf, n);
    if (veil_route_relay_handle(r, from, buf, n, now_ms(), out, sizeof out, &act, NULL) != 0)
        return;
    if (!act.deliver) {
        st->relayed++;
        st->marker_hits += has_marker(out, act.out_len);
        delay_send(dl, self, node_of(act.peer), out, act.out_len);
    } else if (act.out_len > 0) {
        st->delivered++; /* the destination echoes probes straight back */
        delay_send(dl, self, node_of(act.peer), out, act.out_len);
    }
}

static int host(int self, int ports_r, int stop_r, int stats_w, int port_w)
{
    veil_embed *e = start(self);
    uint16_t port = e ? veil_embed_port(e) : 0, ports[N_NODES];
    if (!e || write(port_w, &port, sizeof port) != sizeof port ||
        read(ports_r, ports, sizeof ports) != sizeof ports || add_peers(e, self, ports) != 0)
        return 1;
    static struct veil_route_relay r;
    static struct delay_line dl;
    struct host_stats st = {0};
    if (veil_route_relay_init(&r, NULL, ids[self].sk, NULL) != 0)
        return 1;
    dl.rng = 0x5eed0000u + (uint64_t)self;
    fcntl(stop_r, F_SETFL, O_NONBLOCK);
    for (;;) {
        uint8_t buf[4096], from[32], c;
        long n = veil_embed_recv(e, from, buf, sizeof buf, 1, NULL);
        if (n > 0)
            host_handle(&r, &dl, self, from, buf, (size_t)n, &st);
        delay_flush(&dl, e);
        if (read(stop_r, &c, 1) == 0)
            break;
    }
    int rc = write(stats_w, &st, sizeof st) == sizeof st ? 0 : 1;
    veil_route_relay_wipe(&r);
    veil_embed_stop(e);
    return rc;
}

static int spawn_all(int ports_w[N_NODES], int port_r[N_NODES])
{
    for (int i = 1; i < N_NODES; i++) {
        int pp[2], sp[2], st[2], pr[2];
        if (pipe(pp) || pipe(sp) || pipe(st) || pipe(pr))
            return -1;
        pid_t pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            close(pp[1]), close(sp[1]), close(st[0]), close(pr[0]);
            for (int j = 1; j < i; j++) /* the earlier hosts' parent-side ends */
                close(ports_w[j]), close(stop_w[j]), close(stats_r[j]), close(port_r[j]);
            _exit(host(i, pp[0], sp[0], st[1], pr[1]));
        }
        pids[i] = pid;
        close(pp[0]), close(sp[0]), close(st[1]), close(pr[1]);
        ports_w[i] = pp[1], stop_w[i] = sp[1], stats_r[i] = st[0], port_r[i] = pr[0];
    }
    return 0;
}

/* ---- the source ------------------------------------------------------------- */

#define N_TEMPLATES 7
static const int templates[N_TEMPLATES][3] = {
    {-1, -1, -1}, {R1, -1, -1}, {R2, -1, -1}, {R2, R3, -1}, {X, -1, -1}, {T, -1, -1}, {R1, T, -1},
};

struct source {
    veil_embed *e;
    struct delay_line dl;
    struct veil_route_sel sel;
    struct veil_route_onion onion[N_TEMPLATES];
    int first[N_TEMPLATES];
    int n_paths;
    int path_tpl[N_TEMPLATES];
    uint32_t seq;
    struct {
        uint32_t path;
        uint64_t sent;
        bool open;
    } probe[4096];
    uint64_t answered[N_TEMPLATES];
    uint64_t errors;
    struct veil_route_hop hops[N_TEMPLATES][VEIL_ROUTE_HOPS_MAX];
    size_t n_hops[N_TEMPLATES];
    uint64_t setup_ms[N_TEMPLATES];
    uint64_t answered_at_setup[N_TEMPLATES];
};

static void cred_info(int i, struct veil_anchor_cred_info *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->realm, realms[i]);
    c->n_taints = 1;
    strcpy(c->taints[0], taints[i]);
}

/* (Re)builds path p: fresh ids and keys, SETUP cell to its first hop. A
 * path that got no answer for a second since its setup is built again (its
 * setup may have been lost while the Anchor sessions came up; a relay of it
 * may be gone). */
static int setup_path(struct source *s, int p)
{
    struct veil_route_limits lim = {1u << 30, 1u << 24, 30000};
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES];
    veil_route_onion_wipe(&s->onion[p]);
    if (veil_route_onion_build(&s->onion[p], ids[S].sk, s->hops[p], s->n_hops[p], &lim, cell,
                               NULL) != 0)
        return -1;
    s->setup_ms[p] = now_ms();
    s->answered_at_setup[p] = s->answered[p];
    delay_send(&s->dl, S, s->first[p], cell, sizeof cell);
    return 0;
}

/* Keeps the templates whose every relay the policy allows; builds them. */
static int build_paths(struct source *s)
{
    struct veil_anchor_cred_info src, dst, rel;
    cred_info(S, &src), cred_info(D, &dst);
    for (int t = 0; t < N_TEMPLATES; t++) {
        int p = s->n_paths;
        size_t n = 0;
        bool ok = true;
        for (int k = 0; k < 3 && templates[t][k] >= 0; k++) {
            cred_info(templates[t][k], &rel);
            ok = ok && veil_route_relay_allowed(&src, &rel, &dst, true);
            memcpy(s->hops[p][n++].identity, ids[templates[t][k]].pk, 32);
        }
        if (!ok)
            continue;
        memcpy(s->hops[p][n++].identity, ids[D].pk, 32);
        s->n_hops[p] = n;
        s->n_paths++;
        s->path_tpl[p] = t;
        s->first[p] = node_of(s->hops[p][0].identity);
        if (veil_route_sel_add(&s->sel, (uint32_t)p, 0, now_ms(), NULL) != 0 ||
            setup_path(s, p) != 0)
            return -1;
    }
    return 0;
}

static void rebuild_silent_paths(struct source *s)
{
    uint64_t now = now_ms();
    for (int p = 0; p < s->n_paths; p++)
        if (s->answered[p] == s->answered_at_setup[p] && now - s->setup_ms[p] > 1000 &&
            setup_path(s, p) != 0)
            s->errors++;
}

static void send_on(struct source *s, uint32_t path, uint8_t kind)
{
    uint8_t pl[64], cell[256];
    size_t len;
    uint32_t q = s->seq++ % 4096;
    pl[0] = kind;
    memcpy(pl + 1, &q, 4);
    memcpy(pl + 5, marker, sizeof marker);
    if (veil_route_onion_wrap(&s->onion[path], pl, 5 + sizeof marker, cell, sizeof cell, &len,
                              NULL) != 0)
        return;
    s->probe[q].path = path, s->probe[q].sent = now_ms(), s->probe[q].open = kind == 'P';
    delay_send(&s->dl, S, s->first[path], cell, len);
}

/* One step of the source: replies, timeouts, due probes, one data packet. */
static void source_step(struct source *s)
{
    uint8_t buf[512], from[32];
    long n = veil_embed_recv(s->e, from, buf, sizeof buf, 1, NULL);
    uint64_t now = now_ms();
    if (n >= 5 && buf[0] == 'P' && node_of(from) == D) {
        uint32_t q;
        memcpy(&q, buf + 1, 4);
        if (q < 4096 && s->probe[q].open) {
            s->probe[q].open = false;
            s->answered[s->probe[q].path]++;
            if (veil_route_sel_report(&s->sel, s->probe[q].path, true,
                                      (now - s->probe[q].sent) * 1000, now, NULL) != 0)
                s->errors++;
        }
    }
    for (uint32_t q = 0; q < 4096; q++)
        if (s->probe[q].open && now - s->probe[q].sent > 300) {
            s->probe[q].open = false;
            if (veil_route_sel_report(&s->sel, s->probe[q].path, false, 0, now, NULL) != 0)
                s->errors++;
        }
    uint32_t due[VEIL_ROUTE_PATHS_MAX];
    size_t k = veil_route_sel_due(&s->sel, now, due, VEIL_ROUTE_PATHS_MAX);
    for (size_t i = 0; i < k; i++)
        send_on(s, due[i], 'P');
    uint32_t cur;
    if (s->seq % 8 == 0 && veil_route_sel_current(&s->sel, &cur, NULL) == 0)
        send_on(s, cur, 'd');
    rebuild_silent_paths(s);
    delay_flush(&s->dl, s->e);
}

static int run_until(struct source *s, int want_tpl, uint64_t limit_ms, uint64_t *took)
{
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < limit_ms) {
        source_step(s);
        uint32_t cur;
        if (want_tpl >= 0 && veil_route_sel_current(&s->sel, &cur, NULL) == 0 &&
            s->path_tpl[cur] == want_tpl) {
            *took = now_ms() - t0;
            return 0;
        }
    }
    *took = now_ms() - t0;
    return want_tpl < 0 ? 0 : -1;
}

static int current_tpl(struct source *s)
{
    uint32_t cur;
    return veil_route_sel_current(&s->sel, &cur, NULL) == 0 ? s->path_tpl[cur] : -1;
}

static void test_mesh(void)
{
    static struct source s;
    int ports_w[N_NODES] = {0}, port_r[N_NODES] = {0};
    uint16_t ports[N_NODES];
    /* the hosts are forked before this process starts its agent's thread */
    CHECK_EQ_INT(spawn_all(ports_w, port_r), 0);
    s.e = start(S);
    CHECK(s.e != NULL);
    if (!s.e)
        return;
    ports[S] = veil_embed_port(s.e);
    for (int i = 1; i < N_NODES; i++)
        CHECK(read(port_r[i], &ports[i], sizeof ports[i]) == sizeof ports[i]);
    for (int i = 1; i < N_NODES; i++)
        CHECK(write(ports_w[i], ports, sizeof ports) == sizeof ports);
    CHECK_EQ_INT(add_peers(s.e, S, ports), 0);
    CHECK_EQ_INT(veil_route_sel_init(&s.sel, NULL, NULL), 0);
    s.dl.rng = 0x5eed0000u;
    CHECK_EQ_INT(build_paths(&s), 0);
    CHECK_EQ_INT(s.n_paths, 4); /* X, T and R1+T refused by the policy */
    uint64_t took;
    /* via R1: 10+10 ms, back 5 (direct 155, via R2 105, via R2+R3 65) */
    CHECK_EQ_INT(run_until(&s, 1, 15000, &took), 0);
    fprintf(stderr, "converged to the path via R1 in %llu ms\n", (unsigned long long)took);
    CHECK_EQ_INT(run_until(&s, -1, 3000, &took), 0);
    CHECK_EQ_INT(current_tpl(&s), 1);
    for (int p = 0; p < s.n_paths; p++) {
        CHECK(s.answered[p] > 0); /* every path reaches D */
        fprintf(stderr, "path %d (template %d): %llu probes answered\n", p, s.path_tpl[p],
                (unsigned long long)s.answered[p]);
    }
    kill(pids[R1], SIGKILL);
    waitpid(pids[R1], NULL, 0);
    pids[R1] = 0;
    /* via R2+R3: 40+10+10 ms, back 5 */
    CHECK_EQ_INT(run_until(&s, 3, 15000, &took), 0);
    fprintf(stderr, "moved off the dead relay R1 in %llu ms\n", (unsigned long long)took);
    CHECK_EQ_INT(run_until(&s, -1, 3000, &took), 0);
    CHECK_EQ_INT(current_tpl(&s), 3);
    struct host_stats st[N_NODES] = {0};
    for (int i = 1; i < N_NODES; i++) {
        if (i == R1)
            continue;
        close(stop_w[i]);
        struct pollfd pfd = {.fd = stats_r[i], .events = POLLIN};
        CHECK(poll(&pfd, 1, 10000) == 1 && read(stats_r[i], &st[i], sizeof st[i]) == sizeof st[i]);
    }
    CHECK(st[R2].relayed > 0 && st[R3].relayed > 0 && st[D].delivered > 0);
    CHECK_EQ_U64(st[R2].marker_hits + st[R3].marker_hits, 0);
    CHECK_EQ_U64(st[X].received + st[T].received, 0);
    CHECK_EQ_U64(s.errors, 0);
    for (int i = 1; i < N_NODES; i++)
        fprintf(stderr, "%s: received %llu relayed %llu delivered %llu\n", names[i],
                (unsigned long long)st[i].received, (unsigned long long)st[i].relayed,
                (unsigned long long)st[i].delivered);
    for (int p = 0; p < s.n_paths; p++)
        veil_route_onion_wipe(&s.onion[p]);
    veil_embed_stop(s.e);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    atexit(kill_children);
    signal(SIGPIPE, SIG_IGN);
    crypto_sign_keypair(g_gpk, g_gsk);
    for (int i = 0; i < N_NODES; i++) {
        uint8_t seed[32];
        memset(seed, 0x40 + i, sizeof seed);
        crypto_sign_seed_keypair(ids[i].pk, ids[i].sk, seed);
        ids[i].cred_len =
            anchor_test_cred_make(ids[i].cred, realms[i], taints[i], ids[i].pk, UINT64_MAX, g_gsk);
    }
    static const struct vtest_case cases[] = {VTEST(test_mesh)};
    int rc = vtest_run(cases, VEIL_ARRAY_LEN(cases), argc, argv);
    kill_children();
    return rc;
}
