// SPDX-License-Identifier: Apache-2.0
/*
 * bench_tfhers.c - TFHE-rs interop figures as one JSON line: for the client
 * key, the compact public key, one FheUint16 and a confidential request (a
 * compact list of six FheUint16), the serialized size and the median time to
 * write and to read it, in Veil's native format and in TFHE-rs's
 * safe_serialize format; and the time to encrypt the request as a Veil list
 * and as a TFHE-rs list (node-tfhe's side: bench/fhe_tfhers/run.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <veil/fhe.h>
#include <veil/tfhers.h>

#define REPS 15

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t)
{
    qsort(t, REPS, sizeof *t, cmp);
    return t[REPS / 2];
}

struct objs {
    veil_fhe_client *ck;
    veil_fhe_public *pk;
    veil_fhe_ct *ct;
    uint64_t req[6];
};

enum what { CLIENT, PUBLIC, CT16, REQUEST };

/* Writes one object (tfhers: TFHE-rs's format) into b. */
static int write_obj(const struct objs *o, enum what w, int tfhers, veil_buf *b, veil_err *err)
{
    veil_buf_reset(b);
    switch (w) {
    case CLIENT:
        if (tfhers)
            return veil_fhe_client_serialize_tfhers(o->ck, b, err);
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "no in-memory native client key writer");
    case PUBLIC:
        if (tfhers)
            return veil_fhe_public_serialize_tfhers(o->pk, b, err);
        return veil_err_set(err, VEIL_E_UNSUPPORTED, "no in-memory native public key writer");
    case CT16:
        return tfhers ? veil_fhe_ct_serialize_tfhers(o->ct, b, err)
                      : veil_fhe_ct_serialize(o->ct, b, err);
    case REQUEST:
        return tfhers ? veil_fhe_compact_encrypt_tfhers(o->pk, 16, o->req, 6, b, err)
                      : veil_fhe_compact_encrypt(o->pk, 16, o->req, 6, b, err);
    }
    return -1;
}

static int read_obj(enum what w, int tfhers, const veil_buf *b, veil_err *err)
{
    int rc = -1;
    if (w == CLIENT && tfhers) {
        veil_fhe_client *ck = NULL;
        rc = veil_fhe_client_deserialize_tfhers(b->data, b->len, &ck, err);
        veil_fhe_client_free(ck);
    } else if (w == PUBLIC && tfhers) {
        veil_fhe_public *pk = NULL;
        rc = veil_fhe_public_deserialize_tfhers(b->data, b->len, &pk, err);
        veil_fhe_public_free(pk);
    } else if (w == CT16) {
        veil_fhe_ct *ct = NULL;
        rc = tfhers ? veil_fhe_ct_deserialize_tfhers(b->data, b->len, &ct, err)
                    : veil_fhe_ct_deserialize(b->data, b->len, &ct, err);
        veil_fhe_ct_free(ct);
    } else if (w == REQUEST) {
        veil_fhe_ct *cts[6] = {0};
        rc = veil_fhe_compact_expand(b->data, b->len, 16, cts, 6, err); /* either format */
        for (int i = 0; i < 6; i++)
            veil_fhe_ct_free(cts[i]);
    }
    return rc;
}

/* Prints "name": {"bytes": N, "write_ms": x, "read_ms": y} for one format. */
static int measure(const struct objs *o, enum what w, int tfhers, const char *name, int comma,
                   veil_err *err)
{
    double tw[REPS], tr[REPS];
    veil_buf b;
    veil_buf_init(&b);
    for (int i = 0; i < REPS; i++) {
        double t0 = now_ms();
        if (write_obj(o, w, tfhers, &b, err) != 0)
            goto fail;
        tw[i] = now_ms() - t0;
        t0 = now_ms();
        if (read_obj(w, tfhers, &b, err) != 0)
            goto fail;
        tr[i] = now_ms() - t0;
    }
    printf("%s\"%s\":{\"bytes\":%zu,\"%s_ms\":%.3f,\"read_ms\":%.3f}", comma ? "," : "", name,
           b.len, w == REQUEST ? "encrypt" : "write", median(tw), median(tr));
    veil_buf_free_secure(&b);
    return 0;
fail:
    veil_buf_free_secure(&b);
    return -1;
}

/* Veil's native key files: sizes (and load times) through the file API. */
static int native_key_files(const struct objs *o, veil_err *err)
{
    char dir[] = "/tmp/veil-bench-tfhers.XXXXXX";
    if (!mkdtemp(dir))
        return veil_err_set(err, VEIL_E_IO, "mkdtemp");
    char ckp[64], pkp[64];
    snprintf(ckp, sizeof ckp, "%s/c", dir);
    snprintf(pkp, sizeof pkp, "%s/p", dir);
    int rc = veil_fhe_client_save(o->ck, ckp, err);
    if (rc == 0)
        rc = veil_fhe_public_save(o->pk, pkp, err);
    double tc[REPS], tp[REPS];
    for (int i = 0; i < REPS && rc == 0; i++) {
        veil_fhe_client *ck = NULL;
        veil_fhe_public *pk = NULL;
        double t0 = now_ms();
        rc = veil_fhe_client_load(ckp, &ck, err);
        tc[i] = now_ms() - t0;
        t0 = now_ms();
        if (rc == 0)
            rc = veil_fhe_public_load(pkp, &pk, err);
        tp[i] = now_ms() - t0;
        veil_fhe_client_free(ck);
        veil_fhe_public_free(pk);
    }
    uint8_t *d = NULL;
    size_t cl = 0, pl = 0;
    if (rc == 0 && veil_file_read(ckp, 1u << 24, &d, &cl, err) == 0)
        free(d);
    if (rc == 0 && veil_file_read(pkp, 1u << 24, &d, &pl, err) == 0)
        free(d);
    if (rc == 0)
        printf(",\"native_client_key\":{\"bytes\":%zu,\"file_load_ms\":%.3f},"
               "\"native_public_key\":{\"bytes\":%zu,\"file_load_ms\":%.3f}",
               cl, median(tc), pl, median(tp));
    remove(ckp);
    remove(pkp);
    remove(dir);
    return rc;
}

int main(void)
{
    struct objs o = {.req = {123, 81, 1, 0, 6, 2}};
    veil_err err = {0};
    int rc = veil_fhe_keygen(&o.ck, NULL, &o.pk, 1, &err);
    if (rc == 0)
        rc = veil_fhe_encrypt(o.ck, 16, 0x1234, &o.ct, &err);
    if (rc == 0) {
        printf("{\"bench\":\"fhe_tfhers\",\"reps\":%d", REPS);
        rc = measure(&o, CLIENT, 1, "tfhers_client_key", 1, &err);
    }
    if (rc == 0)
        rc = measure(&o, PUBLIC, 1, "tfhers_public_key", 1, &err);
    if (rc == 0)
        rc = native_key_files(&o, &err);
    if (rc == 0)
        rc = measure(&o, CT16, 0, "native_fheuint16", 1, &err);
    if (rc == 0)
        rc = measure(&o, CT16, 1, "tfhers_fheuint16", 1, &err);
    if (rc == 0)
        rc = measure(&o, REQUEST, 0, "native_request_list", 1, &err);
    if (rc == 0)
        rc = measure(&o, REQUEST, 1, "tfhers_request_list", 1, &err);
    if (rc == 0)
        printf("}\n");
    veil_fhe_ct_free(o.ct);
    veil_fhe_client_free(o.ck);
    veil_fhe_public_free(o.pk);
    if (rc != 0) {
        fprintf(stderr, "bench_tfhers: %s\n", err.msg);
        return 1;
    }
    return 0;
}
