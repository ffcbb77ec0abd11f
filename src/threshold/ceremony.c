// SPDX-License-Identifier: Apache-2.0
/*
 * ceremony.c - the dealer's key ceremony (veil keys deal): generates the TFHE
 * key set and the squashing key, shares the squashing secret among the
 * holders (share.c), writes the public files and one sealed 0600 share per
 * holder, and wipes every secret. The TFHE client key and the squashing
 * secret exist only in this process's memory and never reach the disk: after
 * the ceremony, decryption needs t + 1 holders. What the dealer is trusted
 * for is in docs/THRESHOLD.md.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <veil/fhe.h>

#include "th_internal.h"

static int join(char *out, size_t cap, const char *dir, const char *name, veil_err *err)
{
    int w = snprintf(out, cap, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= cap)
        return veil_err_set(err, VEIL_E_RANGE, "path too long: %s/%s", dir, name);
    return 0;
}

/* Writes the public material and the sealed shares. */
static int write_shares(const char *dir, const veil_th_public *pub, const veil_buf *sealed,
                        veil_err *err)
{
    char path[4096];
    if (join(path, sizeof path, dir, "threshold.pub", err) != 0 ||
        veil_th_public_save(pub, path, err) != 0)
        return -1;
    for (unsigned i = 1; i <= pub->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "share-%u.key", i);
        if (join(path, sizeof path, dir, name, err) != 0 ||
            veil_key_file_write(path, sealed[i - 1].data, sealed[i - 1].len, err) != 0)
            return -1;
    }
    return 0;
}

/* Writes the TFHE public and server keys and the squashing key. */
static int write_keys(const char *dir, const veil_fhe_server *sk, const veil_fhe_public *pk,
                      const veil_sq_key *sq, veil_err *err)
{
    char path[4096];
    if (join(path, sizeof path, dir, "public.key", err) != 0 ||
        veil_fhe_public_save(pk, path, err) != 0)
        return -1;
    if (join(path, sizeof path, dir, "server.key", err) != 0 ||
        veil_fhe_server_save(sk, path, err) != 0)
        return -1;
    if (join(path, sizeof path, dir, "squash.key", err) != 0 ||
        veil_sq_key_save(sq, path, err) != 0)
        return -1;
    return 0;
}

int veil_th_ceremony(const char *dir, unsigned n, unsigned t,
                     const uint8_t (*holder_pk)[VEIL_TH_PK_SIZE], unsigned threads, veil_err *err)
{
    char probe[4096];
    if (veil_th_check_params(n, t, err) != 0 || veil_mkdir_p(dir, 0700, err) != 0 ||
        join(probe, sizeof probe, dir, "threshold.pub", err) != 0)
        return -1;
    if (access(probe, F_OK) == 0) /* never overwrite the shares of a live dealing */
        return veil_err_set(err, VEIL_E_EXISTS, "%s already holds a dealing (%s)", dir, probe);
    veil_fhe_client *ck = NULL;
    veil_fhe_server *sk = NULL;
    veil_fhe_public *pk = NULL;
    veil_sq_key *sq = NULL;
    veil_sq_secret secret;
    veil_th_public pub;
    veil_buf sealed[VEIL_TH_MAX_HOLDERS];
    for (unsigned i = 0; i < n; i++)
        veil_buf_init(&sealed[i]);
    int rc = veil_fhe_keygen(&ck, &sk, &pk, threads, err);
    if (rc == 0)
        rc = veil_sq_keygen(ck, NULL, threads, &secret, &sq, err);
    /* the client key is only needed for the squashing key: gone before any file is written */
    veil_fhe_client_free(ck);
    if (rc == 0)
        rc = veil_th_deal(&secret, n, t, holder_pk, &pub, sealed, err);
    veil_memzero(&secret, sizeof secret);
    if (rc == 0)
        rc = write_keys(dir, sk, pk, sq, err);
    if (rc == 0)
        rc = write_shares(dir, &pub, sealed, err);
    for (unsigned i = 0; i < n; i++)
        veil_buf_free(&sealed[i]);
    veil_sq_key_free(sq);
    veil_fhe_server_free(sk);
    veil_fhe_public_free(pk);
    if (rc != 0)
        return veil_err_wrap(err, "key ceremony in %s", dir);
    return 0;
}
