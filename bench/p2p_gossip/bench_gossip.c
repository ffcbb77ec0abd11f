// SPDX-License-Identifier: Apache-2.0
/*
 * bench_gossip.c (gossipsub and Kademlia modules) - figures printed as one
 * JSON object:
 *   - validate_msgs_per_s: one router taking RPCs that each carry one new
 *     StrictSign message (decode, message ID, seen cache, Ed25519 verify,
 *     mcache, delivery), single thread;
 *   - mesh: N routers in a simulated network (each dials 8 random others),
 *     after 10 heartbeats M messages published through the mesh (flood
 *     publishing off): delivery ratio, duplicates and bytes received per node
 *     per message, mesh degree, control traffic per node per heartbeat;
 *   - kad: K routing tables bootstrapped by self-lookups, then L lookups of
 *     random members: queries per lookup, exact k-closest ratio;
 *   - loopback: two libp2p hosts in one process, gossipsub attached, one
 *     subscribed: publish -> deliver latency (median, p99) and the rate of a
 *     burst of 1 KiB messages.
 * Usage: bench_gossip [--nodes N] [--messages M] [--kad K] [--lookups L]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>
#include <uv.h>

#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/p2p.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_field(veil_buf *b, unsigned field, const void *d, size_t n)
{
    veil_buf_put_uvarint(b, ((uint64_t)field << 3) | 2);
    veil_buf_put_uvarint(b, n);
    veil_buf_put(b, d, n);
}

/* ---- validation throughput ---------------------------------------------- */

static void nop_send(void *ctx, const uint8_t *p, size_t pl, const uint8_t *r, size_t l)
{
    (void)ctx;
    (void)p;
    (void)pl;
    (void)r;
    (void)l;
}

static double bench_validate(int n)
{
    uint8_t pk[32], sk[64], psk[64], pid[VEIL_GS_PEER_ID_MAX];
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk, psk);
    size_t pid_len = veil_gs_peer_id_from_pubkey(pid, pk);
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    struct veil_gs_callbacks cb = {nop_send, NULL, NULL};
    veil_gs *gs;
    if (veil_gs_new(&gs, &cfg, sk, &cb, NULL) != 0)
        return 0;
    veil_gs_subscribe(gs, "bench", NULL, NULL, 1, NULL);
    veil_gs_add_peer(gs, pid, pid_len, VEIL_GS_MESHSUB_11, false, 1, NULL);
    veil_buf *rpcs = calloc((size_t)n, sizeof *rpcs);
    uint8_t payload[256] = {0};
    for (int i = 0; i < n; i++) {
        veil_buf msg;
        veil_buf_init(&msg);
        veil_buf_init(&rpcs[i]);
        veil_gs_build_signed_message(&msg, psk, "bench", payload, sizeof payload, (uint64_t)i + 1,
                                     NULL);
        put_field(&rpcs[i], 2, msg.data, msg.len);
        veil_buf_free(&msg);
    }
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        veil_gs_handle_rpc(gs, pid, pid_len, rpcs[i].data, rpcs[i].len, 2, NULL);
    uint64_t dt = now_ns() - t0;
    struct veil_gs_stats st;
    veil_gs_get_stats(gs, &st);
    for (int i = 0; i < n; i++)
        veil_buf_free(&rpcs[i]);
    free(rpcs);
    veil_gs_free(gs);
    return st.msgs_delivered == (uint64_t)n ? (double)n / ((double)dt / 1e9) : 0;
}

/* ---- simulated mesh ------------------------------------------------------ */

struct snode {
    struct sim *sim;
    int idx;
    veil_gs *gs;
    uint8_t id[VEIL_GS_PEER_ID_MAX];
    size_t id_len;
    uint64_t bytes_in, rpcs_in;
};

struct spkt {
    int from, to;
    uint8_t *data;
    size_t len;
};

struct sim {
    struct snode *nodes;
    int n;
    struct spkt *q;
    size_t qn, qcap;
    uint64_t now;
};

static void sim_send(void *ctx, const uint8_t *peer, size_t peer_len, const uint8_t *rpc,
                     size_t len)
{
    struct snode *from = ctx;
    struct sim *s = from->sim;
    int to = -1;
    for (int i = 0; i < s->n && to < 0; i++)
        if (s->nodes[i].id_len == peer_len && memcmp(s->nodes[i].id, peer, peer_len) == 0)
            to = i;
    if (to < 0)
        return;
    if (s->qn == s->qcap) {
        s->qcap = s->qcap ? s->qcap * 2 : 1024;
        s->q = realloc(s->q, s->qcap * sizeof *s->q);
    }
    s->q[s->qn].from = from->idx;
    s->q[s->qn].to = to;
    s->q[s->qn].data = malloc(len);
    memcpy(s->q[s->qn].data, rpc, len);
    s->q[s->qn].len = len;
    s->qn++;
}

static void sim_run(struct sim *s)
{
    for (size_t h = 0; h < s->qn; h++) {
        struct spkt p = s->q[h];
        struct snode *dst = &s->nodes[p.to];
        dst->bytes_in += p.len;
        dst->rpcs_in++;
        veil_gs_handle_rpc(dst->gs, s->nodes[p.from].id, s->nodes[p.from].id_len, p.data, p.len,
                           s->now, NULL);
        free(p.data);
    }
    s->qn = 0;
}

static void sim_heartbeat(struct sim *s)
{
    s->now += 1000;
    for (int i = 0; i < s->n; i++) {
        veil_gs_heartbeat(s->nodes[i].gs, s->now);
        sim_run(s);
    }
}

static void bench_mesh(int n, int messages, veil_buf *json)
{
    struct sim s = {0};
    s.n = n;
    s.now = 1000;
    s.nodes = calloc((size_t)n, sizeof *s.nodes);
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    cfg.flood_publish = false;
    for (int i = 0; i < n; i++) {
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        s.nodes[i].sim = &s;
        s.nodes[i].idx = i;
        s.nodes[i].id_len = veil_gs_peer_id_from_pubkey(s.nodes[i].id, pk);
        struct veil_gs_callbacks cb = {sim_send, NULL, &s.nodes[i]};
        veil_gs_new(&s.nodes[i].gs, &cfg, sk, &cb, NULL);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 8; k++) {
            int j = (int)veil_random_uniform((uint32_t)n);
            if (j == i || veil_gs_has_peer(s.nodes[i].gs, s.nodes[j].id, s.nodes[j].id_len))
                continue;
            veil_gs_add_peer(s.nodes[i].gs, s.nodes[j].id, s.nodes[j].id_len, VEIL_GS_MESHSUB_11,
                             true, s.now, NULL);
            veil_gs_add_peer(s.nodes[j].gs, s.nodes[i].id, s.nodes[i].id_len, VEIL_GS_MESHSUB_11,
                             false, s.now, NULL);
        }
    sim_run(&s);
    for (int i = 0; i < n; i++)
        veil_gs_subscribe(s.nodes[i].gs, "bench", NULL, NULL, s.now, NULL);
    sim_run(&s);
    for (int r = 0; r < 10; r++)
        sim_heartbeat(&s);
    /* control traffic in steady state: 10 quiet heartbeats */
    uint64_t rpcs_before = 0;
    for (int i = 0; i < n; i++)
        rpcs_before += s.nodes[i].rpcs_in;
    for (int r = 0; r < 10; r++)
        sim_heartbeat(&s);
    uint64_t rpcs_quiet = 0;
    for (int i = 0; i < n; i++)
        rpcs_quiet += s.nodes[i].rpcs_in;
    rpcs_quiet -= rpcs_before;
    size_t degree = 0;
    for (int i = 0; i < n; i++)
        degree += veil_gs_mesh_peers(s.nodes[i].gs, "bench", NULL, 0);
    uint64_t bytes_before = 0;
    for (int i = 0; i < n; i++)
        bytes_before += s.nodes[i].bytes_in;
    uint8_t payload[256] = {0};
    for (int m = 0; m < messages; m++) {
        int from = (int)veil_random_uniform((uint32_t)n);
        veil_gs_publish(s.nodes[from].gs, "bench", payload, sizeof payload, s.now, NULL);
        sim_run(&s);
        if (m % 10 == 9)
            sim_heartbeat(&s);
    }
    for (int r = 0; r < 3; r++)
        sim_heartbeat(&s); /* IHAVE/IWANT repairs */
    uint64_t delivered = 0, dups = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        struct veil_gs_stats st;
        veil_gs_get_stats(s.nodes[i].gs, &st);
        delivered += st.msgs_delivered;
        dups += st.msgs_duplicate;
        bytes += s.nodes[i].bytes_in;
    }
    bytes -= bytes_before;
    double expected = (double)messages * (double)(n - 1);
    veil_buf_printf(json,
                    "\"mesh\": {\"nodes\": %d, \"messages\": %d, \"payload_bytes\": 256, "
                    "\"delivery_ratio\": %.4f, \"mean_mesh_degree\": %.2f, "
                    "\"duplicates_per_node_per_msg\": %.2f, \"bytes_in_per_node_per_msg\": %.0f, "
                    "\"quiet_rpcs_per_node_per_heartbeat\": %.2f}",
                    n, messages, (double)delivered / expected, (double)degree / n,
                    (double)dups / expected, (double)bytes / expected,
                    (double)rpcs_quiet / (10.0 * n));
    for (int i = 0; i < n; i++)
        veil_gs_free(s.nodes[i].gs);
    free(s.nodes);
    free(s.q);
}

/* ---- Kademlia lookups ----------------------------------------------------- */

static void bench_kad(int n, int lookups, veil_buf *json)
{
    struct veil_kad_peer *peers = calloc((size_t)n, sizeof *peers);
    veil_kad_table **tables = calloc((size_t)n, sizeof *tables);
    for (int i = 0; i < n; i++) {
        uint8_t id[38] = {0x00, 0x24, 0x08, 0x01, 0x12, 0x20};
        veil_random_bytes(id + 6, 32);
        veil_kad_peer_init(&peers[i], id, sizeof id, NULL);
        veil_kad_table_new(&tables[i], id, sizeof id, VEIL_KAD_K, NULL);
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 5; k++) {
            int j = (int)veil_random_uniform((uint32_t)n);
            if (j != i)
                veil_kad_table_add(tables[i], &peers[j], 1);
        }
    veil_buf req, resp;
    veil_buf_init(&req);
    veil_buf_init(&resp);
    uint64_t total_queries = 0;
    int exact = 0, measured = 0;
    for (int round = 0; round < 2; round++) {
        int count = round == 0 ? n : lookups;
        for (int li = 0; li < count; li++) {
            int from = round == 0 ? li : (int)veil_random_uniform((uint32_t)n);
            int to = round == 0 ? li : (int)veil_random_uniform((uint32_t)n);
            veil_kad_lookup *l;
            veil_kad_lookup_new(&l, tables[from], peers[to].id, peers[to].id_len, VEIL_KAD_K,
                                VEIL_KAD_ALPHA, NULL);
            while (!veil_kad_lookup_done(l)) {
                struct veil_kad_peer q[VEIL_KAD_ALPHA];
                size_t m = veil_kad_lookup_next(l, q, VEIL_KAD_ALPHA);
                if (m == 0)
                    break;
                for (size_t i = 0; i < m; i++) {
                    int j = -1;
                    for (int x = 0; x < n && j < 0; x++)
                        if (memcmp(peers[x].id, q[i].id, q[i].id_len) == 0)
                            j = x;
                    veil_buf_reset(&req);
                    veil_buf_reset(&resp);
                    veil_kad_encode_find_node(&req, peers[to].id, peers[to].id_len);
                    veil_kad_serve(tables[j], peers[from].id, peers[from].id_len, req.data, req.len,
                                   &resp, NULL);
                    struct veil_kad_decoded d;
                    if (veil_kad_decode(resp.data, resp.len, &d, NULL) == 0) {
                        veil_kad_lookup_answer(l, q[i].id, q[i].id_len, d.closer, d.n_closer);
                        veil_kad_decoded_free(&d);
                    } else {
                        veil_kad_lookup_fail(l, q[i].id, q[i].id_len);
                    }
                    veil_kad_table_add(tables[from], &peers[j], 1);
                    veil_kad_table_add(tables[j], &peers[from], 1);
                }
            }
            if (round == 1 && from != to) {
                struct veil_kad_peer res[VEIL_KAD_K];
                size_t m = veil_kad_lookup_result(l, res, VEIL_KAD_K);
                int closer = 0;
                for (int i = 0; m > 0 && i < n; i++)
                    if (i != from &&
                        veil_kad_distance_cmp(peers[to].key, peers[i].key, res[m - 1].key) < 0)
                        closer++;
                exact += m == VEIL_KAD_K && closer == (int)m - 1;
                total_queries += veil_kad_lookup_queries(l);
                measured++;
            }
            veil_kad_lookup_free(l);
        }
    }
    veil_buf_printf(json,
                    "\"kad\": {\"nodes\": %d, \"k\": %d, \"alpha\": %d, \"lookups\": %d, "
                    "\"queries_per_lookup\": %.1f, \"exact_k_closest_ratio\": %.3f}",
                    n, VEIL_KAD_K, VEIL_KAD_ALPHA, measured,
                    measured ? (double)total_queries / measured : 0,
                    measured ? (double)exact / measured : 0);
    veil_buf_free(&req);
    veil_buf_free(&resp);
    for (int i = 0; i < n; i++)
        veil_kad_table_free(tables[i]);
    free(tables);
    free(peers);
}

/* ---- loopback hosts -------------------------------------------------------- */

struct lb {
    uv_loop_t loop;
    veil_p2p_host *a, *b;
    veil_gossipsub *ga, *gb;
    uv_timer_t timer;
    int phase; /* 0 wait mesh, 1 latency pings, 2 burst, 3 done */
    int sent, received, want;
    uint64_t t_sent, t_burst;
    uint64_t *lat;
    int n_lat;
    double burst_rate;
    bool failed;
};

static void lb_publish(struct lb *c, size_t size)
{
    uint8_t buf[1024];
    memset(buf, 'x', sizeof buf);
    uint64_t t = now_ns();
    memcpy(buf, &t, sizeof t);
    veil_gossipsub_publish(c->ga, "lb", buf, size, NULL);
    c->sent++;
}

static void lb_on_msg(void *ctx, const struct veil_gs_message *m)
{
    struct lb *c = ctx;
    uint64_t t;
    if (m->data_len < sizeof t)
        return;
    memcpy(&t, m->data, sizeof t);
    c->received++;
    if (c->phase == 1) {
        c->lat[c->n_lat++] = now_ns() - t;
        if (c->n_lat < c->want)
            lb_publish(c, 64);
        else {
            c->phase = 2;
            c->received = 0;
            c->t_burst = now_ns();
            c->sent = 0;
            /* a window of 256 messages in flight keeps the stream backlog
             * under the limit past which slow peers' RPCs are dropped */
            for (int i = 0; i < 256 && c->sent < c->want * 10; i++)
                lb_publish(c, 1024);
        }
    } else if (c->phase == 2 && c->received < c->want * 10) {
        if (c->sent < c->want * 10)
            lb_publish(c, 1024);
    } else if (c->phase == 2 && c->received == c->want * 10) {
        c->burst_rate = (double)c->received / ((double)(now_ns() - c->t_burst) / 1e9);
        c->phase = 3;
        uv_stop(&c->loop);
    }
}

static void lb_tick(uv_timer_t *t)
{
    struct lb *c = t->data;
    if (c->phase == 0 && veil_gossipsub_topic_peers(c->ga, "lb", NULL, 0) > 0) {
        c->phase = 1;
        lb_publish(c, 64);
    }
}

static void lb_dialed(veil_p2p_host *h, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)h;
    (void)err;
    if (!conn) {
        ((struct lb *)ud)->failed = true;
        uv_stop(&((struct lb *)ud)->loop);
    }
}

static veil_p2p_host *lb_host(struct lb *c)
{
    veil_p2p_keypair kp;
    veil_p2p_keypair_generate(&kp, NULL);
    struct veil_p2p_host_config hc;
    veil_p2p_host_config_init(&hc);
    hc.key = &kp;
    veil_p2p_host *h = NULL;
    veil_p2p_host_new(&c->loop, &hc, &h, NULL);
    veil_p2p_keypair_wipe(&kp);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void lb_done(void *ud)
{
    (void)ud;
}

static void bench_loopback(int rounds, veil_buf *json)
{
    struct lb c;
    memset(&c, 0, sizeof c);
    c.want = rounds;
    c.lat = calloc((size_t)rounds, sizeof *c.lat);
    uv_loop_init(&c.loop);
    c.a = lb_host(&c);
    c.b = lb_host(&c);
    veil_p2p_multiaddr la;
    veil_p2p_multiaddr_parse("/ip4/127.0.0.1/tcp/0", &la, NULL);
    veil_p2p_host_listen(c.b, &la, NULL);
    veil_gossipsub_attach(c.a, NULL, &c.ga, NULL);
    veil_gossipsub_attach(c.b, NULL, &c.gb, NULL);
    veil_gossipsub_subscribe(c.gb, "lb", lb_on_msg, &c, NULL);
    veil_p2p_multiaddr bound, full;
    veil_p2p_host_listen_addrs(c.b, &bound, 1);
    veil_p2p_multiaddr_with_peer(&bound, veil_p2p_host_peer_id(c.b), &full, NULL);
    veil_p2p_host_dial(c.a, &full, NULL, lb_dialed, &c, NULL);
    uv_timer_init(&c.loop, &c.timer);
    c.timer.data = &c;
    uv_timer_start(&c.timer, lb_tick, 10, 10);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_timer_stop(&c.timer);
    uv_close((uv_handle_t *)&c.timer, NULL);
    veil_gossipsub_detach(c.ga);
    veil_gossipsub_detach(c.gb);
    veil_p2p_host_close(c.a, lb_done, NULL);
    veil_p2p_host_close(c.b, lb_done, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    if (c.failed || c.n_lat == 0) {
        veil_buf_printf(json, "\"loopback\": null");
    } else {
        qsort(c.lat, (size_t)c.n_lat, sizeof *c.lat, cmp_u64);
        veil_buf_printf(json,
                        "\"loopback\": {\"latency_samples\": %d, \"publish_to_deliver_us_median\": "
                        "%.1f, \"publish_to_deliver_us_p99\": %.1f, \"burst_msgs\": %d, "
                        "\"burst_1KiB_msgs_per_s\": %.0f, \"burst_window\": 256}",
                        c.n_lat, (double)c.lat[c.n_lat / 2] / 1e3,
                        (double)c.lat[(c.n_lat * 99) / 100] / 1e3, c.want * 10, c.burst_rate);
    }
    free(c.lat);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"nodes", required_argument, NULL, 'n'},
                                         {"messages", required_argument, NULL, 'm'},
                                         {"kad", required_argument, NULL, 'k'},
                                         {"lookups", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    int nodes = 100, messages = 100, kad = 1000, lookups = 100;
    int c;
    while ((c = getopt_long(argc, argv, "n:m:k:l:", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            nodes = atoi(optarg);
            break;
        case 'm':
            messages = atoi(optarg);
            break;
        case 'k':
            kad = atoi(optarg);
            break;
        case 'l':
            lookups = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: bench_gossip [--nodes N] [--messages M] [--kad K] "
                            "[--lookups L]\n");
            return 2;
        }
    }
    if (nodes < 10 || messages < 1 || kad < 50 || lookups < 1) {
        fprintf(stderr, "bench_gossip: need nodes >= 10, kad >= 50\n");
        return 2;
    }
    if (veil_crypto_init(NULL) != 0)
        return 1;
    veil_buf json;
    veil_buf_init(&json);
    veil_buf_printf(&json, "{\"validate_msgs_per_s\": %.0f, ", bench_validate(20000));
    bench_mesh(nodes, messages, &json);
    veil_buf_printf(&json, ", ");
    bench_kad(kad, lookups, &json);
    veil_buf_printf(&json, ", ");
    bench_loopback(1000, &json);
    veil_buf_printf(&json, "}\n");
    fwrite(json.data, 1, json.len, stdout);
    veil_buf_free(&json);
    return 0;
}
