// SPDX-License-Identifier: Apache-2.0
/*
 * tun_census.c - test driver for conflux_tun_netns.sh: a realm's service
 * user that subscribes to everything in the realm ('>') for the whole run
 * and writes one line per message, "SUBJECT LENGTH HEX-PAYLOAD", so the
 * script can check that Master carried only control messages (subjects of
 * the control table, small payloads) and none of the data plane's bytes.
 *   tun_census URL CA_FILE CREDS_FILE OUT_FILE    (runs until SIGTERM)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

static FILE *g_out;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    (void)closure;
    const unsigned char *d = (const unsigned char *)natsMsg_GetData(msg);
    int n = natsMsg_GetDataLength(msg);
    pthread_mutex_lock(&g_mu);
    fprintf(g_out, "%s %d ", natsMsg_GetSubject(msg), n);
    for (int i = 0; i < n; i++)
        fprintf(g_out, "%02x", d[i]);
    fputc('\n', g_out);
    fflush(g_out);
    pthread_mutex_unlock(&g_mu);
    natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: tun_census URL CA_FILE CREDS_FILE OUT_FILE\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    g_out = fopen(argv[4], "w");
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = g_out ? natsOptions_Create(&o) : NATS_ERR;
    if (s == NATS_OK)
        s = natsOptions_SetURL(o, argv[1]);
    if (s == NATS_OK)
        s = natsOptions_LoadCATrustedCertificates(o, argv[2]);
    if (s == NATS_OK)
        s = natsOptions_SetUserCredentialsFromFiles(o, argv[3], NULL);
    if (s == NATS_OK)
        s = natsConnection_Connect(&nc, o);
    if (s == NATS_OK)
        s = natsConnection_Subscribe(&sub, nc, ">", on_msg, NULL);
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    if (s != NATS_OK) {
        fprintf(stderr, "tun_census: %s\n", natsStatus_GetText(s));
        return 1;
    }
    printf("census ready\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    fclose(g_out);
    return 0;
}
