// SPDX-License-Identifier: Apache-2.0
/*
 * test_product_resolver.c - the node's overlay name resolver
 * (src/net/resolver.c): A answers for replica names (any letter case, the
 * id and RD echoed, TTL 5), NXDOMAIN for unknown names, an empty answer for
 * AAAA of a known name, silence for malformed queries, responses, two
 * questions, compression in the question and class CH; then the UDP server
 * on 127.0.0.1 answers a real query and follows a replaced table.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <veil/resolver.h>

#include "vtest.h"

static const struct veil_dns_entry table[] = {{"0.web.c42", {10, 77, 1, 2}},
                                              {"1.web.c42", {10, 77, 2, 2}}};

/* A query for `name` of `type`, id 0x1234, RD set. */
static size_t query(uint8_t *q, const char *name, uint16_t type)
{
    const uint8_t hdr[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(q, hdr, sizeof hdr);
    size_t o = sizeof hdr;
    for (const char *s = name; *s;) {
        size_t l = strcspn(s, ".");
        q[o++] = (uint8_t)l;
        memcpy(q + o, s, l);
        o += l;
        s += l + (s[l] == '.');
    }
    q[o++] = 0;
    q[o++] = (uint8_t)(type >> 8);
    q[o++] = (uint8_t)type;
    q[o++] = 0;
    q[o++] = 1;
    return o;
}

static void test_answers(void)
{
    uint8_t q[512], a[512];
    size_t ql = query(q, "0.WEB.c42", 1);
    size_t al = veil_dns_answer(table, 2, q, ql, a, sizeof a);
    CHECK_EQ_INT((int)al, (int)ql + 16);
    CHECK(a[0] == 0x12 && a[1] == 0x34);
    CHECK_EQ_INT(a[2], 0x85); /* QR, AA, RD */
    CHECK_EQ_INT(a[3] & 0x0f, 0);
    CHECK_EQ_INT(a[7], 1);
    CHECK_EQ_INT(a[ql + 9], 5); /* TTL */
    CHECK_EQ_MEM(a + al - 4, ((const uint8_t[]){10, 77, 1, 2}), 4);
    ql = query(q, "2.web.c42", 1);
    al = veil_dns_answer(table, 2, q, ql, a, sizeof a);
    CHECK_EQ_INT((int)al, (int)ql);
    CHECK_EQ_INT(a[3] & 0x0f, 3); /* NXDOMAIN */
    CHECK_EQ_INT(a[7], 0);
    ql = query(q, "1.web.c42", 28);
    al = veil_dns_answer(table, 2, q, ql, a, sizeof a);
    CHECK_EQ_INT((int)al, (int)ql);
    CHECK_EQ_INT(a[3] & 0x0f, 0);
    CHECK_EQ_INT(a[7], 0);
}

static void test_silence(void)
{
    uint8_t q[512], a[512];
    size_t ql = query(q, "0.web.c42", 1);
    CHECK(veil_dns_answer(table, 2, q, ql - 1, a, sizeof a) == 0);
    CHECK(veil_dns_answer(table, 2, q, 11, a, sizeof a) == 0);
    q[2] |= 0x80; /* a response */
    CHECK(veil_dns_answer(table, 2, q, ql, a, sizeof a) == 0);
    ql = query(q, "0.web.c42", 1);
    q[5] = 2; /* two questions */
    CHECK(veil_dns_answer(table, 2, q, ql, a, sizeof a) == 0);
    ql = query(q, "0.web.c42", 1);
    q[ql - 1] = 3; /* class CH */
    CHECK(veil_dns_answer(table, 2, q, ql, a, sizeof a) == 0);
    ql = query(q, "0.web.c42", 1);
    q[12] = 0xc0; /* a compression pointer in the question */
    CHECK(veil_dns_answer(table, 2, q, ql, a, sizeof a) == 0);
    ql = query(q, "", 1); /* the root name */
    CHECK(veil_dns_answer(table, 2, q, ql, a, sizeof a) == 0);
}

/* One query to the server; the answer's length (0 = none within 2 s). */
static size_t ask(uint16_t port, const uint8_t *q, size_t ql, uint8_t *a)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct timeval tv = {2, 0};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = -1;
    if (sendto(fd, q, ql, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)ql)
        n = recv(fd, a, 512, 0);
    close(fd);
    return n > 0 ? (size_t)n : 0;
}

static void test_server(void)
{
    veil_err err = {0};
    veil_dns_server *s = veil_dns_server_start("127.0.0.1", 0, &err);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(veil_dns_server_set(s, table, 2, &err) == 0);
    uint8_t q[512], a[512];
    size_t ql = query(q, "1.web.c42", 1);
    size_t al = ask(veil_dns_server_port(s), q, ql, a);
    CHECK_EQ_INT((int)al, (int)ql + 16);
    CHECK(al >= 4 && memcmp(a + al - 4, ((const uint8_t[]){10, 77, 2, 2}), 4) == 0);
    CHECK(veil_dns_server_set(s, table, 1, &err) == 0); /* replica 1 went away */
    al = ask(veil_dns_server_port(s), q, ql, a);
    CHECK(al == ql && (a[3] & 0x0f) == 3);
    veil_dns_server_stop(s);
}

VTEST_MAIN(VTEST(test_answers), VTEST(test_silence), VTEST(test_server))
