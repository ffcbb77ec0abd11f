// SPDX-License-Identifier: Apache-2.0
/*
 * swim_node.c - a SWIM member as a real process (owned by the SWIM tests):
 * a veil_p2p host with /veil/swim/1.0.0 attached. Used by the real-process
 * cluster test (swim_cluster.sh) and the benchmark.
 *
 *   swim_node --listen MA [--bootstrap MA] [--key-index N] [--incarnation N]
 *             [--exit-after-s N]
 *
 * Prints, one line each, flushed:
 *   PEER_ID <base58>
 *   LISTEN <multiaddr>/p2p/<id>
 *   EVENT <join|update|suspect|alive|dead|leave> <peer> <incarnation> <unix-ms>
 *   MEMBERS <live members, this node included>      (whenever it changes)
 *   STATS <packets_sent> <bytes_sent> <packets_received> <bytes_received> <ms>
 * SIGTERM/SIGINT: graceful leave (at most 2 s), then exit 0. SIGUSR1 prints
 * STATS. --exit-after-s bounds the process's life (exit 3), so a test driver
 * killed outright leaves nothing running for long.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <veil/p2p.h>
#include <veil/swim.h>

struct app {
    uv_loop_t *loop;
    veil_p2p_host *host;
    veil_swim_node *swim;
    uv_signal_t sig_term, sig_int, sig_usr1;
    uv_timer_t life;
    size_t last_live;
    uint64_t started_ms;
    bool stopping;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void print_id(const uint8_t *id, size_t len)
{
    veil_p2p_peer_id pid;
    if (veil_p2p_peer_id_from_bytes(id, len, &pid, NULL) == 0)
        fputs(veil_p2p_peer_id_str(&pid).s, stdout);
    else
        fputs("?", stdout);
}

static void on_event(veil_swim_node *node, const struct veil_swim_event *ev, void *user_data)
{
    struct app *app = user_data;
    printf("EVENT %s ", veil_swim_event_name(ev->type));
    print_id(ev->id, ev->id_len);
    printf(" %u %llu\n", ev->incarnation, (unsigned long long)wall_ms());
    size_t live = veil_swim_live_count(veil_swim_node_state(node));
    if (live != app->last_live) {
        app->last_live = live;
        printf("MEMBERS %zu\n", live);
    }
    fflush(stdout);
}

static void print_stats(struct app *app)
{
    struct veil_swim_stats st;
    veil_swim_get_stats(veil_swim_node_state(app->swim), &st);
    printf("STATS %llu %llu %llu %llu %llu\n", (unsigned long long)st.packets_sent,
           (unsigned long long)st.bytes_sent, (unsigned long long)st.packets_received,
           (unsigned long long)st.bytes_received,
           (unsigned long long)(uv_now(app->loop) - app->started_ms));
    fflush(stdout);
}

static void host_closed(void *user_data)
{
    (void)user_data;
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void left(void *user_data)
{
    struct app *app = user_data;
    veil_swim_detach(app->swim);
    app->swim = NULL;
    uv_signal_stop(&app->sig_term);
    uv_signal_stop(&app->sig_int);
    uv_signal_stop(&app->sig_usr1);
    veil_p2p_host_close(app->host, host_closed, app);
    uv_close((uv_handle_t *)&app->sig_term, NULL);
    uv_close((uv_handle_t *)&app->sig_int, NULL);
    uv_close((uv_handle_t *)&app->sig_usr1, NULL);
}

static void life_over(uv_timer_t *t)
{
    (void)t;
    fprintf(stderr, "swim_node: --exit-after-s reached\n");
    exit(3);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;
    if (signum == SIGUSR1) {
        print_stats(app);
        return;
    }
    if (app->stopping)
        return;
    app->stopping = true;
    print_stats(app);
    veil_swim_node_leave(app->swim, 2000, left, app);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"bootstrap", required_argument, NULL, 'b'},
                                         {"key-index", required_argument, NULL, 'k'},
                                         {"incarnation", required_argument, NULL, 'i'},
                                         {"exit-after-s", required_argument, NULL, 'x'},
                                         {NULL, 0, NULL, 0}};
    const char *listen = "/ip4/127.0.0.1/tcp/0", *bootstrap = NULL;
    long key_index = -1;
    unsigned long incarnation = 0, exit_after_s = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            listen = optarg;
            break;
        case 'b':
            bootstrap = optarg;
            break;
        case 'k':
            key_index = strtol(optarg, NULL, 10);
            break;
        case 'i':
            incarnation = strtoul(optarg, NULL, 10);
            break;
        case 'x':
            exit_after_s = strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: swim_node --listen MA [--bootstrap MA] [--key-index N] "
                            "[--incarnation N] [--exit-after-s N]\n");
            return 2;
        }
    }
    veil_err err = {0};
    if (veil_crypto_init(&err) != 0 || veil_log_init_from_env(&err) != 0) {
        fprintf(stderr, "swim_node: %s\n", err.msg);
        return 1;
    }
    veil_p2p_keypair kp;
    int rc;
    if (key_index >= 0) {
        uint8_t seed[32] = {0x53, 0x57, 0x49, 0x4d};
        seed[30] = (uint8_t)(key_index >> 8);
        seed[31] = (uint8_t)key_index;
        rc = veil_p2p_keypair_from_seed(&kp, seed, &err);
    } else {
        rc = veil_p2p_keypair_generate(&kp, &err);
    }
    if (rc != 0) {
        fprintf(stderr, "swim_node: %s\n", err.msg);
        return 1;
    }
    struct app app;
    memset(&app, 0, sizeof app);
    app.loop = uv_default_loop();
    struct veil_p2p_host_config hcfg;
    veil_p2p_host_config_init(&hcfg);
    hcfg.key = &kp;
    veil_p2p_multiaddr ma;
    if (veil_p2p_host_new(app.loop, &hcfg, &app.host, &err) != 0 ||
        veil_p2p_multiaddr_parse(listen, &ma, &err) != 0 ||
        veil_p2p_host_listen(app.host, &ma, &err) != 0) {
        fprintf(stderr, "swim_node: %s\n", err.msg);
        return 1;
    }
    veil_p2p_keypair_wipe(&kp);
    struct veil_swim_config scfg;
    veil_swim_config_default(&scfg);
    scfg.initial_incarnation = (uint32_t)incarnation;
    struct veil_swim_attach_config acfg = {.swim = &scfg, .on_event = on_event, .user_data = &app};
    if (veil_swim_attach(app.host, &acfg, &app.swim, &err) != 0) {
        fprintf(stderr, "swim_node: %s\n", err.msg);
        return 1;
    }
    app.started_ms = uv_now(app.loop);
    app.last_live = 1;
    const veil_p2p_peer_id *self = veil_p2p_host_peer_id(app.host);
    printf("PEER_ID %s\n", veil_p2p_peer_id_str(self).s);
    veil_p2p_multiaddr bound, full;
    char text[VEIL_P2P_MULTIADDR_TEXT_MAX];
    if (veil_p2p_host_listen_addrs(app.host, &bound, 1) >= 1 &&
        veil_p2p_multiaddr_with_peer(&bound, self, &full, NULL) == 0 &&
        veil_p2p_multiaddr_to_text(&full, text, sizeof text, NULL) == 0)
        printf("LISTEN %s\n", text);
    printf("MEMBERS 1\n");
    fflush(stdout);
    if (bootstrap && veil_swim_node_join(app.swim, bootstrap, &err) != 0) {
        fprintf(stderr, "swim_node: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(app.loop, &app.sig_term);
    uv_signal_init(app.loop, &app.sig_int);
    uv_signal_init(app.loop, &app.sig_usr1);
    app.sig_term.data = app.sig_int.data = app.sig_usr1.data = &app;
    uv_signal_start(&app.sig_term, on_signal, SIGTERM);
    uv_signal_start(&app.sig_int, on_signal, SIGINT);
    uv_signal_start(&app.sig_usr1, on_signal, SIGUSR1);
    if (exit_after_s) {
        uv_timer_init(app.loop, &app.life);
        uv_timer_start(&app.life, life_over, (uint64_t)exit_after_s * 1000, 0);
        uv_unref((uv_handle_t *)&app.life);
    }
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_walk(app.loop, close_handle, NULL);
    uv_run(app.loop, UV_RUN_DEFAULT);
    uv_loop_close(app.loop);
    return 0;
}
