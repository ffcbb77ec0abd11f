// SPDX-License-Identifier: Apache-2.0
/*
 * test_chain_rpc.c - the JSON-RPC layer without a chain: response parsing
 * (results, errors with revert data, malformed bodies), log objects and
 * their decoding into registry events, and transport retries with backoff
 * against a tiny in-process HTTP server on 127.0.0.1 that fails first
 * (HTTP 503, then a dropped connection) and answers on the third try;
 * the circuit breaker against an endpoint that accepts and never answers
 * (one timed-out request, then calls fail at once without connecting, and
 * a probe after the period that gets an answer closes it).
 */
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <veil/chain.h>

#include "vtest.h"

static void test_parse_response(void)
{
    char *res;
    uint8_t *rd;
    size_t rl;
    veil_err err = {0};
    const char *ok = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}";
    CHECK(veil_rpc_parse_response(ok, strlen(ok), &res, &rd, &rl, &err) == 0);
    CHECK_EQ_STR(res, "\"0x7a69\"");
    free(res);
    const char *rev = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":3,\"message\":\"execution "
                      "reverted\",\"data\":\"0x4e487b710000000000000000000000000000000000000000000"
                      "000000000000000000012\"}}";
    CHECK(veil_rpc_parse_response(rev, strlen(rev), &res, &rd, &rl, &err) == -1);
    CHECK(err.code == VEIL_E_PROTOCOL);
    CHECK_CONTAINS(err.msg, "execution reverted");
    CHECK(rd != NULL && rl == 36);
    char msg[128];
    veil_abi_decode_revert(rd, rl, NULL, 0, msg, sizeof msg);
    CHECK_EQ_STR(msg, "panic 0x12 (division by zero)");
    free(rd);
    static const char *bad[] = {"",           "{",    "[]",
                                "{\"id\":1}", "null", "{\"error\":{\"data\":\"0x1\"}}"};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        CHECK(veil_rpc_parse_response(bad[i], strlen(bad[i]), &res, &rd, &rl, &err) == -1);
        free(rd);
    }
}

static void test_logs(void)
{
    /* A NodeDeactivated(uint64 indexed, address indexed, address) log. */
    uint8_t t0[32];
    const char *sig = "NodeDeactivated(uint64,address,address)";
    veil_keccak256(sig, strlen(sig), t0);
    char t0hex[65];
    veil_hex_encode(t0hex, sizeof t0hex, t0, 32);
    char json[2048];
    snprintf(json, sizeof json,
             "[{\"address\":\"0x5fbdb2315678afecb367f032d93f642f64180aa3\",\"topics\":[\"0x%s\","
             "\"0x0000000000000000000000000000000000000000000000000000000000000001\","
             "\"0x00000000000000000000000090f79bf6eb2c4f870365e785982e1f101e93b906\"],"
             "\"data\":\"0x000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266\","
             "\"blockNumber\":\"0x1f\",\"logIndex\":\"0x2\",\"removed\":false}]",
             t0hex);
    veil_eth_log *logs;
    size_t n;
    veil_err err = {0};
    CHECK(veil_eth_logs_from_json(json, &logs, &n, &err) == 0);
    CHECK(n == 1 && logs[0].n_topics == 3 && logs[0].block_number == 31 && logs[0].log_index == 2 &&
          logs[0].data_len == 32);
    veil_buf b;
    veil_buf_init(&b);
    CHECK(veil_contract_describe_log(&logs[0], &b) == 0);
    veil_buf_put_u8(&b, 0);
    CHECK_EQ_STR((const char *)b.data,
                 "NodeDeactivated cluster=1 node=0x90F79bf6EB2c4f870365E785982E1f101E93b906 "
                 "by=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    veil_buf_free(&b);
    veil_eth_logs_free(logs, n);
    CHECK(veil_eth_logs_from_json("[{\"address\":\"0x12\"}]", &logs, &n, &err) == -1);
    CHECK(veil_eth_logs_from_json("{}", &logs, &n, &err) == -1);
}

struct flaky {
    int fd;
    int served;
};

static void *flaky_server(void *arg)
{
    struct flaky *f = arg;
    for (int i = 0; i < 3; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        char buf[4096];
        ssize_t got = recv(c, buf, sizeof buf, 0);
        (void)got;
        if (i == 0) {
            const char *r = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n";
            ssize_t w = send(c, r, strlen(r), MSG_NOSIGNAL);
            (void)w;
        } else if (i == 2) {
            const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}";
            char r[256];
            snprintf(r, sizeof r,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
            ssize_t w = send(c, r, strlen(r), MSG_NOSIGNAL);
            (void)w;
        } /* i == 1: close without answering (a transport error) */
        close(c);
        f->served++;
    }
    return NULL;
}

static void test_retries(void)
{
    struct flaky f = {0};
    f.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(bind(f.fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(f.fd, 4) == 0);
    CHECK(getsockname(f.fd, (struct sockaddr *)&a, &al) == 0);
    pthread_t th;
    pthread_create(&th, NULL, flaky_server, &f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    veil_rpc_options o = {.timeout_ms = 2000, .retries = 3, .backoff_ms = 10};
    veil_rpc *rpc;
    veil_err err = {0};
    CHECK(veil_rpc_open(&rpc, url, &o, &err) == 0);
    uint64_t id = 0;
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == 0);
    CHECK_EQ_U64(id, 31337);
    CHECK_EQ_INT(f.served, 3);
    veil_rpc_close(rpc);
    pthread_join(th, NULL);
    close(f.fd);

    /* Nobody listening: fails after the retries with a network error. */
    o.retries = 1;
    CHECK(veil_rpc_open(&rpc, url, &o, &err) == 0);
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == -1);
    CHECK(err.code == VEIL_E_NETWORK);
    veil_rpc_close(rpc);
    CHECK(veil_rpc_open(&rpc, "ftp://x", &o, &err) == -1);
}

/* A listening socket nobody accepts on: the kernel completes the TCP
 * handshake into the backlog, and the request is never answered. */
static int hang_listener(char *url, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    snprintf(url, cap, "http://127.0.0.1:%u", ntohs(a.sin_port));
    return fd;
}

/* Connections the client made (accepted now, without blocking). */
static int connections_made(int fd)
{
    int n = 0, c;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static void test_breaker_hang(void)
{
    char url[64];
    int fd = hang_listener(url, sizeof url);
    CHECK(fd >= 0);
    /* a long period: the second call surely falls inside it */
    veil_rpc_options o = {.timeout_ms = 300, .retries = 3, .backoff_ms = 10, .breaker_ms = 60000};
    veil_rpc *rpc;
    veil_err err = {0};
    uint64_t id = 0;
    CHECK(veil_rpc_open(&rpc, url, &o, &err) == 0);
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == -1);
    CHECK(err.code == VEIL_E_NETWORK);
    CHECK(strstr(err.msg, "circuit open") == NULL);
    /* the timed-out request was not retried: one connection */
    CHECK_EQ_INT(connections_made(fd), 1);
    err = (veil_err){0};
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == -1);
    CHECK(err.code == VEIL_E_NETWORK);
    CHECK(strstr(err.msg, "circuit open") != NULL);
    CHECK_EQ_U64(veil_rpc_short_circuits(rpc), 1);
    CHECK_EQ_INT(connections_made(fd), 0); /* no I/O while open */
    veil_rpc_close(rpc);
    close(fd);
}

/* First connection: read, never answer, wait for the client to give up;
 * then answer every later one. */
struct wake {
    int fd;
    int served;
};

static void *wake_server(void *arg)
{
    struct wake *w = arg;
    char buf[4096];
    for (int i = 0; i < 3; i++) {
        int c = accept(w->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        ssize_t got = recv(c, buf, sizeof buf, 0);
        if (i == 0) {
            while (got > 0)
                got = recv(c, buf, sizeof buf, 0); /* until the client closes */
        } else {
            const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x7a69\"}";
            char r[256];
            snprintf(r, sizeof r,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
            ssize_t wr = send(c, r, strlen(r), MSG_NOSIGNAL);
            (void)wr;
        }
        close(c);
        w->served++;
    }
    return NULL;
}

static void test_breaker_probe(void)
{
    char url[64];
    struct wake w = {0};
    w.fd = hang_listener(url, sizeof url);
    CHECK(w.fd >= 0);
    pthread_t th;
    pthread_create(&th, NULL, wake_server, &w);
    /* 1 s: the answered probe must not time out on a loaded machine */
    veil_rpc_options o = {.timeout_ms = 1000, .retries = 0, .backoff_ms = 10, .breaker_ms = 1};
    veil_rpc *rpc;
    veil_err err = {0};
    uint64_t id = 0;
    CHECK(veil_rpc_open(&rpc, url, &o, &err) == 0);
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == -1); /* hangs, times out: open for 1 ms */
    usleep(20000);
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == 0); /* the probe gets an answer: closed */
    CHECK_EQ_U64(id, 31337);
    CHECK(veil_rpc_chain_id(rpc, &id, &err) == 0);
    CHECK_EQ_U64(veil_rpc_short_circuits(rpc), 0);
    veil_rpc_close(rpc);
    pthread_join(th, NULL);
    CHECK_EQ_INT(w.served, 3);
    close(w.fd);
}

VTEST_MAIN(VTEST(test_parse_response), VTEST(test_logs), VTEST(test_retries),
           VTEST(test_breaker_hang), VTEST(test_breaker_probe))
