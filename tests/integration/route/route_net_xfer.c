// SPDX-License-Identifier: Apache-2.0
/*
 * route_net_xfer.c - the source's transfer in the whole-topology routing
 * test: h1 (behind a cone NAT) sends to h2 (behind another) while its
 * selector (veil_route_sel) chooses among the direct punched path and onion
 * paths through the relays the policy allows (the candidates and their
 * priors come from the `topo` summaries heard on Master; T, whose taints are
 * not contained, is refused). Probes and data are onion DATA cells; h2
 * answers on its own way back. Once the choice has settled on the best path
 * (via P1), P1 is killed (SIGKILL, pid handed over by the script) in the
 * middle of the transfer; the selector must move to the next best (via P2).
 * Figures (one JSON line): convergence, failover (switch and delivery gap),
 * the chosen path's latency against the best fixed path, probe rate.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "route_net.h"

#define N_TPL    6
#define N_SEQ    4096
#define DATA_MS  10  /* one data cell every 10 ms */
#define PROBE_TO 300 /* probe timeout */

/* Candidate paths: relays before the destination (-1 ends). */
static const int tpl[N_TPL][2] = {{-1, -1},   {RN_P1, -1},   {RN_P2, -1},
                                  {RN_M, -1}, {RN_P2, RN_M}, {RN_T, -1}};
static const char *const tpl_name[N_TPL] = {"direct", "P1", "P2", "M", "P2+M", "T"};

struct xpath {
    int tpl;
    bool added, allowed;
    size_t n_hops;
    struct veil_route_hop hops[3];
    struct veil_route_onion onion;
    uint64_t setup_ms, answered, answered_at_setup;
    uint64_t rtt_sum_us, rtt_n; /* probe RTTs after convergence */
};

struct rn_xfer {
    struct veil_route_sel sel;
    struct xpath p[N_TPL];
    struct {
        int path;
        char kind;
        bool open;
        uint64_t sent;
    } q[N_SEQ];
    uint32_t seq;
    int phase; /* 0 converging, 1 settled, 2 after the kill, 3 done */
    uint64_t t0, settled_ms, kill_ms, next_data;
    uint64_t data_sent, data_acked, data_rtt_sum_us, data_rtt_n;
    uint64_t last_ack_before_kill, first_ack_after_kill; /* send times */
    uint64_t probes0, probe_t0, errors;
};

static int current_tpl(const struct rn_xfer *x)
{
    uint32_t cur;
    return veil_route_sel_current(&x->sel, &cur, NULL) == 0 ? x->p[cur].tpl : -1;
}

/* Prior RTT of a path from the summaries: one-way halves of each link's RTT
 * forward, plus the way back (h2 answers directly); 0 when a link is unknown. */
static uint64_t prior_us(const struct rn_host *h, const struct xpath *p)
{
    uint64_t sum = rn_link_rtt(h, RN_DST, RN_SRC);
    int prev = RN_SRC;
    for (size_t k = 0; k < p->n_hops; k++) {
        int next = rn_index(p->hops[k].identity);
        uint32_t l = rn_link_rtt(h, prev, next);
        if (l == 0 || sum == 0)
            return 0;
        sum += l;
        prev = next;
    }
    return sum / 2;
}

static void setup_path(struct rn_host *h, struct xpath *p)
{
    struct veil_route_limits lim = {1u << 30, 1u << 24, 20000};
    uint8_t cell[VEIL_ROUTE_SETUP_BYTES];
    veil_route_onion_wipe(&p->onion);
    if (veil_route_onion_build(&p->onion, rn_ids[RN_SRC].sk, p->hops, p->n_hops, &lim, cell,
                               NULL) != 0) {
        h->x->errors++;
        return;
    }
    p->setup_ms = rn_now_ms();
    p->answered_at_setup = p->answered;
    rn_delay_send(&h->dl, RN_SRC, rn_index(p->hops[0].identity), cell, sizeof cell);
}

/* Adds each candidate once the policy allows it and its relays said yes. */
static void add_paths(struct rn_host *h, struct rn_xfer *x)
{
    for (int t = 0; t < N_TPL; t++) {
        struct xpath *p = &x->p[t];
        bool ready = true;
        if (p->added || !p->allowed)
            continue;
        for (int k = 0; k < 2 && tpl[t][k] >= 0; k++)
            ready = ready && rn_relay_ready(h, tpl[t][k]);
        if (!ready)
            continue;
        p->added = true;
        if (veil_route_sel_add(&x->sel, (uint32_t)t, prior_us(h, p), rn_now_ms(), NULL) != 0)
            x->errors++;
        setup_path(h, p);
    }
}

static void plan_paths(struct rn_host *h, struct rn_xfer *x)
{
    for (int t = 0; t < N_TPL; t++) {
        struct xpath *p = &x->p[t];
        p->tpl = t;
        p->allowed = true;
        for (int k = 0; k < 2 && tpl[t][k] >= 0; k++) {
            p->allowed = p->allowed && rn_relay_allowed(h, RN_SRC, tpl[t][k], RN_DST);
            memcpy(p->hops[p->n_hops++].identity, rn_ids[tpl[t][k]].pk, 32);
        }
        memcpy(p->hops[p->n_hops++].identity, rn_ids[RN_DST].pk, 32);
        printf("candidate %s %s\n", tpl_name[t], p->allowed ? "allowed" : "refused");
    }
}

static void send_on(struct rn_host *h, struct rn_xfer *x, int t, char kind)
{
    uint8_t m[5 + sizeof RN_MARKER + 64] = {0}, cell[512];
    size_t len;
    uint32_t q = x->seq++ % N_SEQ;
    m[0] = (uint8_t)kind;
    memcpy(m + 1, &q, 4);
    memcpy(m + 5, RN_MARKER, sizeof RN_MARKER);
    struct xpath *p = &x->p[t];
    if (veil_route_onion_wrap(&p->onion, m, sizeof m, cell, sizeof cell, &len, NULL) != 0) {
        x->errors++;
        return;
    }
    x->q[q].path = t, x->q[q].kind = kind, x->q[q].open = true, x->q[q].sent = rn_now_ms();
    rn_delay_send(&h->dl, RN_SRC, rn_index(p->hops[0].identity), cell, len);
}

void rn_xfer_on_reply(struct rn_host *h, const uint8_t *m, size_t len)
{
    struct rn_xfer *x = h->x;
    uint32_t q;
    if (len != 5)
        return;
    memcpy(&q, m + 1, 4);
    if (q >= N_SEQ || !x->q[q].open || x->q[q].kind != (m[0] == 'p' ? 'P' : 'd'))
        return;
    uint64_t now = rn_now_ms(), sent = x->q[q].sent, rtt = (now - sent) * 1000;
    struct xpath *p = &x->p[x->q[q].path];
    x->q[q].open = false;
    if (m[0] == 'p') {
        p->answered++;
        if (veil_route_sel_report(&x->sel, (uint32_t)p->tpl, true, rtt, now, NULL) != 0)
            x->errors++;
        if (x->phase >= 1)
            p->rtt_sum_us += rtt, p->rtt_n++;
        return;
    }
    x->data_acked++;
    if (x->phase >= 1)
        x->data_rtt_sum_us += rtt, x->data_rtt_n++;
    if ((!x->kill_ms || sent < x->kill_ms) && sent > x->last_ack_before_kill)
        x->last_ack_before_kill = sent;
    if (x->kill_ms && sent >= x->kill_ms &&
        (!x->first_ack_after_kill || sent < x->first_ack_after_kill))
        x->first_ack_after_kill = sent;
}

/* Probe timeouts, due probes, one data cell per DATA_MS, silent paths rebuilt. */
static void xfer_tick(struct rn_host *h, struct rn_xfer *x)
{
    uint64_t now = rn_now_ms();
    for (uint32_t q = 0; q < N_SEQ; q++)
        if (x->q[q].open && now - x->q[q].sent > PROBE_TO) {
            x->q[q].open = false;
            if (x->q[q].kind == 'P' &&
                veil_route_sel_report(&x->sel, (uint32_t)x->q[q].path, false, 0, now, NULL) != 0)
                x->errors++;
        }
    uint32_t due[VEIL_ROUTE_PATHS_MAX], cur;
    size_t k = veil_route_sel_due(&x->sel, now, due, VEIL_ROUTE_PATHS_MAX);
    for (size_t i = 0; i < k; i++)
        send_on(h, x, (int)due[i], 'P');
    if (now >= x->next_data && veil_route_sel_current(&x->sel, &cur, NULL) == 0) {
        x->next_data = now + DATA_MS;
        x->data_sent++;
        send_on(h, x, (int)cur, 'd');
    }
    for (int t = 0; t < N_TPL; t++) {
        struct xpath *p = &x->p[t];
        if (p->added && p->answered == p->answered_at_setup && now - p->setup_ms > 1000)
            setup_path(h, p);
    }
    add_paths(h, x);
}

/* Runs until the path in use is want (or, with leave, is another live one)
 * or limit_ms passes (want < 0: just runs); the time it took, or -1. */
static long run_until(struct rn_host *h, struct rn_xfer *x, int want, bool leave, uint64_t limit_ms)
{
    uint64_t t0 = rn_now_ms();
    while (rn_now_ms() - t0 < limit_ms) {
        rn_step(h, 1);
        xfer_tick(h, x);
        int cur = current_tpl(x);
        if (want >= 0 && (leave ? cur >= 0 && cur != want : cur == want))
            return (long)(rn_now_ms() - t0);
    }
    return want < 0 ? (long)limit_ms : -1;
}

/* Waits (serving) for the script's go: P1's pid in the file; kills it. */
static int kill_p1(struct rn_host *h, struct rn_xfer *x, const char *file)
{
    for (uint64_t t0 = rn_now_ms(); file && rn_now_ms() - t0 < 30000;) {
        FILE *f = fopen(file, "r");
        long pid = 0;
        if (f && fscanf(f, "%ld", &pid) == 1 && pid > 1) {
            fclose(f);
            x->kill_ms = rn_now_ms();
            return kill((pid_t)pid, SIGKILL);
        }
        if (f)
            fclose(f);
        (void)run_until(h, x, -1, false, 20);
    }
    return -1;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(struct rn_xfer *x, long converge, long moved, long settled, double cpu0)
{
    int best = -1;
    double best_ms = 0;
    for (int t = 0; t < N_TPL; t++) {
        const struct xpath *p = &x->p[t];
        double ms = p->rtt_n ? (double)p->rtt_sum_us / (double)p->rtt_n / 1000.0 : 0;
        printf("path %s answered=%llu mean_rtt_ms=%.1f\n", tpl_name[t],
               (unsigned long long)p->answered, ms);
        if (t != 1 && p->rtt_n && (best < 0 || ms < best_ms)) /* P1 died: not a fixed choice */
            best = t, best_ms = ms;
    }
    double chosen = x->data_rtt_n ? (double)x->data_rtt_sum_us / (double)x->data_rtt_n / 1000 : 0;
    double secs = (double)(rn_now_ms() - x->probe_t0) / 1000.0;
    printf(
        "{\"bench\":\"route_netns\",\"hosts\":%d,\"convergence_ms\":%ld,\"failover_switch_ms\":%ld,"
        "\"failover_settle_ms\":%ld,\"failover_gap_ms\":%lld,\"chosen_rtt_ms\":%.1f,\"best_fixed\":"
        "\"%s\","
        "\"best_fixed_rtt_ms\":%.1f,\"regret_pct\":%.1f,\"data_sent\":%llu,\"data_acked\":%llu,"
        "\"probes_per_s\":%.2f,\"switches\":%llu,\"source_cpu_s\":%.2f}\n",
        RN_N, converge, moved, settled,
        x->first_ack_after_kill ? (long long)(x->first_ack_after_kill - x->last_ack_before_kill)
                                : -1LL,
        chosen, best >= 0 ? tpl_name[best] : "none", best_ms,
        best_ms > 0 ? (chosen / best_ms - 1) * 100 : 0, (unsigned long long)x->data_sent,
        (unsigned long long)x->data_acked,
        secs > 0 ? (double)(x->sel.probes - x->probes0) / secs : 0,
        (unsigned long long)x->sel.switches, cpu_s() - cpu0);
}

int rn_xfer_run(struct rn_host *h, const char *kill_pid_file)
{
    static struct rn_xfer x;
    double cpu0 = cpu_s();
    h->x = &x;
    if (veil_route_sel_init(&x.sel, NULL, NULL) != 0)
        return 1;
    x.t0 = rn_now_ms();
    for (int i = 0; i < RN_N; i++) /* every relay's summary, T's included */
        while (!h->have_topo[i] && i != RN_SRC && rn_now_ms() - x.t0 < 5000)
            rn_step(h, 1);
    plan_paths(h, &x);
    long converge = run_until(h, &x, 1, false, 20000);
    printf("check converged-to-P1 %s ms=%ld\n", converge >= 0 ? "ok" : "FAIL", converge);
    x.phase = 1;
    x.probes0 = x.sel.probes, x.probe_t0 = rn_now_ms();
    (void)run_until(h, &x, -1, false, 3000);
    bool stayed = current_tpl(&x) == 1;
    printf("check stayed-on-P1 %s\n", stayed ? "ok" : "FAIL");
    int killed = kill_p1(h, &x, kill_pid_file);
    x.phase = 2;
    long moved = killed == 0 ? run_until(h, &x, 1, true, 10000) : -1;
    int to = current_tpl(&x);
    printf("check failover-off-P1 %s ms=%ld to=%s\n", moved >= 0 ? "ok" : "FAIL", moved,
           to >= 0 ? tpl_name[to] : "none");
    long settled = moved >= 0 ? run_until(h, &x, 2, false, 15000) : -1;
    printf("check settled-on-P2 %s ms=%ld\n", settled >= 0 ? "ok" : "FAIL", settled);
    (void)run_until(h, &x, -1, false, 2000);
    bool refused = h->have_topo[RN_T] && h->topo[RN_T].relay_willing && !x.p[5].allowed &&
                   !x.p[5].added; /* willing, heard, refused for its taints */
    printf("check T-refused %s\n", refused ? "ok" : "FAIL");
    printf("check xfer-errors %s n=%llu\n", x.errors == 0 ? "ok" : "FAIL",
           (unsigned long long)x.errors);
    report(&x, converge, moved, settled < 0 ? -1 : moved + settled, cpu0);
    printf("xfer-done\n");
    for (int t = 0; t < N_TPL; t++)
        veil_route_onion_wipe(&x.p[t].onion);
    return converge >= 0 && stayed && moved >= 0 && settled >= 0 && refused && x.errors == 0 ? 0
                                                                                             : 1;
}
