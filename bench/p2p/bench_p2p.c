// SPDX-License-Identifier: Apache-2.0
/*
 * bench_p2p.c (p2p core) - in-process figures of the libp2p stack on
 * 127.0.0.1, printed as one JSON object:
 *   - handshake + one round trip: a fresh TCP connection, multistream, Noise
 *     XX, yamux, then one /ipfs/ping/1.0.0 round trip (median, p90, max);
 *   - heap per idle connection: N client hosts each connect to one server
 *     and go idle (identify done); heap growth (glibc mallinfo2) over N,
 *     counting both ends of each connection, kernel socket buffers excluded
 *     (the process RSS growth per end is reported next to it);
 *   - perf throughput between two hosts in the same process and loop.
 * Usage: bench_p2p [--conns N] [--rounds N] [--perf-bytes BYTES]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <veil/p2p.h>

struct ctx {
    uv_loop_t loop;
    veil_p2p_host *server;
    veil_p2p_multiaddr server_addr;
    int pending;
    bool failed;
    uint64_t t0;
    uint64_t *samples;
    int n_samples;
    bool perf_done;
    struct veil_p2p_perf_result perf;
};

static veil_p2p_host *make_host(struct ctx *c, bool identify)
{
    veil_p2p_keypair kp;
    veil_p2p_keypair_generate(&kp, NULL);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &kp;
    cfg.disable_identify = !identify;
    cfg.max_connections = 100000;
    veil_p2p_host *h = NULL;
    veil_err err = {0};
    if (veil_p2p_host_new(&c->loop, &cfg, &h, &err) != 0) {
        fprintf(stderr, "bench_p2p: %s\n", err.msg);
        exit(1);
    }
    return h;
}

static void on_ping(veil_p2p_host *h, const veil_err *err, uint64_t rtt, void *ud)
{
    (void)h;
    (void)rtt;
    struct ctx *c = ud;
    if (err) {
        fprintf(stderr, "bench_p2p: ping: %s\n", err->msg);
        c->failed = true;
    } else {
        c->samples[c->n_samples++] = uv_hrtime() - c->t0;
    }
    c->pending--;
}

static void on_dial_then_ping(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    struct ctx *c = ud;
    if (!conn) {
        fprintf(stderr, "bench_p2p: dial: %s\n", err ? err->msg : "?");
        c->failed = true;
        c->pending--;
        return;
    }
    if (veil_p2p_ping(h, veil_p2p_conn_peer(conn), on_ping, c, NULL) != 0) {
        c->failed = true;
        c->pending--;
    }
}

static void on_dial_idle(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)h;
    struct ctx *c = ud;
    if (!conn) {
        fprintf(stderr, "bench_p2p: dial: %s\n", err ? err->msg : "?");
        c->failed = true;
    }
    c->pending--;
}

static void closed(void *ud)
{
    (*(int *)ud)--;
}

static void run_pending(struct ctx *c)
{
    while (c->pending > 0 && !c->failed)
        uv_run(&c->loop, UV_RUN_ONCE);
}

/* Resident set size in bytes (/proc/self/status VmRSS), 0 if unknown. */
static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void settle(struct ctx *c, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (uv_hrtime() < end)
        uv_run(&c->loop, UV_RUN_NOWAIT);
}

static void on_perf(veil_p2p_host *h, const veil_err *err, const struct veil_p2p_perf_result *r,
                    void *ud)
{
    (void)h;
    struct ctx *c = ud;
    if (err) {
        fprintf(stderr, "bench_p2p: perf: %s\n", err->msg);
        c->failed = true;
    } else {
        c->perf = *r;
    }
    c->pending--;
}

int main(int argc, char **argv)
{
    int conns = 200, rounds = 200;
    uint64_t perf_bytes = 256u << 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--conns") == 0)
            conns = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--perf-bytes") == 0)
            perf_bytes = strtoull(argv[i + 1], NULL, 10);
    }
    if (conns < 1 || rounds < 1) {
        fprintf(stderr, "usage: bench_p2p [--conns N] [--rounds N] [--perf-bytes BYTES]\n");
        return 2;
    }
    veil_crypto_init(NULL);
    struct ctx c;
    memset(&c, 0, sizeof c);
    uv_loop_init(&c.loop);
    c.server = make_host(&c, true);
    veil_p2p_multiaddr la;
    veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la, NULL);
    if (veil_p2p_host_listen(c.server, &la, NULL) != 0)
        return 1;
    veil_p2p_multiaddr bound;
    veil_p2p_host_listen_addrs(c.server, &bound, 1);
    veil_p2p_multiaddr_with_peer(&bound, veil_p2p_host_peer_id(c.server), &c.server_addr, NULL);

    /* 1. handshake + one round trip, a fresh client host each round */
    c.samples = calloc((size_t)rounds, sizeof *c.samples);
    for (int r = 0; r < rounds && !c.failed; r++) {
        veil_p2p_host *cl = make_host(&c, false);
        c.pending = 1;
        c.t0 = uv_hrtime();
        veil_p2p_host_dial(cl, &c.server_addr, NULL, on_dial_then_ping, &c, NULL);
        run_pending(&c);
        int open = 1;
        veil_p2p_host_close(cl, closed, &open);
        while (open)
            uv_run(&c.loop, UV_RUN_ONCE);
    }
    qsort(c.samples, (size_t)c.n_samples, sizeof *c.samples, cmp_u64);
    double lat_med = c.n_samples ? (double)c.samples[c.n_samples / 2] / 1e6 : 0;
    double lat_p90 = c.n_samples ? (double)c.samples[c.n_samples * 9 / 10] / 1e6 : 0;
    double lat_max = c.n_samples ? (double)c.samples[c.n_samples - 1] / 1e6 : 0;
    settle(&c, 100);

    /* 2. heap per idle connection */
    veil_p2p_host **clients = calloc((size_t)conns, sizeof *clients);
    for (int i = 0; i < conns; i++)
        clients[i] = make_host(&c, true);
    settle(&c, 50);
    struct mallinfo2 before = mallinfo2();
    long rss_before = rss_bytes();
    c.pending = conns;
    for (int i = 0; i < conns; i++)
        veil_p2p_host_dial(clients[i], &c.server_addr, NULL, on_dial_idle, &c, NULL);
    run_pending(&c);
    settle(&c, 500); /* identify both ways, then idle */
    struct mallinfo2 after = mallinfo2();
    long rss_after = rss_bytes();
    double per_conn_both = ((double)after.uordblks - (double)before.uordblks) / conns;
    int open = conns;
    for (int i = 0; i < conns; i++)
        veil_p2p_host_close(clients[i], closed, &open);
    while (open > 0)
        uv_run(&c.loop, UV_RUN_ONCE);
    free(clients);

    /* 3. perf in one process (both ends share one core's loop) */
    veil_p2p_host *pc = make_host(&c, true);
    c.pending = 1;
    veil_p2p_host_dial(pc, &c.server_addr, NULL, on_dial_idle, &c, NULL);
    run_pending(&c);
    c.pending = 1;
    veil_p2p_perf(pc, veil_p2p_host_peer_id(c.server), perf_bytes, perf_bytes, on_perf, &c, NULL);
    run_pending(&c);
    open = 2;
    veil_p2p_host_close(pc, closed, &open);
    veil_p2p_host_close(c.server, closed, &open);
    while (open > 0)
        uv_run(&c.loop, UV_RUN_ONCE);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    if (c.failed)
        return 1;
    printf("{\"bench\":\"p2p_core\",\"handshake_rtt_ms\":{\"rounds\":%d,\"median\":%.3f,\"p90\":%."
           "3f,\"max\":%.3f},"
           "\"idle_conn_heap_bytes\":{\"conns\":%d,\"both_ends\":%.0f,\"per_end\":%.0f,"
           "\"rss_per_end\":%.0f},"
           "\"perf_in_process_gbit_s\":{\"bytes\":%llu,\"upload\":%.2f,\"download\":%.2f}}\n",
           c.n_samples, lat_med, lat_p90, lat_max, conns, per_conn_both, per_conn_both / 2,
           ((double)rss_after - (double)rss_before) / conns / 2, (unsigned long long)perf_bytes,
           (double)c.perf.upload_bytes * 8 / (double)(c.perf.upload_ns ? c.perf.upload_ns : 1),
           (double)c.perf.download_bytes * 8 /
               (double)(c.perf.download_ns ? c.perf.download_ns : 1));
    free(c.samples);
    return 0;
}
