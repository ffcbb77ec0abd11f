// SPDX-License-Identifier: Apache-2.0
/*
 * test_net_embed.c - the embedded VeilNet agent (include/veil/embed.h)
 * between two processes over 127.0.0.1, no TUN, no root: the child runs B,
 * the parent A (credentials from the test Guardian). A sends 64 numbered
 * datagrams to B by identity and B echoes each back (A checks every one
 * returns once, from B, intact); then A opens a stream to B's port 7000 and
 * writes 2 MiB (length-prefixed); B reads it all over lwIP TCP and writes
 * back its BLAKE2b hash, which A compares. A also reads B's endpoint as its
 * agent saw it (veil_embed_peer_endpoint). The child is killed and reaped
 * on every exit path.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include <veil/embed.h>

#include "anchor_test_cred.h"
#include "vtest.h"

#define N_DGRAMS     64
#define STREAM_BYTES (2u << 20)

static uint8_t g_gpk[32], g_gsk[64];

struct ident {
    uint8_t pk[32], sk[64], cred[256];
    size_t cred_len;
};

static void ident_of(struct ident *id, uint8_t seed_byte)
{
    uint8_t seed[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_ed25519_seed_keypair(id->pk, id->sk, seed);
    id->cred_len = anchor_test_cred_make(id->cred, "embed", "lab", id->pk, UINT64_MAX, g_gsk);
}

static veil_embed *start(const struct ident *id, const char *v4)
{
    veil_err err = {0};
    struct veil_anchor_local local = {.cred = id->cred,
                                      .cred_len = id->cred_len,
                                      .verify = anchor_test_cred_verify,
                                      .verify_ctx = g_gpk};
    memcpy(local.identity_pk, id->pk, 32);
    memcpy(local.identity_sk, id->sk, 64);
    veil_anchor *a = veil_anchor_new(NULL, &local, 0, &err);
    if (!a)
        return NULL;
    struct veil_embed_config cfg = {.bind_ip = "127.0.0.1", .streams = true, .ipv4 = v4};
    veil_embed *e = veil_embed_start(&cfg, a, &err);
    if (!e)
        fprintf(stderr, "embed: %s\n", err.msg);
    return e;
}

static bool read_full(veil_embed *e, int s, uint8_t *buf, size_t len)
{
    while (len > 0) {
        long r = veil_embed_stream_read(e, s, buf, len, NULL);
        if (r <= 0)
            return false;
        buf += r;
        len -= (size_t)r;
    }
    return true;
}

/* B: echoes datagrams, then hashes one stream. */
static int child(const struct ident *a, const struct ident *b, int report, int hear)
{
    veil_embed *e = start(b, "10.77.0.2");
    uint16_t port = e ? veil_embed_port(e) : 0, a_port = 0;
    int ls = e ? veil_embed_listen(e, 7000, NULL) : -1;
    if (ls < 0 || write(report, &port, sizeof port) != sizeof port ||
        read(hear, &a_port, sizeof a_port) != sizeof a_port ||
        veil_embed_add_peer(e, a->pk, "10.77.0.1", "127.0.0.1", a_port, NULL) != 0)
        return 1;
    uint8_t buf[2048], from[32];
    for (int i = 0; i < N_DGRAMS; i++) {
        long n = veil_embed_recv(e, from, buf, sizeof buf, 10000, NULL);
        if (n < 0 || veil_embed_send(e, from, buf, (size_t)n, NULL) != 0)
            return 1;
    }
    int s = veil_embed_accept(e, ls, from, NULL);
    uint8_t len8[8], hash[32];
    if (s < 0 || memcmp(from, a->pk, 32) != 0 || !read_full(e, s, len8, 8))
        return 1;
    uint64_t left;
    memcpy(&left, len8, 8);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    while (left > 0) {
        long r = veil_embed_stream_read(e, s, buf, left < sizeof buf ? left : sizeof buf, NULL);
        if (r <= 0)
            return 1;
        crypto_generichash_update(&st, buf, (size_t)r);
        left -= (uint64_t)r;
    }
    crypto_generichash_final(&st, hash, 32);
    if (veil_embed_stream_write(e, s, hash, 32, NULL) != 0)
        return 1;
    (void)read_full(e, s, buf, 1); /* until A closes */
    veil_embed_stream_close(e, s);
    veil_embed_stop(e);
    return 0;
}

static void datagrams(veil_embed *e, const struct ident *b)
{
    uint8_t msg[1000], got[2048], from[32];
    int seen[N_DGRAMS] = {0};
    for (int i = 0; i < N_DGRAMS; i++) {
        memset(msg, i, sizeof msg);
        CHECK_EQ_INT(veil_embed_send(e, b->pk, msg, sizeof msg, NULL), 0);
    }
    for (int i = 0; i < N_DGRAMS; i++) {
        long n = veil_embed_recv(e, from, got, sizeof got, 10000, NULL);
        CHECK_EQ_INT(n, sizeof msg);
        if (n != sizeof msg)
            return;
        CHECK(memcmp(from, b->pk, 32) == 0);
        memset(msg, got[0], sizeof msg);
        CHECK(memcmp(got, msg, sizeof msg) == 0);
        seen[got[0] % N_DGRAMS]++;
    }
    for (int i = 0; i < N_DGRAMS; i++)
        CHECK_EQ_INT(seen[i], 1);
}

/* Where B's packets come from (the reflexive-address report of routing). */
static void endpoint(veil_embed *e, const struct ident *b, uint16_t b_port)
{
    char ip[64];
    uint16_t port = 0;
    uint8_t nobody[32] = {7};
    CHECK_EQ_INT(veil_embed_peer_endpoint(e, b->pk, ip, sizeof ip, &port, NULL), 0);
    CHECK(strcmp(ip, "127.0.0.1") == 0);
    CHECK_EQ_INT(port, b_port);
    veil_err err = {0};
    CHECK_EQ_INT(veil_embed_peer_endpoint(e, nobody, ip, sizeof ip, &port, &err), -1);
    CHECK_EQ_INT(err.code, VEIL_E_NOTFOUND);
}

static void stream(veil_embed *e, const struct ident *b)
{
    uint8_t *data = malloc(STREAM_BYTES), hash[32], back[32];
    uint64_t len = STREAM_BYTES;
    CHECK(data != NULL);
    if (!data)
        return;
    randombytes_buf(data, STREAM_BYTES);
    crypto_generichash(hash, 32, data, STREAM_BYTES, NULL, 0);
    int s = veil_embed_connect(e, b->pk, 7000, NULL);
    CHECK(s >= 0);
    if (s >= 0) {
        CHECK_EQ_INT(veil_embed_stream_write(e, s, &len, 8, NULL), 0);
        CHECK_EQ_INT(veil_embed_stream_write(e, s, data, STREAM_BYTES, NULL), 0);
        CHECK(read_full(e, s, back, 32));
        CHECK(memcmp(back, hash, 32) == 0);
        veil_embed_stream_close(e, s);
    }
    free(data);
}

static void test_two_processes(void)
{
    struct ident a, b;
    ident_of(&a, 1);
    ident_of(&b, 2);
    int up[2], down[2]; /* child -> parent: B's port; parent -> child: A's port */
    if (pipe(up) != 0 || pipe(down) != 0)
        return;
    pid_t pid = fork(); /* before any thread (lwIP's, the agents') exists */
    if (pid == 0)
        _exit(child(&a, &b, up[1], down[0]));
    veil_embed *e = start(&a, "10.77.0.1");
    CHECK(e != NULL);
    uint16_t b_port = 0, a_port = e ? veil_embed_port(e) : 0;
    CHECK_EQ_INT(write(down[1], &a_port, sizeof a_port), sizeof a_port);
    CHECK_EQ_INT(read(up[0], &b_port, sizeof b_port), sizeof b_port);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    if (e && b_port && veil_embed_add_peer(e, b.pk, "10.77.0.2", "127.0.0.1", b_port, NULL) == 0) {
        datagrams(e, &b);
        endpoint(e, &b, b_port);
        stream(e, &b);
    } else {
        CHECK(false);
    }
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(50000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    veil_embed_stop(e);
}

static void setup(void)
{
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32] = {9};
    crypto_sign_ed25519_seed_keypair(g_gpk, g_gsk, seed);
}

static void test_all(void)
{
    setup();
    test_two_processes();
}

VTEST_MAIN(VTEST(test_all))
