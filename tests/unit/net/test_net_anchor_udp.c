// SPDX-License-Identifier: Apache-2.0
/*
 * test_net_anchor_udp.c - the Anchor UDP host adapter between two processes
 * over 127.0.0.1: the child runs node B (port 0, reported through a pipe)
 * and echoes every datagram; the parent runs node A, which handshakes with
 * B and sends 3000 numbered 1000-byte datagrams, 32 in flight at a time
 * (the first 32 as one batch, so UDP GSO and GRO are exercised where the
 * kernel has them), then checks that every one came back exactly once with
 * its content. Both
 * sides use recvmmsg/sendmmsg on their own libuv loop; credentials are
 * signed by a test Guardian. The child is killed and reaped on every exit
 * path. For capture_no_plaintext.sh: VEIL_ANCHOR_TEST_PORT fixes B's port,
 * VEIL_ANCHOR_TEST_MARKER fills every payload with a known text.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include <veil/anchor.h>

#include "anchor_test_cred.h"
#include "vtest.h"

#define TOTAL 3000
#define WINDOW 32
#define SIZE 1000

static uint8_t g_pk[32], g_sk[64];

struct ident {
    uint8_t pk[32], sk[64], cred[256];
    size_t cred_len;
};

static void ident_from_seed(struct ident *id, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_ed25519_seed_keypair(id->pk, id->sk, seed);
    id->cred_len = anchor_test_cred_make(id->cred, "udp-test", "lab", id->pk, UINT64_MAX, g_sk);
}

static veil_anchor_udp *start_node(uv_loop_t *loop, const struct ident *id, uint16_t port,
                                   veil_anchor_udp_event_fn on_event, void *ud)
{
    veil_err err = {0};
    struct veil_anchor_local local = {.cred = id->cred, .cred_len = id->cred_len,
                                      .verify = anchor_test_cred_verify, .verify_ctx = g_pk};
    memcpy(local.identity_pk, id->pk, 32);
    memcpy(local.identity_sk, id->sk, 64);
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, &err);
    if (!a) {
        fprintf(stderr, "anchor: %s\n", err.msg);
        return NULL;
    }
    struct veil_anchor_udp_config cfg = {.bind_ip = "127.0.0.1", .on_event = on_event,
                                         .user_data = ud, .port = port};
    veil_anchor_udp *u = veil_anchor_udp_start(loop, a, &cfg, &err);
    if (!u)
        fprintf(stderr, "anchor udp: %s\n", err.msg);
    return u;
}

/* ---- child: B echoes ---------------------------------------------------- */

struct echo {
    uv_loop_t *loop;
    bool quit;
};

static void echo_event(veil_anchor_udp *u, const struct veil_anchor_event *ev, void *ud)
{
    struct echo *e = ud;
    if (ev->type != VEIL_ANCHOR_EV_DATA)
        return;
    if (ev->len == 4 && memcmp(ev->data, "quit", 4) == 0) {
        e->quit = true;
        uv_stop(e->loop);
        return;
    }
    veil_err err = {0};
    if (veil_anchor_udp_send(u, ev->peer, ev->data, ev->len, &err) != 0)
        fprintf(stderr, "echo: %s\n", err.msg);
}

static void child_timeout(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static int run_child(int port_fd)
{
    struct ident b;
    ident_from_seed(&b, 0xb0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct echo e = {&loop, false};
    const char *fixed = getenv("VEIL_ANCHOR_TEST_PORT");
    veil_anchor_udp *u = start_node(&loop, &b, fixed ? (uint16_t)atoi(fixed) : 0, echo_event, &e);
    if (!u)
        return 2;
    uint16_t port = veil_anchor_udp_port(u);
    if (write(port_fd, &port, sizeof port) != (ssize_t)sizeof port)
        return 3;
    close(port_fd);
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    uv_timer_start(&guard, child_timeout, 30000, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    veil_anchor_udp_close(u);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 && e.quit ? 0 : 4;
}

/* ---- parent: A sends and counts echoes ----------------------------------- */

struct sender {
    uv_loop_t *loop;
    veil_anchor_udp *u;
    uint8_t peer[32];
    int next, returned, bad, dup, ups;
    bool seen[TOTAL];
};

static void fill(uint8_t *buf, int seq)
{
    const char *marker = getenv("VEIL_ANCHOR_TEST_MARKER");
    size_t mlen = marker ? strlen(marker) : 0;
    for (int i = 0; i < SIZE; i++)
        buf[i] = mlen ? (uint8_t)marker[(size_t)i % mlen] : (uint8_t)(seq * 31 + i);
    memcpy(buf, &seq, sizeof seq);
}

static void send_next(struct sender *s)
{
    uint8_t buf[SIZE];
    veil_err err = {0};
    fill(buf, s->next);
    if (veil_anchor_udp_send(s->u, s->peer, buf, sizeof buf, &err) != 0)
        fprintf(stderr, "send: %s\n", err.msg);
    s->next++;
}

static void sender_event(veil_anchor_udp *u, const struct veil_anchor_event *ev, void *ud)
{
    (void)u;
    struct sender *s = ud;
    s->ups += ev->type == VEIL_ANCHOR_EV_UP;
    if (ev->type != VEIL_ANCHOR_EV_DATA)
        return;
    int seq = -1;
    uint8_t want[SIZE];
    if (ev->len == SIZE)
        memcpy(&seq, ev->data, sizeof seq);
    if (seq < 0 || seq >= TOTAL) {
        s->bad++;
        return;
    }
    fill(want, seq);
    s->bad += memcmp(want, ev->data, SIZE) != 0;
    s->dup += s->seen[seq];
    s->seen[seq] = true;
    s->returned++;
    if (s->next < TOTAL)
        send_next(s);
    else if (s->returned == TOTAL)
        uv_stop(s->loop);
}

static void parent_timeout(uv_timer_t *t)
{
    fprintf(stderr, "timed out\n");
    uv_stop(t->loop);
}

static void test_two_processes(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        _exit(run_child(fds[1]));
    }
    close(fds[1]);
    uint16_t port = 0;
    CHECK(read(fds[0], &port, sizeof port) == (ssize_t)sizeof port);
    close(fds[0]);
    struct ident a, b;
    ident_from_seed(&a, 0xa0);
    ident_from_seed(&b, 0xb0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    static struct sender s;
    memset(&s, 0, sizeof s);
    s.loop = &loop;
    memcpy(s.peer, b.pk, 32);
    s.u = start_node(&loop, &a, 0, sender_event, &s);
    CHECK(s.u != NULL);
    veil_err err = {0};
    uv_timer_t guard;
    uv_timer_init(&loop, &guard);
    if (s.u && port && veil_anchor_udp_add_peer(s.u, b.pk, "127.0.0.1", port, &err) == 0) {
        /* the first window as one batch: it leaves as UDP GSO messages
         * where the kernel has them, and B may read it GRO-coalesced */
        for (int i = 0; i < WINDOW; i++) {
            uint8_t buf[SIZE];
            fill(buf, s.next++);
            CHECK(veil_anchor_send(veil_anchor_udp_anchor(s.u), b.pk, buf, sizeof buf,
                                   (uint64_t)time(NULL) * 1000, &err) == 0);
        }
        veil_anchor_udp_flush(s.u);
        uv_timer_start(&guard, parent_timeout, 30000, 0);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(veil_anchor_udp_send(s.u, b.pk, (const uint8_t *)"quit", 4, &err) == 0);
    }
    uv_close((uv_handle_t *)&guard, NULL);
    CHECK_EQ_INT(s.returned, TOTAL);
    CHECK_EQ_INT(s.bad, 0);
    CHECK_EQ_INT(s.dup, 0);
    CHECK_EQ_INT(s.ups, 1);
    struct veil_anchor_udp_stats st = {0};
    if (s.u) {
        veil_anchor_udp_get_stats(s.u, &st);
        fprintf(stderr, "  A: %llu datagrams in over %llu recvmmsg calls, %llu out over %llu "
                "sendmmsg calls (%llu GSO messages), %llu dropped\n",
                (unsigned long long)st.datagrams_in, (unsigned long long)st.recv_calls,
                (unsigned long long)st.datagrams_out, (unsigned long long)st.send_calls,
                (unsigned long long)st.gso_messages, (unsigned long long)st.send_dropped);
        veil_anchor_udp_close(s.u);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    int status = 0;
    for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(100000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    uint8_t seed[32];
    memset(seed, 0x99, sizeof seed);
    crypto_sign_ed25519_seed_keypair(g_pk, g_sk, seed);
    static const struct vtest_case cases[] = {VTEST(test_two_processes)};
    return vtest_run(cases, VEIL_ARRAY_LEN(cases), argc, argv);
}
