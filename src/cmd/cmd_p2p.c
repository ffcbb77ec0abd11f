// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_p2p.c (p2p core) - `veil p2p id|listen|ping|perf|publish|members`:
 * the node identity, running a libp2p peer (gossipsub, Kademlia, SWIM),
 * measuring round trips and throughput against any libp2p peer (Veil or
 * another implementation), publishing a gossip message, and a SWIM view.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <uv.h>

#include <veil/gossipsub.h>
#include <veil/kad.h>
#include <veil/p2p.h>
#include <veil/swim.h>

#include "cli.h"

#define MAX_LISTEN    8
#define MAX_BOOTSTRAP 16
#define MAX_TOPICS    16

/* ---- shared helpers ---------------------------------------------------- */

/* Loads the key at path, creating it (0600) when it does not exist. */
static int load_or_create_key(const char *path, veil_p2p_keypair *kp, bool *created, veil_err *err)
{
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0)
        return veil_p2p_keypair_load(kp, path, err);
    if (errno != ENOENT)
        return veil_err_set(err, VEIL_E_IO, "%s: %s", path, strerror(errno));
    if (veil_p2p_keypair_generate(kp, err) != 0 || veil_p2p_keypair_save(kp, path, err) != 0)
        return -1;
    *created = true;
    return 0;
}

/* --key FILE, else libp2p.key_file from the configuration, else a fresh
 * in-memory key (ephemeral peers such as `ping`). */
static int node_key(struct veil_cli_ctx *ctx, const char *flag_path, bool ephemeral_ok,
                    veil_p2p_keypair *kp, veil_err *err)
{
    const char *path = flag_path;
    if (!path)
        path = veil_config_str(ctx->config, "libp2p.key_file", NULL);
    if (!path) {
        if (!ephemeral_ok)
            return veil_err_set(err, VEIL_E_INVALID,
                                "no key file: pass --key FILE or set libp2p.key_file");
        return veil_p2p_keypair_generate(kp, err);
    }
    bool created;
    return load_or_create_key(path, kp, &created, err);
}

struct session {
    uv_loop_t loop;
    veil_p2p_host *host;
    bool done;
    int rc;
    veil_err err;
    veil_p2p_conn *conn;
    uv_timer_t deadline;
    bool json;
};

static void host_closed(void *ud)
{
    (void)ud;
}

static void session_fail(struct session *s, const veil_err *err)
{
    if (err)
        s->err = *err;
    s->rc = VEIL_EXIT_FAILURE;
    s->done = true;
}

static void on_deadline(uv_timer_t *t)
{
    struct session *s = t->data;
    veil_err e = {0};
    veil_err_set(&e, VEIL_E_TIMEOUT, "timed out");
    session_fail(s, &e);
}

static int session_start(struct session *s, struct veil_cli_ctx *ctx, const char *key_path,
                         uint64_t timeout_ms, veil_err *err)
{
    memset(s, 0, sizeof *s);
    if (veil_crypto_init(err) != 0)
        return -1;
    veil_p2p_keypair kp;
    if (node_key(ctx, key_path, true, &kp, err) != 0)
        return -1;
    uv_loop_init(&s->loop);
    struct veil_p2p_host_config cfg;
    veil_p2p_host_config_init(&cfg);
    cfg.key = &kp;
    cfg.yamux_window = 4u << 20;
    int rc = veil_p2p_host_new(&s->loop, &cfg, &s->host, err);
    veil_p2p_keypair_wipe(&kp);
    if (rc != 0) {
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        return -1;
    }
    uv_timer_init(&s->loop, &s->deadline);
    s->deadline.data = s;
    if (timeout_ms)
        uv_timer_start(&s->deadline, on_deadline, timeout_ms, 0);
    return 0;
}

static void session_run(struct session *s)
{
    while (!s->done && uv_run(&s->loop, UV_RUN_ONCE))
        ;
}

static void session_end(struct session *s)
{
    uv_close((uv_handle_t *)&s->deadline, NULL);
    veil_p2p_host_close(s->host, host_closed, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    uv_loop_close(&s->loop);
}

/* Shared by every command's error path after session_start: tear the
 * session down, then report `err` (which the teardown does not touch). */
static int session_abort(struct session *s, const veil_err *err)
{
    session_end(s);
    return veil_cli_fail(err);
}

/* Shared tail of the one-shot commands (ping, perf): runs the loop
 * to completion, ends the session and hands back its outcome and error. */
static int session_finish(struct session *s, veil_err *final)
{
    session_run(s);
    int rc = s->rc;
    *final = s->err;
    session_end(s);
    return rc;
}

static void on_dialed(veil_p2p_host *h, veil_p2p_conn *c, const veil_err *err, void *ud)
{
    (void)h;
    struct session *s = ud;
    if (!c) {
        session_fail(s, err);
        return;
    }
    s->conn = c;
}

/* Dials and runs the loop until connected (or failure). */
static int session_dial(struct session *s, const char *addr_text, veil_err *err)
{
    veil_p2p_multiaddr ma;
    if (veil_p2p_multiaddr_parse(addr_text, &ma, err) != 0)
        return -1;
    if (veil_p2p_host_dial(s->host, &ma, NULL, on_dialed, s, err) != 0)
        return -1;
    while (!s->done && !s->conn && uv_run(&s->loop, UV_RUN_ONCE))
        ;
    if (!s->conn) {
        *err = s->err;
        if (!err->code)
            veil_err_set(err, VEIL_E_NETWORK, "dial %s failed", addr_text);
        return -1;
    }
    return 0;
}

static void print_json(json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    if (text)
        puts(text);
    free(text);
    json_decref(root);
}

/* ---- id ---------------------------------------------------------------- */

static int run_id(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    const char *key_path = NULL;
    bool json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'o':
            if (veil_cli_parse_output(optarg, &json, &err) != 0)
                return veil_cli_usage_error("veil p2p id", "%s", err.msg);
            break;
        default:
            return veil_cli_usage_error("veil p2p id", "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error("veil p2p id", "unexpected argument '%s'", argv[optind]);
    if (!key_path)
        key_path = veil_config_str(ctx->config, "libp2p.key_file", NULL);
    if (!key_path)
        return veil_cli_usage_error("veil p2p id", "pass --key FILE or set libp2p.key_file");
    if (veil_crypto_init(&err) != 0)
        return veil_cli_fail(&err);
    veil_p2p_keypair kp;
    bool created;
    if (load_or_create_key(key_path, &kp, &created, &err) != 0)
        return veil_cli_fail(&err);
    veil_p2p_peer_id id;
    veil_p2p_peer_id_from_ed25519(kp.public_key, &id);
    veil_p2p_keypair_wipe(&kp);
    char b58[VEIL_P2P_PEER_ID_TEXT_MAX], cid[VEIL_P2P_PEER_ID_TEXT_MAX];
    veil_p2p_peer_id_to_text(&id, b58, sizeof b58);
    veil_p2p_peer_id_to_cid_text(&id, cid, sizeof cid);
    if (json)
        print_json(json_pack("{s:s, s:s, s:s, s:b}", "peer_id", b58, "cid", cid, "key_file",
                             key_path, "created", created));
    else
        printf("%s\n", b58);
    return VEIL_EXIT_OK;
}

/* ---- listen ------------------------------------------------------------ */

struct listen_state {
    struct session *s;
    uv_signal_t sigint, sigterm;
    bool json;
    veil_swim_node *swim;
    veil_gossipsub *gs;
    veil_kad *kad;
};

/* Prints a received gossip message as `MSG <from> <topic> <text>` (control
 * characters shown as '.', so one message is one line). */
static void listen_gossip(void *ctx, const struct veil_gs_message *msg)
{
    struct listen_state *ls = ctx;
    veil_p2p_peer_id from;
    veil_p2p_peer_id_text t;
    if (veil_p2p_peer_id_from_bytes(msg->from, msg->from_len, &from, NULL) == 0)
        t = veil_p2p_peer_id_str(&from);
    else
        snprintf(t.s, sizeof t.s, "(unknown)");
    char *text = malloc(msg->data_len + 1);
    if (!text)
        return;
    for (size_t i = 0; i < msg->data_len; i++) {
        uint8_t ch = msg->data[i];
        text[i] = (ch < 0x20 || ch == 0x7f) ? '.' : (char)ch;
    }
    text[msg->data_len] = '\0';
    if (ls->json)
        print_json(json_pack("{s:s, s:s, s:s, s:s}", "event", "message", "from", t.s, "topic",
                             msg->topic, "text", text));
    else
        printf("MSG %s %s %s\n", t.s, msg->topic, text);
    fflush(stdout);
    free(text);
}

static void kad_bootstrapped(veil_kad *kad, const veil_err *err,
                             const struct veil_kad_peer *closest, size_t n, void *user_data)
{
    (void)kad;
    (void)closest;
    (void)user_data;
    if (err)
        fprintf(stderr, "veil: kademlia bootstrap: %s\n", err->msg);
    else
        VEIL_LOG_DBG("p2p", "kademlia bootstrap done", "closest=%zu", n);
}

/* Member ID bytes as peer-ID text. */
static veil_p2p_peer_id_text member_text(const uint8_t *id, size_t len)
{
    veil_p2p_peer_id pid;
    veil_p2p_peer_id_text t;
    if (veil_p2p_peer_id_from_bytes(id, len, &pid, NULL) != 0) {
        snprintf(t.s, sizeof t.s, "(invalid)");
        return t;
    }
    return veil_p2p_peer_id_str(&pid);
}

static void listen_swim_event(veil_swim_node *node, const struct veil_swim_event *ev, void *ud)
{
    (void)node;
    struct listen_state *ls = ud;
    veil_p2p_peer_id_text t = member_text(ev->id, ev->id_len);
    if (ls->json)
        print_json(json_pack("{s:s, s:s, s:s, s:I}", "event", "member", "change",
                             veil_swim_event_name(ev->type), "peer", t.s, "incarnation",
                             (json_int_t)ev->incarnation));
    else
        printf("MEMBER %s %s incarnation=%u\n", veil_swim_event_name(ev->type), t.s,
               ev->incarnation);
    fflush(stdout);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    struct listen_state *ls = sig->data;
    ls->s->done = true;
}

static void listen_connected(veil_p2p_host *h, veil_p2p_conn *c, void *ud)
{
    (void)h;
    struct listen_state *ls = ud;
    veil_p2p_peer_id_text t = veil_p2p_peer_id_str(veil_p2p_conn_peer(c));
    if (ls->json)
        print_json(json_pack("{s:s, s:s}", "event", "connected", "peer", t.s));
    else
        printf("CONNECTED %s\n", t.s);
    fflush(stdout);
}

static void listen_disconnected(veil_p2p_host *h, veil_p2p_conn *c, void *ud)
{
    (void)h;
    struct listen_state *ls = ud;
    veil_p2p_peer_id_text t = veil_p2p_peer_id_str(veil_p2p_conn_peer(c));
    if (ls->json)
        print_json(json_pack("{s:s, s:s}", "event", "disconnected", "peer", t.s));
    else
        printf("DISCONNECTED %s\n", t.s);
    fflush(stdout);
}

static void listen_identified(veil_p2p_host *h, veil_p2p_conn *c,
                              const struct veil_p2p_peer_info *info, void *ud)
{
    (void)h;
    (void)c;
    struct listen_state *ls = ud;
    veil_p2p_peer_id_text t = veil_p2p_peer_id_str(&info->id);
    if (ls->json) {
        json_t *protos = json_array();
        for (size_t i = 0; i < info->n_protocols; i++)
            json_array_append_new(protos, json_string(info->protocols[i]));
        print_json(json_pack("{s:s, s:s, s:s, s:o}", "event", "identified", "peer", t.s, "agent",
                             info->agent_version, "protocols", protos));
    } else {
        printf("IDENTIFIED %s agent=%s protocols=", t.s, info->agent_version);
        for (size_t i = 0; i < info->n_protocols; i++)
            printf("%s%s", i ? "," : "", info->protocols[i]);
        printf("\n");
    }
    fflush(stdout);
}

static void swim_left(void *ud)
{
    *(bool *)ud = true;
}

/* Announces a graceful leave (bounded wait), then stops SWIM. */
static void swim_leave_and_detach(struct session *s, veil_swim_node *node)
{
    bool left = false;
    veil_swim_node_leave(node, 1000, swim_left, &left);
    uint64_t end = uv_hrtime() + 1500000000u;
    while (!left && uv_hrtime() < end && uv_run(&s->loop, UV_RUN_ONCE))
        ;
    veil_swim_detach(node);
}

static void listen_detach(struct session *s, struct listen_state *ls)
{
    if (ls->gs)
        veil_gossipsub_detach(ls->gs);
    if (ls->kad)
        veil_kad_detach(ls->kad);
    if (ls->swim)
        swim_leave_and_detach(s, ls->swim);
    ls->gs = NULL;
    ls->kad = NULL;
    ls->swim = NULL;
}

static void bootstrap_dialed(veil_p2p_host *h, veil_p2p_conn *c, const veil_err *err, void *ud)
{
    (void)h;
    (void)ud;
    if (!c)
        fprintf(stderr, "veil: bootstrap dial failed: %s\n", err ? err->msg : "?");
}

/* Shared by run_listen's JSON and text output: an announce address with our
 * own /p2p/<peer id> appended, as text. */
static void full_addr_text(veil_p2p_host *h, const veil_p2p_multiaddr *bound,
                           char text[VEIL_P2P_MULTIADDR_TEXT_MAX])
{
    veil_p2p_multiaddr full;
    veil_p2p_multiaddr_with_peer(bound, veil_p2p_host_peer_id(h), &full, NULL);
    veil_p2p_multiaddr_to_text(&full, text, VEIL_P2P_MULTIADDR_TEXT_MAX, NULL);
}

static int run_listen(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},  {"key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},         {NULL, 0, NULL, 0}};
    const char *listen[MAX_LISTEN], *bootstrap[MAX_BOOTSTRAP], *topics[MAX_TOPICS];
    size_t n_listen = 0, n_boot = 0, n_topics = 0;
    const char *key_path = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "l:b:t:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (n_listen == MAX_LISTEN)
                return veil_cli_usage_error("veil p2p listen", "too many --listen");
            listen[n_listen++] = optarg;
            break;
        case 'b':
            if (n_boot == MAX_BOOTSTRAP)
                return veil_cli_usage_error("veil p2p listen", "too many --bootstrap");
            bootstrap[n_boot++] = optarg;
            break;
        case 't':
            if (n_topics == MAX_TOPICS)
                return veil_cli_usage_error("veil p2p listen", "too many --topic");
            topics[n_topics++] = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil p2p listen", "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error("veil p2p listen", "unexpected argument '%s'", argv[optind]);
    /* Without flags: libp2p.listen / libp2p.bootstrap when the file or the
     * environment set them (their built-in default, 0.0.0.0:4001, is for
     * the daemon; an ad-hoc peer picks a free loopback port). */
    const struct veil_config_value *cl = veil_config_get(ctx->config, "libp2p.listen");
    if (n_listen == 0 && cl && cl->source > VEIL_CONFIG_FROM_DEFAULT)
        for (size_t i = 0; i < cl->n_items && n_listen < MAX_LISTEN; i++)
            listen[n_listen++] = cl->items[i];
    const struct veil_config_value *cb = veil_config_get(ctx->config, "libp2p.bootstrap");
    if (n_boot == 0 && cb && cb->source > VEIL_CONFIG_FROM_DEFAULT)
        for (size_t i = 0; i < cb->n_items && n_boot < MAX_BOOTSTRAP; i++)
            bootstrap[n_boot++] = cb->items[i];
    if (n_listen == 0)
        listen[n_listen++] = "/ip4/127.0.0.1/tcp/0";
    veil_err err = {0};
    veil_p2p_multiaddr la[MAX_LISTEN], boot[MAX_BOOTSTRAP];
    for (size_t i = 0; i < n_listen; i++)
        if (veil_p2p_multiaddr_parse(listen[i], &la[i], &err) != 0)
            return veil_cli_usage_error("veil p2p listen", "%s", err.msg);
    for (size_t i = 0; i < n_boot; i++)
        if (veil_p2p_multiaddr_parse(bootstrap[i], &boot[i], &err) != 0)
            return veil_cli_usage_error("veil p2p listen", "%s", err.msg);

    struct session s;
    if (session_start(&s, ctx, key_path, 0, &err) != 0)
        return veil_cli_fail(&err);
    struct listen_state ls = {.s = &s, .json = json};
    struct veil_p2p_events ev = {.on_connected = listen_connected,
                                 .on_disconnected = listen_disconnected,
                                 .on_identified = listen_identified};
    veil_p2p_host_add_listener(s.host, &ev, &ls, NULL);
    for (size_t i = 0; i < n_listen; i++)
        if (veil_p2p_host_listen(s.host, &la[i], &err) != 0) {
            return session_abort(&s, &err);
        }
    struct veil_swim_attach_config swim_cfg = {.on_event = listen_swim_event, .user_data = &ls};
    if (veil_swim_attach(s.host, &swim_cfg, &ls.swim, &err) != 0 ||
        veil_gossipsub_attach(s.host, NULL, &ls.gs, &err) != 0 ||
        veil_kad_attach(s.host, NULL, &ls.kad, &err) != 0) {
        listen_detach(&s, &ls);
        return session_abort(&s, &err);
    }
    for (size_t i = 0; i < n_topics; i++)
        if (veil_gossipsub_subscribe(ls.gs, topics[i], listen_gossip, &ls, &err) != 0) {
            listen_detach(&s, &ls);
            return session_abort(&s, &err);
        }
    /* Announce only once every protocol is served. */
    veil_p2p_peer_id_text me = veil_p2p_peer_id_str(veil_p2p_host_peer_id(s.host));
    veil_p2p_multiaddr bound[4 * MAX_LISTEN];
    size_t nb = veil_p2p_host_announce_addrs(s.host, bound, 4 * MAX_LISTEN);
    if (json) {
        json_t *addrs = json_array();
        for (size_t i = 0; i < nb && i < 4 * MAX_LISTEN; i++) {
            char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
            full_addr_text(s.host, &bound[i], text);
            json_array_append_new(addrs, json_string(text));
        }
        print_json(
            json_pack("{s:s, s:s, s:o}", "event", "listening", "peer_id", me.s, "listen", addrs));
    } else {
        printf("PEER_ID %s\n", me.s);
        for (size_t i = 0; i < nb && i < 4 * MAX_LISTEN; i++) {
            char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
            full_addr_text(s.host, &bound[i], text);
            printf("LISTEN %s\n", text);
        }
    }
    fflush(stdout);
    for (size_t i = 0; i < n_boot; i++) {
        if (veil_p2p_host_dial(s.host, &boot[i], NULL, bootstrap_dialed, NULL, &err) != 0)
            fprintf(stderr, "veil: bootstrap %s: %s\n", bootstrap[i], err.msg);
        if (veil_swim_node_join(ls.swim, bootstrap[i], &err) != 0)
            fprintf(stderr, "veil: swim join %s: %s\n", bootstrap[i], err.msg);
        veil_p2p_peer_id bid;
        veil_p2p_multiaddr bare;
        if (veil_p2p_multiaddr_peer_id(&boot[i], &bid, NULL) == 0) {
            veil_p2p_multiaddr_strip_peer(&boot[i], &bare);
            veil_kad_add_address(ls.kad, bid.bytes, bid.len, bare.bytes, bare.len, NULL);
        }
    }
    if (n_boot && veil_kad_bootstrap(ls.kad, kad_bootstrapped, NULL, &err) != 0)
        fprintf(stderr, "veil: kademlia bootstrap: %s\n", err.msg);
    uv_signal_init(&s.loop, &ls.sigint);
    uv_signal_init(&s.loop, &ls.sigterm);
    ls.sigint.data = ls.sigterm.data = &ls;
    uv_signal_start(&ls.sigint, on_signal, SIGINT);
    uv_signal_start(&ls.sigterm, on_signal, SIGTERM);
    session_run(&s);
    uv_close((uv_handle_t *)&ls.sigint, NULL);
    uv_close((uv_handle_t *)&ls.sigterm, NULL);
    listen_detach(&s, &ls);
    session_end(&s);
    return VEIL_EXIT_OK;
}

/* ---- ping -------------------------------------------------------------- */

struct ping_state {
    struct session *s;
    int remaining;
    json_t *rtts;
    veil_p2p_peer_id peer;
};

static void ping_next(struct ping_state *ps);

static void on_ping(veil_p2p_host *h, const veil_err *err, uint64_t rtt_ns, void *ud)
{
    (void)h;
    struct ping_state *ps = ud;
    if (err) {
        session_fail(ps->s, err);
        return;
    }
    double ms = (double)rtt_ns / 1e6;
    if (ps->s->json)
        json_array_append_new(ps->rtts, json_real(ms));
    else
        printf("PONG %s rtt=%.3f ms\n", veil_p2p_peer_id_str(&ps->peer).s, ms);
    fflush(stdout);
    ping_next(ps);
}

static void ping_next(struct ping_state *ps)
{
    if (ps->remaining-- <= 0) {
        ps->s->done = true;
        return;
    }
    veil_err err = {0};
    if (veil_p2p_ping(ps->s->host, &ps->peer, on_ping, ps, &err) != 0)
        session_fail(ps->s, &err);
}

/* A dialable multiaddr (ip4/ip6/dns + tcp [+ p2p]), checked before any work. */
static int check_dial_addr(const char *text, veil_err *err)
{
    veil_p2p_multiaddr ma;
    char host[256];
    uint16_t port;
    int family;
    if (veil_p2p_multiaddr_parse(text, &ma, err) != 0 ||
        veil_p2p_multiaddr_tcp_target(&ma, host, sizeof host, &port, &family, err) != 0)
        return -1;
    return 0;
}

static int parse_timeout(const char *text, uint64_t *ms, veil_err *err)
{
    int64_t v;
    if (veil_parse_duration_ms(text, &v, err) != 0 || v <= 0)
        return -1;
    *ms = (uint64_t)v;
    return 0;
}

static int run_ping(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"count", required_argument, NULL, 'c'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int count = 1;
    uint64_t timeout_ms = 30000;
    const char *key_path = NULL;
    bool json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "c:T:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'c': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 100000)
                return veil_cli_usage_error("veil p2p ping", "-c wants 1..100000");
            count = (int)v;
            break;
        }
        case 'T':
            if (parse_timeout(optarg, &timeout_ms, &err) != 0)
                return veil_cli_usage_error("veil p2p ping", "bad --timeout");
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil p2p ping", "bad option");
        }
    }
    if (argc - optind != 1)
        return veil_cli_usage_error("veil p2p ping", "expected one MULTIADDR");
    const char *addr = argv[optind];
    if (check_dial_addr(addr, &err) != 0)
        return veil_cli_usage_error("veil p2p ping", "%s", err.msg);
    struct session s;
    if (session_start(&s, ctx, key_path, timeout_ms, &err) != 0)
        return veil_cli_fail(&err);
    s.json = json;
    if (session_dial(&s, addr, &err) != 0) {
        return session_abort(&s, &err);
    }
    struct ping_state ps = {.s = &s, .remaining = count, .rtts = json ? json_array() : NULL};
    ps.peer = *veil_p2p_conn_peer(s.conn);
    ping_next(&ps);
    veil_err final;
    int rc = session_finish(&s, &final);
    if (rc != VEIL_EXIT_OK) {
        json_decref(ps.rtts);
        return veil_cli_fail(&final);
    }
    if (json)
        print_json(
            json_pack("{s:s, s:o}", "peer", veil_p2p_peer_id_str(&ps.peer).s, "rtt_ms", ps.rtts));
    return VEIL_EXIT_OK;
}

/* ---- perf -------------------------------------------------------------- */

struct perf_state {
    struct session *s;
    struct veil_p2p_perf_result res;
};

static void on_perf(veil_p2p_host *h, const veil_err *err, const struct veil_p2p_perf_result *r,
                    void *ud)
{
    (void)h;
    struct perf_state *ps = ud;
    if (err) {
        session_fail(ps->s, err);
        return;
    }
    ps->res = *r;
    ps->s->done = true;
}

static double gbit(uint64_t bytes, uint64_t ns)
{
    return ns ? (double)bytes * 8.0 / (double)ns : 0.0;
}

static int run_perf(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {
        {"upload", required_argument, NULL, 'u'},  {"download", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 'T'}, {"key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},          {NULL, 0, NULL, 0}};
    uint64_t up = 0, down = 0, timeout_ms = 120000;
    const char *key_path = NULL;
    bool json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "u:d:T:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (veil_parse_size(optarg, &up, &err) != 0)
                return veil_cli_usage_error("veil p2p perf", "--upload: %s", err.msg);
            break;
        case 'd':
            if (veil_parse_size(optarg, &down, &err) != 0)
                return veil_cli_usage_error("veil p2p perf", "--download: %s", err.msg);
            break;
        case 'T':
            if (parse_timeout(optarg, &timeout_ms, &err) != 0)
                return veil_cli_usage_error("veil p2p perf", "bad --timeout");
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil p2p perf", "bad option");
        }
    }
    if (argc - optind != 1)
        return veil_cli_usage_error("veil p2p perf", "expected one MULTIADDR");
    if (check_dial_addr(argv[optind], &err) != 0)
        return veil_cli_usage_error("veil p2p perf", "%s", err.msg);
    struct session s;
    if (session_start(&s, ctx, key_path, timeout_ms, &err) != 0)
        return veil_cli_fail(&err);
    uint64_t t0 = uv_hrtime();
    if (session_dial(&s, argv[optind], &err) != 0) {
        return session_abort(&s, &err);
    }
    uint64_t connect_ns = uv_hrtime() - t0;
    struct perf_state ps = {.s = &s};
    veil_p2p_peer_id peer = *veil_p2p_conn_peer(s.conn);
    if (veil_p2p_perf(s.host, &peer, up, down, on_perf, &ps, &err) != 0) {
        return session_abort(&s, &err);
    }
    veil_err final;
    int rc = session_finish(&s, &final);
    if (rc != VEIL_EXIT_OK)
        return veil_cli_fail(&final);
    double up_g = gbit(ps.res.upload_bytes, ps.res.upload_ns);
    double down_g = gbit(ps.res.download_bytes, ps.res.download_ns);
    if (json)
        print_json(json_pack(
            "{s:s, s:I, s:I, s:f, s:f, s:f, s:f, s:f}", "peer", veil_p2p_peer_id_str(&peer).s,
            "upload_bytes", (json_int_t)ps.res.upload_bytes, "download_bytes",
            (json_int_t)ps.res.download_bytes, "upload_s", (double)ps.res.upload_ns / 1e9,
            "download_s", (double)ps.res.download_ns / 1e9, "upload_gbit_s", up_g,
            "download_gbit_s", down_g, "connect_ms", (double)connect_ns / 1e6));
    else
        printf("upload %llu bytes in %.3f s (%.2f Gbit/s), download %llu bytes in %.3f s "
               "(%.2f Gbit/s)\n",
               (unsigned long long)ps.res.upload_bytes, (double)ps.res.upload_ns / 1e9, up_g,
               (unsigned long long)ps.res.download_bytes, (double)ps.res.download_ns / 1e9, down_g);
    return VEIL_EXIT_OK;
}

/* ---- publish ----------------------------------------------------------- */

struct publish_state {
    struct session *s;
    veil_gossipsub *gs;
    const char *topic;
    const char *text;
    uv_timer_t poll;
    size_t peers;
    bool published;
    uint64_t linger_until;
};

/* Publishes once a peer has announced the topic, then lingers briefly so the
 * message leaves before the connection closes. */
static void publish_poll(uv_timer_t *t)
{
    struct publish_state *ps = t->data;
    if (ps->published) {
        if (uv_hrtime() >= ps->linger_until)
            ps->s->done = true;
        return;
    }
    struct veil_gs_peer_id peers[64];
    size_t n = veil_gossipsub_topic_peers(ps->gs, ps->topic, peers, 64);
    if (n == 0)
        return;
    veil_err err = {0};
    if (veil_gossipsub_publish(ps->gs, ps->topic, ps->text, strlen(ps->text), &err) != 0) {
        session_fail(ps->s, &err);
        return;
    }
    ps->peers = n;
    ps->published = true;
    ps->linger_until = uv_hrtime() + 300000000u;
}

static int run_publish(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"topic", required_argument, NULL, 't'},
                                         {"timeout", required_argument, NULL, 'T'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *bootstrap[MAX_BOOTSTRAP], *topic = NULL, *key_path = NULL;
    size_t n_boot = 0;
    uint64_t timeout_ms = 15000;
    bool json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:T:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (n_boot == MAX_BOOTSTRAP)
                return veil_cli_usage_error("veil p2p publish", "too many --bootstrap");
            bootstrap[n_boot++] = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'T':
            if (parse_timeout(optarg, &timeout_ms, &err) != 0)
                return veil_cli_usage_error("veil p2p publish", "bad --timeout");
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil p2p publish", "bad option");
        }
    }
    if (argc - optind != 1)
        return veil_cli_usage_error("veil p2p publish", "expected one TEXT");
    if (!topic || !*topic)
        return veil_cli_usage_error("veil p2p publish", "--topic T is required");
    if (n_boot == 0)
        return veil_cli_usage_error("veil p2p publish", "--bootstrap MULTIADDR is required");
    veil_p2p_multiaddr boot[MAX_BOOTSTRAP];
    for (size_t i = 0; i < n_boot; i++)
        if (check_dial_addr(bootstrap[i], &err) != 0 ||
            veil_p2p_multiaddr_parse(bootstrap[i], &boot[i], &err) != 0)
            return veil_cli_usage_error("veil p2p publish", "%s", err.msg);
    struct session s;
    if (session_start(&s, ctx, key_path, timeout_ms, &err) != 0)
        return veil_cli_fail(&err);
    struct publish_state ps = {.s = &s, .topic = topic, .text = argv[optind]};
    if (veil_gossipsub_attach(s.host, NULL, &ps.gs, &err) != 0) {
        return session_abort(&s, &err);
    }
    for (size_t i = 0; i < n_boot; i++)
        if (veil_p2p_host_dial(s.host, &boot[i], NULL, bootstrap_dialed, NULL, &err) != 0)
            fprintf(stderr, "veil: bootstrap %s: %s\n", bootstrap[i], err.msg);
    uv_timer_init(&s.loop, &ps.poll);
    ps.poll.data = &ps;
    uv_timer_start(&ps.poll, publish_poll, 20, 20);
    session_run(&s);
    uv_close((uv_handle_t *)&ps.poll, NULL);
    veil_gossipsub_detach(ps.gs);
    int rc = s.rc;
    veil_err final = s.err;
    session_end(&s);
    if (rc != VEIL_EXIT_OK) {
        if (final.code == VEIL_E_TIMEOUT)
            veil_err_set(&final, VEIL_E_TIMEOUT, "no peer announced topic '%s' in time", topic);
        return veil_cli_fail(&final);
    }
    if (json)
        print_json(json_pack("{s:s, s:I, s:b}", "topic", topic, "peers", (json_int_t)ps.peers,
                             "published", 1));
    else
        printf("PUBLISHED %s peers=%zu\n", topic, ps.peers);
    return VEIL_EXIT_OK;
}

/* ---- members ----------------------------------------------------------- */

static void on_wait_done(uv_timer_t *t)
{
    ((struct session *)t->data)->done = true;
}

static int run_members(int argc, char **argv, struct veil_cli_ctx *ctx)
{
    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"wait", required_argument, NULL, 'w'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    const char *boot = NULL, *listen_text = "/ip4/127.0.0.1/tcp/0", *key_path = NULL;
    uint64_t wait_ms = 3000;
    bool json = false;
    veil_err err = {0};
    int c;
    while ((c = getopt_long(argc, argv, "b:w:l:k:", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            boot = optarg;
            break;
        case 'w':
            if (parse_timeout(optarg, &wait_ms, &err) != 0)
                return veil_cli_usage_error("veil p2p members", "bad --wait");
            break;
        case 'l':
            listen_text = optarg;
            break;
        case 'k':
            key_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return veil_cli_usage_error("veil p2p members", "bad option");
        }
    }
    if (optind != argc)
        return veil_cli_usage_error("veil p2p members", "unexpected argument '%s'", argv[optind]);
    if (!boot)
        return veil_cli_usage_error("veil p2p members", "--bootstrap MULTIADDR is required");
    veil_p2p_multiaddr la, bma;
    if (veil_p2p_multiaddr_parse(listen_text, &la, &err) != 0 ||
        veil_p2p_multiaddr_parse(boot, &bma, &err) != 0)
        return veil_cli_usage_error("veil p2p members", "%s", err.msg);
    struct session s;
    if (session_start(&s, ctx, key_path, 0, &err) != 0)
        return veil_cli_fail(&err);
    veil_swim_node *node = NULL;
    struct veil_swim_attach_config swim_cfg = {0};
    if (veil_p2p_host_listen(s.host, &la, &err) != 0 ||
        veil_swim_attach(s.host, &swim_cfg, &node, &err) != 0 ||
        veil_swim_node_join(node, boot, &err) != 0) {
        if (node)
            veil_swim_detach(node);
        return session_abort(&s, &err);
    }
    /* Gather the view for --wait, then report it. */
    uv_timer_start(&s.deadline, on_wait_done, wait_ms, 0);
    session_run(&s);
    const veil_swim *sw = veil_swim_node_state(node);
    size_t n = veil_swim_member_count(sw);
    json_t *arr = json ? json_array() : NULL;
    const veil_p2p_peer_id *me = veil_p2p_host_peer_id(s.host);
    for (size_t i = 0; i < n; i++) {
        struct veil_swim_member m;
        if (!veil_swim_member_at(sw, i, &m))
            continue;
        veil_p2p_peer_id pid;
        if (veil_p2p_peer_id_from_bytes(m.id, m.id_len, &pid, NULL) != 0 ||
            veil_p2p_peer_id_equal(&pid, me))
            continue; /* our own, short-lived observer entry */
        veil_p2p_peer_id_text t = veil_p2p_peer_id_str(&pid);
        char addr[VEIL_P2P_MULTIADDR_TEXT_MAX] = "";
        veil_p2p_multiaddr ma;
        if (veil_p2p_multiaddr_from_bytes(m.addr, m.addr_len, &ma, NULL) == 0)
            veil_p2p_multiaddr_to_text(&ma, addr, sizeof addr, NULL);
        if (json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:s}", "peer", t.s, "state",
                                                 veil_swim_state_name(m.state), "incarnation",
                                                 (json_int_t)m.incarnation, "addr", addr));
        else
            printf("%s %s incarnation=%u %s\n", t.s, veil_swim_state_name(m.state), m.incarnation,
                   addr);
    }
    if (json)
        print_json(json_pack("{s:o}", "members", arr));
    swim_leave_and_detach(&s, node);
    session_end(&s);
    return VEIL_EXIT_OK;
}

/* ---- table ------------------------------------------------------------- */

static const struct veil_cli_command p2p_id = {
    .name = "id",
    .summary = "print (or create) the node key and its peer ID",
    .usage = "Usage: veil p2p id [--key FILE] [--json]\n\n"
             "Loads the Ed25519 node key from FILE (default: libp2p.key_file), creating it\n"
             "with mode 0600 if it does not exist, and prints the peer ID (base58btc; --json\n"
             "adds the CIDv1 form).\n",
    .run = run_id,
};
static const struct veil_cli_command p2p_listen = {
    .name = "listen",
    .summary = "run a libp2p peer (identify, ping, perf, gossipsub, kad, SWIM)",
    .usage = "Usage: veil p2p listen [--listen MA]... [--bootstrap MA]... [--topic T]...\n"
             "                       [--key FILE] [--json]\n\n"
             "Listens (default: libp2p.listen if set in the config file or VEIL_LIBP2P_LISTEN,\n"
             "else /ip4/127.0.0.1/tcp/0) and prints `PEER_ID <id>` and one\n"
             "`LISTEN <multiaddr>/p2p/<id>` per address, then CONNECTED/IDENTIFIED/\n"
             "DISCONNECTED lines as peers come and go and `MEMBER <event> <peer>` lines for\n"
             "SWIM membership changes, and `MSG <from> <topic> <text>` for each gossipsub\n"
             "message on a --topic, until SIGINT/SIGTERM. Serves gossipsub, Kademlia\n"
             "(server mode) and SWIM. --bootstrap peers are dialed, their SWIM cluster\n"
             "joined and the Kademlia table bootstrapped from them. Without --key (or\n"
             "libp2p.key_file) the identity is ephemeral.\n",
    .run = run_listen,
};
static const struct veil_cli_command p2p_ping = {
    .name = "ping",
    .summary = "ping a libp2p peer (/ipfs/ping/1.0.0)",
    .usage = "Usage: veil p2p ping MULTIADDR [-c N] [--timeout DURATION] [--json]\n\n"
             "Dials MULTIADDR (its /p2p/ component, if any, is verified) and measures N\n"
             "round trips. Prints `PONG <peer> rtt=<ms> ms` per reply.\n",
    .run = run_ping,
};
static const struct veil_cli_command p2p_perf = {
    .name = "perf",
    .summary = "measure throughput to a libp2p peer (/perf/1.0.0)",
    .usage = "Usage: veil p2p perf MULTIADDR --upload BYTES --download BYTES [--json]\n\n"
             "Sends BYTES to the peer and asks it to send BYTES back over one stream;\n"
             "prints the throughput of each direction. Sizes accept k/m/g suffixes.\n",
    .run = run_perf,
};
static const struct veil_cli_command p2p_members = {
    .name = "members",
    .summary = "print the SWIM membership view of a cluster",
    .usage = "Usage: veil p2p members --bootstrap MULTIADDR [--wait DURATION] [--json]\n\n"
             "Joins the SWIM cluster (/veil/swim/1.0.0) of the bootstrap peer as a\n"
             "short-lived member, waits (default 3s) for the membership to sync, prints\n"
             "`<peer> <state> incarnation=<n> <addr>` per member, and leaves gracefully.\n",
    .run = run_members,
};
static const struct veil_cli_command p2p_publish = {
    .name = "publish",
    .summary = "publish one gossipsub message",
    .usage =
        "Usage: veil p2p publish --bootstrap MULTIADDR... --topic T TEXT [--timeout D] [--json]\n\n"
        "Connects to the bootstrap peers, waits until one of them announces topic T\n"
        "(gossipsub /meshsub/1.1.0), publishes TEXT as a StrictSign message and prints\n"
        "`PUBLISHED <topic> peers=<n>`. Fails if no peer subscribes within --timeout\n"
        "(default 15s).\n",
    .run = run_publish,
};
static const struct veil_cli_command *const p2p_subcommands[] = {
    &p2p_id, &p2p_listen, &p2p_ping, &p2p_perf, &p2p_publish, &p2p_members, NULL};

const struct veil_cli_command veil_cmd_p2p = {
    .name = "p2p",
    .summary = "libp2p identity, peer, ping, perf, gossip and SWIM membership",
    .usage = "Usage: veil p2p <command> [options]\n",
    .subcommands = p2p_subcommands,
};
