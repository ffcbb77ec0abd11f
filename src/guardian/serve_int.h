// SPDX-License-Identifier: Apache-2.0
/*
 * serve_int.h - private state of the Guardian daemon shared by serve.c
 * (connections, subscriptions, main loop), serve_enroll.c (admission and
 * issuance) and admin.c (service credentials for `veil guardian cmd`).
 */
#ifndef VEIL_GUARDIAN_SERVE_INT_H
#define VEIL_GUARDIAN_SERVE_INT_H

#include <pthread.h>

#include <nats/nats.h>

#include <veil/chain.h>
#include <veil/guardian.h>
#include <veil/guardian_serve.h>

#define SERVE_MAX_URLS  16
#define SERVE_MAX_CONNS 64

struct serve;

/* One connection to Master as Guardian's service user in one account. */
struct serve_conn {
    struct serve *sv;
    char account[VEIL_GUARDIAN_NAME_MAX + 1]; /* realm name or "enroll" */
    natsConnection *nc;
    natsSubscription *sub;
    veil_nkey user; /* the service user of the current JWT (under sv->mu) */
};

struct serve {
    veil_guardian *g;
    pthread_mutex_t mu; /* g, chain, every conn's user key */
    uint8_t challenge_key[32];
    const char *urls[SERVE_MAX_URLS];
    size_t n_urls;
    const char *ca_file;
    char *ca_pem; /* root certificate handed to nodes */
    int64_t ttl_s, cert_ttl_s;
    int64_t max_payload;      /* user JWTs' payload limit (0 = the library default) */
    veil_chain_client *chain; /* NULL: on-chain admission off */
    struct ca_client {
        char *chain_pem, *key_pem;
    } tls; /* Guardian's client certificate */
    struct serve_conn *conns[SERVE_MAX_CONNS];
    size_t n_conns;
};

/* Answers one enrollment or renewal message (HELLO or PROVE) into `out`.
 * realm/node are the subject's when it came on a renewal subject (NULL on
 * the enrollment subject). Never fails: a refusal is a RESULT. */
void serve_answer(struct serve *sv, const char *realm, const char *node, const uint8_t *data,
                  size_t len, veil_buf *out);

/* Connects as Guardian's service user in c->account (a realm or "enroll"):
 * a fresh user JWT minted on every (re)connect through the credential
 * callbacks; with `answer`, also serves enrollment/renewal there. */
int serve_connect(struct serve *sv, struct serve_conn *c, bool answer,
                  veil_err *err) VEIL_WARN_UNUSED;
void serve_conn_close(struct serve_conn *c);
/* Publishes one signed notice per revoked node that still holds a valid
 * certificate, in every realm served (serve_revoked.c). */
void serve_announce_revoked(struct serve *sv);
/* Wipes the client certificate's key. */
void serve_tls_free(struct serve *sv);
int serve_nats_err(veil_err *err, natsStatus s, const char *what);

uint64_t serve_now_ms(void);
/* Master's client URLs: `given` if set, else DIR/master.servers (written by
 * `veil master config`). Returns a malloc'd comma-separated list. */
char *serve_master_urls(const char *dir, const char *given, veil_err *err);
/* Splits that list in place into urls[] (pointers into `list`): -1 when it
 * names none or more than SERVE_MAX_URLS. */
int serve_split_urls(char *list, const char *urls[SERVE_MAX_URLS], size_t *n,
                     veil_err *err) VEIL_WARN_UNUSED;
/* SubjectPublicKeyInfo PEM of a raw Ed25519 key (malloc'd). */
int serve_ed25519_pub_pem(const uint8_t pub[32], char **pem, veil_err *err) VEIL_WARN_UNUSED;

/* Writes an enrollment-account .creds file (one reply id of its own). */
int serve_write_enroll_creds(veil_guardian *g, const char *path, int64_t ttl_s,
                             veil_err *err) VEIL_WARN_UNUSED;

#endif
