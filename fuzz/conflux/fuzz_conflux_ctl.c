// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_conflux_ctl.c - libFuzzer target for every decoder of the control
 * wire protocol (src/guardian/serve_wire.c): the first byte picks the
 * message type, the rest is the message. Decoded values are re-encoded and
 * must decode again to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/guardian_serve.h>

static void check_same(const veil_buf *b, const uint8_t *data, size_t len)
{
    if (b->len != len || memcmp(b->data, data, len) != 0)
        abort();
}

static void fuzz_cmd(const uint8_t *data, size_t len)
{
    veil_ctl_cmd c;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_ctl_cmd_decode(data, len, &c, NULL) == 0) {
        if (veil_ctl_cmd_encode(&c, &b, NULL) != 0)
            abort();
        check_same(&b, data, len);
        uint8_t pub[32] = {0};
        veil_ctl_replay rp;
        veil_ctl_replay_init(&rp);
        if (veil_ctl_cmd_accept(&rp, &c, pub, c.node_id, c.issued_ms, NULL) == 0)
            abort(); /* a zero key verifies nothing */
        uint8_t id[32];
        if (veil_ctl_revoked_check(&c, "veil.r.revoked.n", pub, c.issued_ms, id, NULL) == 0)
            abort(); /* nor a revocation notice */
    }
    veil_buf_free(&b);
}

static void fuzz_reply(const uint8_t *data, size_t len)
{
    veil_ctl_reply r;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_ctl_reply_decode(data, len, &r, NULL) == 0) {
        if (veil_ctl_reply_encode(&r, &b, NULL) != 0)
            abort();
        check_same(&b, data, len);
        veil_ctl_reply_free(&r);
    }
    veil_buf_free(&b);
}

static void fuzz_result(const uint8_t *data, size_t len)
{
    veil_ctl_result r;
    veil_buf b;
    veil_buf_init(&b);
    if (veil_ctl_result_decode(data, len, &r, NULL) == 0) {
        if (veil_ctl_result_encode(&r, &b, NULL) != 0)
            abort();
        check_same(&b, data, len);
        veil_ctl_result_free(&r);
    }
    veil_buf_free(&b);
}

static void fuzz_enroll(const uint8_t *data, size_t len)
{
    veil_ctl_prove p;
    veil_ctl_challenge c;
    uint8_t pub[32];
    veil_buf b;
    veil_buf_init(&b);
    if (veil_ctl_prove_decode(data, len, &p, NULL) == 0) {
        if (veil_ctl_prove_encode(&p, &b, NULL) != 0)
            abort();
        check_same(&b, data, len);
        (void)veil_ctl_prove_verify(&p, NULL);
    }
    if (veil_ctl_challenge_decode(data, len, &c, NULL) == 0) {
        uint8_t key[32] = {0};
        (void)veil_ctl_challenge_check(&c, key, c.node_pub, c.issued_ms, NULL);
    }
    (void)veil_ctl_hello_decode(data, len, pub, NULL);
    veil_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_cmd(data + 1, size - 1);
        break;
    case 1:
        fuzz_reply(data + 1, size - 1);
        break;
    case 2:
        fuzz_result(data + 1, size - 1);
        break;
    default:
        fuzz_enroll(data + 1, size - 1);
        break;
    }
    return 0;
}
