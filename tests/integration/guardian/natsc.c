// SPDX-License-Identifier: Apache-2.0
/*
 * natsc.c - a minimal NATS client (libnats) for the Guardian/Master script
 * tests and benchmarks: connects with a .creds file (read through Veil's
 * parser and handed to libnats by callbacks) over TLS, then publishes,
 * subscribes, or holds the connection until the server closes it.
 *
 *   guardian_natsc URLS CREDS CA pub SUBJ MSG       exit 3 on a permissions violation
 *   guardian_natsc URLS CREDS CA sub SUBJ N MS      prints "ready", then one line per
 *                                                   message; exit 4 if < N within MS
 *   guardian_natsc URLS CREDS CA hold MS            prints "connected", then at close
 *                                                   "closed <unix ms> <last error>";
 *                                                   exit 4 if still open after MS
 *   guardian_natsc URLS CREDS CA pubsize SUBJ BYTES publishes BYTES bytes; exit 6 if the
 *                                                   server closes the connection for it,
 *                                                   7 if libnats refuses it against the
 *                                                   limit the server announced
 * Exit 5: could not connect (the reason on stderr). With NATSC_TLS=PREFIX in
 * the environment the client presents PREFIX.crt / PREFIX.key (written by
 * `veil guardian cert`) to a Master that verifies clients.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <nats/nats.h>

#include <veil/guardian.h>

struct client {
    char *jwt;
    veil_nkey key;
    volatile int violation;
    volatile int closed;
};

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static natsStatus jwt_cb(char **user_jwt, char **custom_err, void *closure)
{
    struct client *c = closure;
    (void)custom_err;
    *user_jwt = strdup(c->jwt);
    return *user_jwt ? NATS_OK : NATS_NO_MEMORY;
}

static natsStatus sig_cb(char **custom_err, unsigned char **sig, int *len, const char *nonce,
                         void *closure)
{
    struct client *c = closure;
    (void)custom_err;
    *sig = malloc(VEIL_NKEY_SIG_LEN);
    if (*sig == NULL || veil_nkey_sign(&c->key, nonce, strlen(nonce), *sig, NULL) != 0)
        return NATS_ERR;
    *len = VEIL_NKEY_SIG_LEN;
    return NATS_OK;
}

static void err_cb(natsConnection *nc, natsSubscription *sub, natsStatus s, void *closure)
{
    struct client *c = closure;
    const char *text = NULL;
    (void)sub;
    natsConnection_GetLastError(nc, &text);
    if (s == NATS_NOT_PERMITTED || (text && strstr(text, "Permissions Violation"))) {
        c->violation = 1;
        printf("permission-violation %s\n", text ? text : "");
        fflush(stdout);
    }
}

static void closed_cb(natsConnection *nc, void *closure)
{
    struct client *c = closure;
    const char *text = NULL;
    natsConnection_GetLastError(nc, &text);
    printf("closed %lld %s\n", (long long)now_ms(), text ? text : "");
    fflush(stdout);
    c->closed = 1;
}

static natsStatus load_client_cert(natsOptions *o, const char *prefix)
{
    char crt[1024], key[1024];
    snprintf(crt, sizeof crt, "%s.crt", prefix);
    snprintf(key, sizeof key, "%s.key", prefix);
    return natsOptions_LoadCertificatesChain(o, crt, key);
}

static natsConnection *connect_to(const char *urls, const char *ca, struct client *c)
{
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, urls);
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsCallbacks(o, jwt_cb, c, sig_cb, c);
    if (s == NATS_OK && strcmp(ca, "-") != 0)
        s = natsOptions_SetSecure(o, true);
    if (s == NATS_OK && strcmp(ca, "-") != 0)
        s = natsOptions_LoadCATrustedCertificates(o, ca);
    const char *tls = getenv("NATSC_TLS");
    if (s == NATS_OK && tls != NULL && tls[0] != '\0')
        s = load_client_cert(o, tls);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, err_cb, c);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, closed_cb, c);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(o, false);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    if (s != NATS_OK)
        fprintf(stderr, "natsc: connect: %s %s\n", natsStatus_GetText(s), nats_GetLastError(NULL));
    natsOptions_Destroy(o);
    return s == NATS_OK ? nc : NULL;
}

static int do_pub(natsConnection *nc, struct client *c, const char *subj, const char *msg)
{
    natsStatus s = natsConnection_PublishString(nc, subj, msg);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(nc, 2000);
    for (int i = 0; i < 30 && !c->violation; i++)
        usleep(10000); /* the -ERR arrives asynchronously after the PONG at worst */
    return c->violation ? 3 : s == NATS_OK ? 0 : 1;
}

/* A message of `bytes` bytes on an allowed subject: the server closes the
 * connection ("Maximum Payload Violation") when the user's limit is lower. */
static int do_pubsize(natsConnection *nc, struct client *c, const char *subj, long bytes)
{
    if (bytes < 0 || bytes > (1L << 24))
        return 2;
    char *buf = malloc((size_t)bytes + 1);
    if (buf == NULL)
        return 1;
    memset(buf, 'x', (size_t)bytes);
    natsStatus s = natsConnection_Publish(nc, subj, buf, (int)bytes);
    free(buf);
    if (s == NATS_MAX_PAYLOAD) {
        /* the server announced this user's limit in its INFO (it comes
         * from the JWT), so libnats refuses before sending; a client that
         * sent anyway would be closed by the server */
        printf("refused max_payload %lld\n", (long long)natsConnection_GetMaxPayload(nc));
        fflush(stdout);
        return 7;
    }
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(nc, 2000);
    /* the close follows the -ERR asynchronously: allow a loaded machine
     * (CI's 2 cores) up to 5 s for it */
    for (int i = 0; i < 500 && !c->closed; i++)
        usleep(10000);
    return c->closed ? 6 : s == NATS_OK ? 0 : 1;
}

static int do_sub(natsConnection *nc, struct client *c, const char *subj, int want, int ms)
{
    natsSubscription *sub = NULL;
    natsStatus s = natsConnection_SubscribeSync(&sub, nc, subj);
    if (s == NATS_OK)
        s = natsConnection_FlushTimeout(nc, 2000);
    usleep(100000);
    if (s != NATS_OK || c->violation)
        return c->violation ? 3 : 1;
    printf("ready\n");
    fflush(stdout);
    int got = 0;
    int64_t deadline = now_ms() + ms;
    while (got < want && now_ms() < deadline) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, 100) != NATS_OK)
            continue;
        printf("msg %s %.*s\n", natsMsg_GetSubject(m), natsMsg_GetDataLength(m),
               natsMsg_GetData(m));
        fflush(stdout);
        natsMsg_Destroy(m);
        got++;
    }
    natsSubscription_Destroy(sub);
    printf("count %d\n", got);
    return got >= want ? 0 : 4;
}

static int do_hold(struct client *c, int ms)
{
    printf("connected %lld\n", (long long)now_ms());
    fflush(stdout);
    int64_t deadline = now_ms() + ms;
    while (!c->closed && now_ms() < deadline)
        usleep(2000);
    return c->closed ? 0 : 4;
}

static int run(int argc, char **argv, struct client *c)
{
    natsConnection *nc = connect_to(argv[1], argv[3], c);
    if (nc == NULL)
        return 5;
    const char *mode = argv[4];
    int rc = 2;
    if (strcmp(mode, "pub") == 0 && argc == 7)
        rc = do_pub(nc, c, argv[5], argv[6]);
    else if (strcmp(mode, "sub") == 0 && argc == 8)
        rc = do_sub(nc, c, argv[5], atoi(argv[6]), atoi(argv[7]));
    else if (strcmp(mode, "pubsize") == 0 && argc == 7)
        rc = do_pubsize(nc, c, argv[5], atol(argv[6]));
    else if (strcmp(mode, "hold") == 0 && argc == 6)
        rc = do_hold(c, atoi(argv[5]));
    if (!c->closed)
        natsConnection_Close(nc);
    natsConnection_Destroy(nc);
    return rc;
}

int main(int argc, char **argv)
{
    struct client c = {0};
    veil_err err = {0};
    if (argc < 5) {
        fprintf(stderr, "usage: guardian_natsc URLS CREDS CA pub|sub|hold|pubsize ...\n");
        return 2;
    }
    if (veil_crypto_init(&err) != 0 || veil_creds_read(argv[2], &c.jwt, &c.key, &err) != 0) {
        fprintf(stderr, "natsc: %s\n", err.msg);
        return 5;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = run(argc, argv, &c);
    free(c.jwt);
    veil_nkey_wipe(&c.key);
    nats_Close();
    return rc;
}
