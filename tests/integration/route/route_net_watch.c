// SPDX-License-Identifier: Apache-2.0
/*
 * route_net_watch.c - Master's side of the whole-topology routing test:
 *
 *   route_net_watch NATS_URL
 *
 * Subscribes to every subject (">") for the whole run and checks that the
 * control channel carries control messages only: each message is either a
 * `topo` summary on veil.acme.topo.<node> that decodes (veil_route_topo)
 * and names that node, or a `path` signal on veil.acme.path.<dst>.<src>
 * that decodes (veil_route_signal) with matching src/dst; nothing else, and
 * never the data plane's plaintext marker. On SIGTERM it prints one
 * `watch` line (counts, bytes, violations) and exits 0 when there were none
 * and at least one message of each kind.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "route_net.h"

static volatile sig_atomic_t g_stop;

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct watch {
    pthread_mutex_t mu;
    unsigned long topo, path, bytes, bad, marker;
    char first_bad[160];
};

static bool topo_ok(const char *node, const uint8_t *d, size_t n)
{
    static struct veil_route_topo t;
    int i = rn_by_name(node);
    return i >= 0 && veil_route_topo_decode(&t, d, n, NULL) == 0 &&
           memcmp(t.node, rn_ids[i].pk, 32) == 0;
}

static bool path_ok(const char *dst, const char *src, const uint8_t *d, size_t n)
{
    struct veil_route_signal s;
    int id = rn_by_name(dst), is = rn_by_name(src);
    return id >= 0 && is >= 0 && veil_route_signal_decode(&s, d, n, NULL) == 0 &&
           memcmp(s.dst, rn_ids[id].pk, 32) == 0 && memcmp(s.src, rn_ids[is].pk, 32) == 0;
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc, (void)sub;
    struct watch *w = closure;
    const char *subj = natsMsg_GetSubject(msg);
    const uint8_t *d = (const uint8_t *)natsMsg_GetData(msg);
    size_t n = (size_t)natsMsg_GetDataLength(msg);
    char kind[8] = "", a[32] = "", b[32] = "", extra[2] = "";
    int k = sscanf(subj, "veil." RN_REALM ".%7[a-z].%31[A-Za-z0-9].%31[A-Za-z0-9]%1s", kind, a, b,
                   extra);
    bool is_topo = k == 2 && strcmp(kind, "topo") == 0 && topo_ok(a, d, n);
    bool is_path = k == 3 && strcmp(kind, "path") == 0 && path_ok(a, b, d, n);
    pthread_mutex_lock(&w->mu);
    w->bytes += n + strlen(subj);
    w->topo += is_topo;
    w->path += is_path;
    w->marker += rn_has_marker(d, n);
    if (!is_topo && !is_path && w->bad++ == 0)
        snprintf(w->first_bad, sizeof w->first_bad, "%s (%zu bytes)", subj, n);
    pthread_mutex_unlock(&w->mu);
    natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
    static struct watch w = {.mu = PTHREAD_MUTEX_INITIALIZER};
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    if (argc != 2) {
        fprintf(stderr, "usage: route_net_watch NATS_URL\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    rn_idents_init();
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    if (natsConnection_ConnectTo(&nc, argv[1]) != NATS_OK ||
        natsConnection_Subscribe(&sub, nc, ">", on_msg, &w) != NATS_OK ||
        natsConnection_Flush(nc) != NATS_OK) {
        fprintf(stderr, "route_net_watch: cannot subscribe at %s\n", argv[1]);
        return 1;
    }
    uint64_t t0 = rn_now_ms();
    printf("watching\n");
    fflush(stdout);
    while (!g_stop)
        pause();
    natsSubscription_Unsubscribe(sub);
    pthread_mutex_lock(&w.mu);
    printf("watch topo=%lu path=%lu bytes=%lu secs=%.1f bad=%lu marker=%lu%s%s\n", w.topo, w.path,
           w.bytes, (double)(rn_now_ms() - t0) / 1000.0, w.bad, w.marker,
           w.bad ? " first_bad=" : "", w.bad ? w.first_bad : "");
    bool ok = w.bad == 0 && w.marker == 0 && w.topo > 0 && w.path > 0;
    pthread_mutex_unlock(&w.mu);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    return ok ? 0 : 1;
}
