// SPDX-License-Identifier: Apache-2.0
/*
 * admin.c - `veil guardian cmd`: one signed admin command to one node
 * through Master, and its node-signed answer. Guardian signs the command
 * (command key, timestamp, fresh nonce), publishes it on
 * veil.<realm>.cmd.<node> as its service user in the node's realm, and waits
 * on veil.<realm>.reply.<node> for the reply with the same nonce. Command and
 * answer go to the audit log; an accepted taint change is recorded for the
 * next credentials; `shutdown --hard` also revokes the node and pushes the
 * realm account to the servers. `--enroll-creds FILE` writes a node's
 * enrollment-account credential instead.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve_int.h"

struct admin_args {
    const char *dir, *ca_file, *node, *verb, *arg, *enroll_out;
    char *urls_text;  /* whole list, for the account push */
    char *urls_split; /* a copy cut into urls[] */
    const char *urls_given;
    const char *urls[SERVE_MAX_URLS];
    size_t n_urls;
    bool hard;
    int64_t timeout_ms, ttl_ms;
};

static int admin_usage(const char *msg)
{
    fprintf(stderr,
            "veil: guardian cmd: %s\n"
            "Usage: veil guardian cmd -d DIR [--nats URL[,URL...]] [--ca FILE] [--timeout 10s]\n"
            "           NODE query|taint-add T|taint-remove T|invalidate-keys|shutdown [--hard]\n"
            "       veil guardian cmd -d DIR --enroll-creds FILE [--ttl 24h]\n",
            msg);
    return 2;
}

static int parse_positional(struct admin_args *a, int argc, char **argv)
{
    enum veil_ctl_verb v;
    veil_err err = {0};
    if (optind + 2 > argc)
        return admin_usage("expected NODE and a command");
    a->node = argv[optind];
    a->verb = argv[optind + 1];
    if (veil_ctl_verb_parse(a->verb, &v, &err) != 0)
        return admin_usage(err.msg);
    bool wants_arg = v == VEIL_CTL_TAINT_ADD || v == VEIL_CTL_TAINT_REMOVE;
    if (wants_arg && optind + 3 != argc)
        return admin_usage("taint-add/taint-remove want one taint");
    if (!wants_arg && optind + 2 != argc)
        return admin_usage("unexpected argument");
    a->arg = wants_arg ? argv[optind + 2] : "";
    if (wants_arg && !veil_guardian_name_valid(a->arg))
        return admin_usage("taint names are 1-63 characters of [A-Za-z0-9_-]");
    if (a->hard && v != VEIL_CTL_SHUTDOWN)
        return admin_usage("--hard goes with shutdown");
    return 0;
}

static int parse_admin(int argc, char **argv, struct admin_args *a)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"nats", required_argument, NULL, 'n'},
        {"ca", required_argument, NULL, 'c'},  {"timeout", required_argument, NULL, 't'},
        {"hard", no_argument, NULL, 'H'},      {"enroll-creds", required_argument, NULL, 'e'},
        {"ttl", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0}};
    veil_err err = {0};
    int c;
    a->timeout_ms = 10000;
    a->ttl_ms = 24 * 3600 * 1000LL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:n:c:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->dir = optarg;
            break;
        case 'n':
            a->urls_given = optarg;
            break;
        case 'c':
            a->ca_file = optarg;
            break;
        case 'H':
            a->hard = true;
            break;
        case 'e':
            a->enroll_out = optarg;
            break;
        case 't':
        case 'T':
            if (veil_parse_duration_ms(optarg, c == 't' ? &a->timeout_ms : &a->ttl_ms, &err) != 0 ||
                (c == 't' ? a->timeout_ms : a->ttl_ms) < 1)
                return admin_usage("--timeout/--ttl want a duration (10s, 24h)");
            break;
        default:
            return admin_usage("bad option");
        }
    }
    if (!a->dir)
        return admin_usage("-d DIR is required");
    if (a->enroll_out)
        return optind == argc ? 0 : admin_usage("unexpected argument");
    return parse_positional(a, argc, argv);
}

static void admin_audit(struct serve *sv, const char *action, const char *detail)
{
    veil_err err = {0};
    if (veil_guardian_audit(sv->g, "admin", action, detail, &err) != 0)
        VEIL_LOG_ERR("guardian", "audit write failed", "err=\"%s\"", err.msg);
}

#define ADMIN_MAX_TRIES 8

static int build_command(struct serve *sv, const struct admin_args *a, veil_ctl_cmd *cmd,
                         veil_err *err)
{
    memset(cmd, 0, sizeof *cmd);
    if (veil_ctl_verb_parse(a->verb, &cmd->verb, err) != 0)
        return -1;
    cmd->flags = a->hard ? VEIL_CTL_FLAG_HARD : 0;
    snprintf(cmd->node_id, sizeof cmd->node_id, "%s", a->node);
    snprintf(cmd->arg, sizeof cmd->arg, "%s", a->arg);
    cmd->issued_ms = serve_now_ms();
    veil_random_bytes(cmd->nonce, sizeof cmd->nonce);
    return veil_ctl_cmd_sign(cmd, veil_guardian_command_key(sv->g)->sk, err);
}

/* Waits until `until_ms` for a reply carrying one of the nonces sent,
 * verified against the node's key; 1 when none came. */
static int await_reply(natsSubscription *sub, const veil_ctl_cmd *sent, int n_sent,
                       const uint8_t node_pub[32], uint64_t until_ms, veil_ctl_reply *out,
                       veil_err *err)
{
    for (;;) {
        uint64_t now = serve_now_ms();
        if (now >= until_ms)
            return 1;
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, sub, (int64_t)(until_ms - now));
        if (s == NATS_TIMEOUT)
            return 1;
        if (s != NATS_OK)
            return serve_nats_err(err, s, "waiting for the node");
        int rc = veil_ctl_reply_decode((const uint8_t *)natsMsg_GetData(m),
                                       (size_t)natsMsg_GetDataLength(m), out, NULL);
        natsMsg_Destroy(m);
        bool ours = false;
        for (int i = 0; rc == 0 && i < n_sent; i++)
            ours |= veil_memeq_ct(out->nonce, sent[i].nonce, 16);
        if (rc == 0 && !ours)
            veil_ctl_reply_free(out);
        if (rc != 0 || !ours)
            continue; /* not an answer to this command */
        if (veil_ctl_reply_verify(out, node_pub, err) != 0) {
            veil_ctl_reply_free(out);
            return -1;
        }
        return 0;
    }
}

/* Sends the command, and again with a fresh nonce while no answer comes (a
 * subscription that just moved to another server may not have reached every
 * gateway yet): the node executes each copy it gets, so retried verbs are
 * the idempotent kind or harmless twice (a second key epoch). */
static int send_command(struct serve *sv, struct serve_conn *c, const struct admin_args *a,
                        const uint8_t node_pub[32], veil_ctl_reply *out, veil_err *err)
{
    char cmd_subj[VEIL_SUBJECT_MAX], reply_subj[VEIL_SUBJECT_MAX], detail[512];
    natsSubscription *sub = NULL;
    veil_ctl_cmd sent[ADMIN_MAX_TRIES];
    uint64_t deadline = serve_now_ms() + (uint64_t)a->timeout_ms;
    int rc = -1, n = 0;
    if (veil_subject(cmd_subj, VEIL_SUBJ_CMD, c->account, a->node, NULL, err) != 0 ||
        veil_subject(reply_subj, VEIL_SUBJ_REPLY, c->account, a->node, NULL, err) != 0)
        return -1;
    natsStatus s = natsConnection_SubscribeSync(&sub, c->nc, reply_subj);
    if (s == NATS_OK)
        s = natsConnection_Flush(c->nc);
    while (s == NATS_OK && n < ADMIN_MAX_TRIES && serve_now_ms() < deadline) {
        veil_buf b;
        veil_buf_init(&b);
        if (build_command(sv, a, &sent[n], err) != 0 ||
            veil_ctl_cmd_encode(&sent[n], &b, err) != 0) {
            veil_buf_free(&b);
            goto out;
        }
        snprintf(detail, sizeof detail, "node=%s verb=%s arg=%s hard=%d attempt=%d", a->node,
                 a->verb, a->arg, a->hard, n + 1);
        admin_audit(sv, "command", detail);
        s = natsConnection_Publish(c->nc, cmd_subj, b.data, (int)b.len);
        veil_buf_free(&b);
        if (s == NATS_OK)
            s = natsConnection_Flush(c->nc);
        n++;
        uint64_t until = serve_now_ms() + 1000u * (uint64_t)n;
        rc = await_reply(sub, sent, n, node_pub, until < deadline ? until : deadline, out, err);
        if (rc <= 0)
            goto out;
    }
    if (s != NATS_OK)
        rc = serve_nats_err(err, s, cmd_subj);
    else
        rc = veil_err_set(err, VEIL_E_TIMEOUT, "no answer from %s within %lld ms", a->node,
                          (long long)a->timeout_ms);
out:
    natsSubscription_Destroy(sub);
    return rc;
}

/* What Guardian records after an accepted command. */
static int record_outcome(struct serve *sv, const struct admin_args *a,
                          const struct veil_guardian_node *n, veil_err *err)
{
    enum veil_ctl_verb verb;
    if (veil_ctl_verb_parse(a->verb, &verb, err) != 0)
        return -1;
    if (verb == VEIL_CTL_TAINT_ADD || verb == VEIL_CTL_TAINT_REMOVE) {
        veil_strlist t = {0};
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n->taints.n; i++)
            if (strcmp(n->taints.items[i], a->arg) != 0)
                rc = veil_strlist_add(&t, n->taints.items[i], err);
        if (rc == 0 && verb == VEIL_CTL_TAINT_ADD)
            rc = veil_strlist_add(&t, a->arg, err);
        if (rc == 0)
            rc = veil_guardian_node_set_taints(sv->g, a->node, &t, err);
        veil_strlist_free(&t);
        return rc;
    }
    return 0;
}

static int hard_revoke(struct serve *sv, const struct admin_args *a, veil_err *err)
{
    char *jwt = NULL, account[VEIL_NKEY_PUBLIC_LEN + 1];
    if (veil_guardian_revoke(sv->g, a->node, &jwt, account, err) != 0)
        return -1;
    int rc = veil_guardian_push(sv->g, a->urls_text, sv->ca_file, account, jwt, err);
    free(jwt);
    admin_audit(sv, "revoke", rc == 0 ? a->node : err->msg);
    return rc;
}

static int run_command(struct serve *sv, const struct admin_args *a, veil_err *err)
{
    struct veil_guardian_node n = {0};
    uint8_t node_pub[32];
    veil_ctl_reply rep = {0};
    char detail[VEIL_ERR_MSG_MAX + 512];
    struct serve_conn *c = calloc(1, sizeof *c);
    int rc = -1;
    if (!c)
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    if (veil_guardian_node_get(sv->g, a->node, &n, err) != 0)
        goto out;
    if (veil_hex_decode(node_pub, 32, n.identity, strlen(n.identity), false, err) != 32) {
        veil_err_set(err, VEIL_E_STATE, "node %s has no Ed25519 identity on record", a->node);
        goto out;
    }
    snprintf(c->account, sizeof c->account, "%s", n.realm);
    memcpy(sv->urls, a->urls, sizeof a->urls);
    sv->n_urls = a->n_urls;
    if (serve_connect(sv, c, false, err) != 0)
        goto out;
    rc = send_command(sv, c, a, node_pub, &rep, err);
    snprintf(detail, sizeof detail, "node=%s verb=%s status=%d answer=%.400s", a->node, a->verb,
             rc == 0 ? rep.status : -1, rc == 0 ? rep.body : err->msg);
    admin_audit(sv, "answer", detail);
    if (rc == 0) {
        printf("%s\n", rep.body);
        if (rep.status != 0)
            rc = veil_err_set(err, VEIL_E_PERMISSION, "node %s refused: %s", a->node, rep.body);
        else
            rc = record_outcome(sv, a, &n, err);
    }
    if (a->hard) {
        veil_err e2 = {0};
        if (hard_revoke(sv, a, &e2) != 0 && rc == 0)
            rc = veil_err_set(err, e2.code, "revoke: %s", e2.msg);
    }
out:
    veil_ctl_reply_free(&rep);
    veil_guardian_node_free(&n);
    serve_conn_close(c);
    return rc;
}

int veil_guardian_admin_main(int argc, char **argv)
{
    struct admin_args a = {0};
    int rc = parse_admin(argc, argv, &a);
    if (rc != 0)
        return rc;
    struct serve sv = {0};
    char ca_default[4096];
    veil_err err = {0};
    pthread_mutex_init(&sv.mu, NULL);
    snprintf(ca_default, sizeof ca_default, "%s/ca/root.crt", a.dir);
    sv.ca_file = a.ca_file ? a.ca_file : ca_default;
    if (veil_crypto_init(&err) != 0 || veil_guardian_open(&sv.g, a.dir, &err) != 0)
        rc = -1;
    else if (a.enroll_out)
        rc = serve_write_enroll_creds(sv.g, a.enroll_out, a.ttl_ms / 1000, &err);
    else if (!(a.urls_text = serve_master_urls(a.dir, a.urls_given, &err)))
        rc = -1;
    else if (!(a.urls_split = strdup(a.urls_text)))
        rc = veil_err_set(&err, VEIL_E_NOMEM, "copying the --nats list");
    else if (serve_split_urls(a.urls_split, a.urls, &a.n_urls, &err) != 0)
        rc = -1;
    else
        rc = run_command(&sv, &a, &err);
    free(a.urls_split);
    free(a.urls_text);
    serve_tls_free(&sv);
    if (sv.g)
        veil_guardian_close(sv.g);
    pthread_mutex_destroy(&sv.mu);
    if (rc != 0) {
        fprintf(stderr, "veil: guardian cmd: %s\n", err.msg);
        return 1;
    }
    if (a.enroll_out)
        printf("%s\n", a.enroll_out);
    return 0;
}
