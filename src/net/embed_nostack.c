// SPDX-License-Identifier: Apache-2.0
/*
 * embed_nostack.c - the embedded agent's streams when lwIP is not installed
 * (built instead of embed_lwip.c; see src/net/CMakeLists.txt): datagrams
 * work, every stream call fails with VEIL_E_UNSUPPORTED.
 */
#include "embed_int.h"

static int unsupported(veil_err *err)
{
    return veil_err_set(err, VEIL_E_UNSUPPORTED, "embed: built without lwIP (liblwip-dev)");
}

int embed_stack_start(veil_embed *e, const uint8_t v4[4], struct embed_stack **out, veil_err *err)
{
    (void)e;
    (void)v4;
    *out = NULL;
    return unsupported(err);
}

void embed_stack_stop(struct embed_stack *s)
{
    (void)s;
}

void embed_stack_input(struct embed_stack *s, const uint8_t *pkt, size_t len)
{
    (void)s;
    (void)pkt;
    (void)len;
}

int veil_embed_listen(veil_embed *e, uint16_t port, veil_err *err)
{
    (void)e;
    (void)port;
    return unsupported(err);
}

int veil_embed_accept(veil_embed *e, int listener, uint8_t peer[VEIL_ANCHOR_KEY_BYTES],
                      veil_err *err)
{
    (void)e;
    (void)listener;
    (void)peer;
    return unsupported(err);
}

int veil_embed_connect(veil_embed *e, const uint8_t peer[VEIL_ANCHOR_KEY_BYTES], uint16_t port,
                       veil_err *err)
{
    (void)e;
    (void)peer;
    (void)port;
    return unsupported(err);
}

int veil_embed_stream_write(veil_embed *e, int s, const void *buf, size_t len, veil_err *err)
{
    (void)e;
    (void)s;
    (void)buf;
    (void)len;
    return unsupported(err);
}

long veil_embed_stream_read(veil_embed *e, int s, void *buf, size_t cap, veil_err *err)
{
    (void)e;
    (void)s;
    (void)buf;
    (void)cap;
    return unsupported(err);
}

void veil_embed_stream_close(veil_embed *e, int s)
{
    (void)e;
    (void)s;
}
