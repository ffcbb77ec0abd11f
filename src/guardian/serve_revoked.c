// SPDX-License-Identifier: Apache-2.0
/*
 * serve_revoked.c - the daemon's revocation notices: every tick, for each
 * realm it serves, one signed notice per revoked node that still holds a
 * valid data-plane certificate, on veil.<realm>.revoked.<node>. Members
 * drop the node's sessions and refuse its certificate from then on
 * (veil_ctl_revoked_check); repeating the notice until the certificate
 * expires reaches members that joined or reconnected later, and a
 * revocation made by another process (`veil guardian revoke`) is picked up
 * from the shared database within one tick.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_int.h"

/* One signed notice into `out` (sv->mu held: the command key). */
static int notice(struct serve *sv, const struct veil_guardian_node *n, veil_buf *out,
                  veil_err *err)
{
    veil_ctl_cmd c;
    memset(&c, 0, sizeof c);
    c.verb = VEIL_CTL_PEER_REVOKED;
    snprintf(c.node_id, sizeof c.node_id, "%s", n->name);
    snprintf(c.arg, sizeof c.arg, "%s", n->identity);
    c.issued_ms = serve_now_ms();
    veil_random_bytes(c.nonce, sizeof c.nonce);
    if (veil_ctl_cmd_sign(&c, veil_guardian_command_key(sv->g)->sk, err) != 0)
        return -1;
    return veil_ctl_cmd_encode(&c, out, err);
}

static int announce_realm(struct serve *sv, struct serve_conn *c, veil_err *err)
{
    struct veil_guardian_node *list = NULL;
    size_t n = 0;
    int rc = 0;
    pthread_mutex_lock(&sv->mu);
    rc = veil_guardian_revoked_live(sv->g, c->account, (int64_t)(serve_now_ms() / 1000), &list, &n,
                                    err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char subj[VEIL_SUBJECT_MAX];
        veil_buf msg;
        veil_buf_init(&msg);
        rc = veil_subject(subj, VEIL_SUBJ_REVOKED, c->account, list[i].name, NULL, err);
        if (rc == 0)
            rc = notice(sv, &list[i], &msg, err);
        natsStatus s =
            rc == 0 ? natsConnection_Publish(c->nc, subj, msg.data, (int)msg.len) : NATS_OK;
        if (s != NATS_OK)
            rc = serve_nats_err(err, s, "publishing a revocation notice");
        veil_buf_free(&msg);
    }
    pthread_mutex_unlock(&sv->mu);
    veil_guardian_node_list_free(list, n);
    return rc;
}

void serve_announce_revoked(struct serve *sv)
{
    for (size_t i = 0; i < sv->n_conns; i++) {
        struct serve_conn *c = sv->conns[i];
        veil_err err = {0};
        if (strcmp(c->account, VEIL_GUARDIAN_ENROLL_ACCOUNT) == 0 || c->nc == NULL)
            continue;
        if (announce_realm(sv, c, &err) != 0)
            VEIL_LOG_WARNING("guardian", "revocation notices not sent", "realm=%s err=\"%s\"",
                             c->account, err.msg);
    }
}
