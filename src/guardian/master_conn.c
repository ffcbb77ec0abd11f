// SPDX-License-Identifier: Apache-2.0
/*
 * master_conn.c - connecting to Master with a bounded retry while the
 * super cluster's account resolver catches up (veil/master_conn.h).
 */
#include <veil/master_conn.h>

#ifdef VEIL_HAVE_NATS
natsStatus veil_master_connect(natsConnection **nc, natsOptions *o, int attempts)
{
    natsStatus s = NATS_OK;
    for (int i = 1;; i++) {
        s = natsConnection_Connect(nc, o);
        if (s != NATS_CONNECTION_AUTH_FAILED || i >= attempts)
            return s;
        nats_Sleep(200 * (int64_t)i);
    }
}
#endif
