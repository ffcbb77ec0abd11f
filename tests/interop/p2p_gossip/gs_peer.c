// SPDX-License-Identifier: Apache-2.0
/*
 * gs_peer.c - the Veil side of the gossipsub/Kademlia interop test (owned by
 * the gossipsub and Kademlia modules): a libp2p host with gossipsub and
 * Kademlia attached, driven by command lines on stdin, reporting on stdout.
 *
 *   gs_peer [--listen MA] [--topic T]... [--msgid js|go]
 *   stdin:  dial MA | publish TOPIC TEXT | subscribe TOPIC | mesh TOPIC |
 *           peers TOPIC | query PEER TARGET | find TARGET | bootstrap | quit
 *   stdout: PEER_ID id, LISTEN ma, MSG from topic text, MESH topic n,
 *           TOPIC_PEERS topic n, KAD_ANSWER from n ids..., FOUND target n
 *           ids..., BOOTSTRAPPED n table, DIALED peer, ERR text, OK cmd
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/p2p.h>

struct driver {
    uv_loop_t loop;
    veil_p2p_host *host;
    veil_gossipsub *gs;
    veil_kad *kad;
    uv_pipe_t in;
    veil_buf line;
    uv_signal_t sigterm;
    bool quitting;
};

static void out(const char *fmt, ...) VEIL_PRINTF(1, 2);
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static const char *id_text(const uint8_t *id, size_t len, char buf[VEIL_P2P_PEER_ID_TEXT_MAX])
{
    veil_p2p_peer_id pid;
    if (veil_p2p_peer_id_from_bytes(id, len, &pid, NULL) != 0 ||
        veil_p2p_peer_id_to_text(&pid, buf, VEIL_P2P_PEER_ID_TEXT_MAX) < 0)
        snprintf(buf, VEIL_P2P_PEER_ID_TEXT_MAX, "?");
    return buf;
}

static void on_message(void *ctx, const struct veil_gs_message *m)
{
    (void)ctx;
    char from[VEIL_P2P_PEER_ID_TEXT_MAX];
    out("MSG %s %s %.*s", id_text(m->from, m->from_len, from), m->topic, (int)m->data_len,
        (const char *)m->data);
}

static void print_peers(const char *tag, const char *head, const struct veil_kad_peer *p, size_t n)
{
    veil_buf b;
    veil_buf_init(&b);
    veil_buf_printf(&b, "%s %s %zu", tag, head, n);
    for (size_t i = 0; i < n; i++) {
        char t[VEIL_P2P_PEER_ID_TEXT_MAX];
        veil_buf_printf(&b, " %s", id_text(p[i].id, p[i].id_len, t));
    }
    veil_buf_put_u8(&b, 0);
    out("%s", veil_buf_ok(&b) ? (const char *)b.data : tag);
    veil_buf_free(&b);
}

struct query_ctx {
    char from[VEIL_P2P_PEER_ID_TEXT_MAX];
};

static void on_kad_answer(veil_kad *kad, const veil_err *err, const struct veil_kad_peer *closest,
                          size_t n, void *ud)
{
    struct query_ctx *q = ud;
    (void)kad;
    if (err)
        out("ERR kad query %s: %s", q->from, err->msg);
    else
        print_peers("KAD_ANSWER", q->from, closest, n);
    free(q);
}

static void on_found(veil_kad *kad, const veil_err *err, const struct veil_kad_peer *closest,
                     size_t n, void *ud)
{
    struct query_ctx *q = ud;
    (void)kad;
    if (err)
        out("ERR find %s: %s", q->from, err->msg);
    else
        print_peers("FOUND", q->from, closest, n);
    free(q);
}

static void on_bootstrapped(veil_kad *kad, const veil_err *err, const struct veil_kad_peer *closest,
                            size_t n, void *ud)
{
    (void)closest;
    (void)ud;
    if (err)
        out("ERR bootstrap: %s", err->msg);
    else
        out("BOOTSTRAPPED %zu %zu", n, veil_kad_table_size(veil_kad_routing_table(kad)));
}

static void on_dialed(veil_p2p_host *host, veil_p2p_conn *conn, const veil_err *err, void *ud)
{
    (void)host;
    (void)ud;
    if (!conn) {
        out("ERR dial: %s", err ? err->msg : "failed");
        return;
    }
    out("DIALED %s", veil_p2p_peer_id_str(veil_p2p_conn_peer(conn)).s);
}

static void shutdown_all(struct driver *d);

/* gossipsub peer exchange -> Kademlia: connect to the peers a PRUNE named */
static void on_px(void *ctx, const uint8_t *peer, size_t len)
{
    struct driver *d = ctx;
    (void)veil_kad_connect(d->kad, peer, len, NULL);
}

static void command(struct driver *d, char *line)
{
    veil_err err = {0};
    char *cmd = strtok(line, " ");
    if (!cmd)
        return;
    if (strcmp(cmd, "quit") == 0) {
        shutdown_all(d);
        return;
    }
    if (strcmp(cmd, "publish") == 0) {
        char *topic = strtok(NULL, " ");
        char *text = strtok(NULL, "");
        if (!topic || !text) {
            out("ERR usage: publish TOPIC TEXT");
            return;
        }
        if (veil_gossipsub_publish(d->gs, topic, text, strlen(text), &err) != 0)
            out("ERR publish: %s", err.msg);
        else
            out("OK publish");
        return;
    }
    if (strcmp(cmd, "subscribe") == 0) {
        char *topic = strtok(NULL, " ");
        if (!topic || veil_gossipsub_subscribe(d->gs, topic, on_message, d, &err) != 0)
            out("ERR subscribe: %s", topic ? err.msg : "usage");
        else
            out("OK subscribe");
        return;
    }
    if (strcmp(cmd, "mesh") == 0 || strcmp(cmd, "peers") == 0) {
        char *topic = strtok(NULL, " ");
        if (!topic) {
            out("ERR usage: %s TOPIC", cmd);
            return;
        }
        size_t n = cmd[0] == 'm' ? veil_gossipsub_mesh_peers(d->gs, topic, NULL, 0)
                                 : veil_gossipsub_topic_peers(d->gs, topic, NULL, 0);
        out("%s %s %zu", cmd[0] == 'm' ? "MESH" : "TOPIC_PEERS", topic, n);
        return;
    }
    if (strcmp(cmd, "dial") == 0) {
        char *text = strtok(NULL, " ");
        veil_p2p_multiaddr ma;
        if (!text || veil_p2p_multiaddr_parse(text, &ma, &err) != 0 ||
            veil_p2p_host_dial(d->host, &ma, NULL, on_dialed, d, &err) != 0)
            out("ERR dial: %s", text ? err.msg : "usage");
        return;
    }
    if (strcmp(cmd, "query") == 0 || strcmp(cmd, "find") == 0) {
        bool find = cmd[0] == 'f';
        char *peer = find ? NULL : strtok(NULL, " ");
        char *target = strtok(NULL, " ");
        veil_p2p_peer_id pid, tid;
        if ((!find && (!peer || veil_p2p_peer_id_parse(peer, &pid, &err) != 0)) || !target ||
            veil_p2p_peer_id_parse(target, &tid, &err) != 0) {
            out("ERR %s: %s", cmd, err.msg[0] ? err.msg : "usage");
            return;
        }
        struct query_ctx *q = calloc(1, sizeof *q);
        snprintf(q->from, sizeof q->from, "%s", find ? target : peer);
        int rc = find ? veil_kad_find_node(d->kad, tid.bytes, tid.len, on_found, q, &err)
                      : veil_kad_query(d->kad, pid.bytes, pid.len, tid.bytes, tid.len,
                                       on_kad_answer, q, &err);
        if (rc != 0) {
            out("ERR %s: %s", cmd, err.msg);
            free(q);
        }
        return;
    }
    if (strcmp(cmd, "bootstrap") == 0) {
        if (veil_kad_bootstrap(d->kad, on_bootstrapped, d, &err) != 0)
            out("ERR bootstrap: %s", err.msg);
        return;
    }
    out("ERR unknown command %s", cmd);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct driver *d = s->data;
    if (n < 0) {
        free(buf->base);
        shutdown_all(d);
        return;
    }
    veil_buf_put(&d->line, buf->base, (size_t)n);
    free(buf->base);
    for (;;) {
        uint8_t *nl = memchr(d->line.data, '\n', d->line.len);
        if (!nl || d->quitting)
            break;
        size_t len = (size_t)(nl - d->line.data);
        char *text = malloc(len + 1);
        memcpy(text, d->line.data, len);
        text[len] = 0;
        veil_buf_consume(&d->line, len + 1);
        command(d, text);
        free(text);
    }
}

static void on_host_closed(void *ud)
{
    (void)ud;
}

static void shutdown_all(struct driver *d)
{
    if (d->quitting)
        return;
    d->quitting = true;
    uv_read_stop((uv_stream_t *)&d->in);
    uv_close((uv_handle_t *)&d->in, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    veil_gossipsub_detach(d->gs);
    veil_kad_detach(d->kad);
    veil_p2p_host_close(d->host, on_host_closed, d);
}

static void on_sigterm(uv_signal_t *s, int signum)
{
    (void)signum;
    shutdown_all(s->data);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"topic", required_argument, NULL, 't'},
                                         {"msgid", required_argument, NULL, 'm'},
                                         {NULL, 0, NULL, 0}};
    const char *listen = "/ip4/127.0.0.1/tcp/0";
    const char *topics[8];
    int n_topics = 0;
    struct veil_gs_config cfg;
    veil_gs_config_default(&cfg);
    int c;
    while ((c = getopt_long(argc, argv, "l:t:m:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 't':
            if (n_topics < 8)
                topics[n_topics++] = optarg;
            break;
        case 'm':
            cfg.msgid_kind =
                strcmp(optarg, "go") == 0 ? VEIL_GS_MSGID_FROM_SEQNO : VEIL_GS_MSGID_PUBKEY_SEQNO;
            break;
        default:
            fprintf(stderr, "usage: gs_peer [--listen MA] [--topic T] [--msgid js|go]\n");
            return 2;
        }
    }
    veil_err err = {0};
    if (veil_log_init_from_env(&err) != 0 || veil_crypto_init(&err) != 0) {
        fprintf(stderr, "gs_peer: %s\n", err.msg);
        return 1;
    }
    struct driver d;
    memset(&d, 0, sizeof d);
    veil_buf_init(&d.line);
    uv_loop_init(&d.loop);
    veil_p2p_keypair kp;
    struct veil_p2p_host_config hc;
    veil_p2p_host_config_init(&hc);
    hc.key = &kp;
    hc.agent_version = "veil-gs-peer";
    veil_p2p_multiaddr la;
    if (veil_p2p_keypair_generate(&kp, &err) != 0 ||
        veil_p2p_host_new(&d.loop, &hc, &d.host, &err) != 0 ||
        veil_p2p_multiaddr_parse(listen, &la, &err) != 0 ||
        veil_p2p_host_listen(d.host, &la, &err) != 0 ||
        veil_gossipsub_attach(d.host, &cfg, &d.gs, &err) != 0 ||
        veil_kad_attach(d.host, NULL, &d.kad, &err) != 0) {
        fprintf(stderr, "gs_peer: %s\n", err.msg);
        return 1;
    }
    veil_p2p_keypair_wipe(&kp);
    veil_gossipsub_set_px_handler(d.gs, on_px, &d);
    for (int i = 0; i < n_topics; i++)
        if (veil_gossipsub_subscribe(d.gs, topics[i], on_message, &d, &err) != 0) {
            fprintf(stderr, "gs_peer: %s\n", err.msg);
            return 1;
        }
    out("PEER_ID %s", veil_p2p_peer_id_str(veil_p2p_host_peer_id(d.host)).s);
    veil_p2p_multiaddr bound[4];
    size_t nb = veil_p2p_host_listen_addrs(d.host, bound, 4);
    for (size_t i = 0; i < nb && i < 4; i++) {
        veil_p2p_multiaddr full;
        char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
        if (veil_p2p_multiaddr_with_peer(&bound[i], veil_p2p_host_peer_id(d.host), &full, &err) ==
                0 &&
            veil_p2p_multiaddr_to_text(&full, text, sizeof text, &err) == 0)
            out("LISTEN %s", text);
    }
    uv_pipe_init(&d.loop, &d.in, 0);
    d.in.data = &d;
    if (uv_pipe_open(&d.in, 0) != 0 ||
        uv_read_start((uv_stream_t *)&d.in, alloc_cb, on_stdin) != 0) {
        fprintf(stderr, "gs_peer: stdin must be a pipe or FIFO\n");
        return 1;
    }
    uv_signal_init(&d.loop, &d.sigterm);
    d.sigterm.data = &d;
    uv_signal_start(&d.sigterm, on_sigterm, SIGTERM);
    uv_run(&d.loop, UV_RUN_DEFAULT);
    uv_loop_close(&d.loop);
    veil_buf_free(&d.line);
    return 0;
}
