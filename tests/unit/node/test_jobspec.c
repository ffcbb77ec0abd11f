// SPDX-License-Identifier: Apache-2.0
/*
 * test_jobspec.c - Kubernetes quantities, job.yaml validation (exact field
 * path, line and reason for each refusal), the canonical JSON form and the
 * job id.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

#include "vtest.h"

static void test_quantities(void)
{
    static const struct {
        const char *text;
        int unit;
        uint64_t want;
    } ok[] = {
        {"500m", -3, 500},
        {"1", -3, 1000},
        {"1.5", -3, 1500},
        {".5", -3, 500},
        {"2e3", -3, 2000000},
        {"0", -3, 0},
        {"64Mi", 0, 67108864},
        {"1G", 0, 1000000000},
        {"1Ki", 0, 1024},
        {"1.5Gi", 0, 1610612736},
        {"1Ei", 0, 1152921504606846976ull},
        {"100", 0, 100},
        {"1E3", 0, 1000},
        {"250M", 0, 250000000},
        {"+3", 0, 3},
        {"1000m", 0, 1},
        {"0.000001M", 0, 1},
        {"12e-1", -3, 1200},
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(ok); i++) {
        uint64_t v = 12345;
        veil_err err = {0};
        int rc = veil_quantity_parse(ok[i].text, ok[i].unit, &v, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", ok[i].text, err.msg);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_U64(v, ok[i].want);
    }
    static const struct {
        const char *text;
        int unit;
        enum veil_err_code code;
    } bad[] = {
        {"64Q", 0, VEIL_E_PARSE},     {"-1", 0, VEIL_E_RANGE},
        {"", 0, VEIL_E_PARSE},        {"1.2.3", 0, VEIL_E_PARSE},
        {"0.5m", -3, VEIL_E_RANGE},   {"1.5", 0, VEIL_E_RANGE},
        {"16Ei", 0, VEIL_E_RANGE},    {"99999999999999999999", 0, VEIL_E_RANGE},
        {"8Ei", 0, VEIL_E_RANGE},     {"+8Ei", 0, VEIL_E_RANGE},
        {"1e", 0, VEIL_E_PARSE},      {"Mi", 0, VEIL_E_PARSE},
        {"1 Mi", 0, VEIL_E_PARSE},    {"1mi", 0, VEIL_E_PARSE},
        {"1e99999", 0, VEIL_E_PARSE}, {"1e30", 0, VEIL_E_RANGE},
        {"1n", 0, VEIL_E_RANGE},
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        uint64_t v;
        veil_err err = {0};
        CHECK_EQ_INT(veil_quantity_parse(bad[i].text, bad[i].unit, &v, &err), -1);
        if (err.code != bad[i].code)
            fprintf(stderr, "  %s: got %s (%s)\n", bad[i].text, veil_err_code_name(err.code),
                    err.msg);
        CHECK_EQ_INT(err.code, bad[i].code);
    }
}

static const char good_spec[] = "# a web job\n"
                                "name: web\n"
                                "image: 127.0.0.1:5000/library/busybox@sha256:"
                                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                                "command: [/bin/sh, -c]\n"
                                "args:\n"
                                "  - echo hello\n"
                                "env:\n"
                                "  ZED: last\n"
                                "  ALPHA: 1\n"
                                "resources:\n"
                                "  cpu: 500m\n"
                                "  memory: 64Mi\n"
                                "  disk: 1Gi\n"
                                "  gpu: 1\n"
                                "replicas: 3\n"
                                "policy: spread\n"
                                "constraints: {region: eu-west, zone: 2}\n"
                                "confidential: true\n";

static void test_good_spec(void)
{
    struct veil_job_spec s;
    veil_err err = {0};
    int rc = veil_job_spec_parse(&s, good_spec, strlen(good_spec), "job.yaml", &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(s.name, "web");
    CHECK_EQ_STR(s.image_repo, "127.0.0.1:5000/library/busybox");
    CHECK(s.image_tag == NULL);
    CHECK_EQ_STR(s.image_digest,
                 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(s.n_command, 2);
    CHECK_EQ_STR(s.command[1], "-c");
    CHECK_EQ_INT(s.n_args, 1);
    CHECK_EQ_INT(s.n_env, 2);
    CHECK_EQ_STR(s.env[0].name, "ALPHA"); /* sorted */
    CHECK_EQ_STR(s.env[0].value, "1");
    CHECK_EQ_U64(s.cpu_millis, 500);
    CHECK_EQ_U64(s.memory_bytes, 64ull << 20);
    CHECK_EQ_U64(s.disk_bytes, 1ull << 30);
    CHECK_EQ_U64(s.gpus, 1);
    CHECK_EQ_INT(s.replicas, 3);
    CHECK_EQ_INT(s.policy, VEIL_POLICY_SPREAD);
    uint8_t code;
    CHECK_EQ_INT(veil_region_code("eu-west", &code), 0);
    CHECK_EQ_INT(s.region, code);
    CHECK_EQ_INT(s.zone, 2);
    CHECK(s.confidential);

    char *canon = veil_job_spec_canonical_json(&s, &err);
    CHECK(canon != NULL);
    CHECK_EQ_STR(canon,
                 "{\"args\":[\"echo hello\"],\"command\":[\"/bin/sh\",\"-c\"],\"confidential\":"
                 "true,\"constraints\":{\"region\":\"eu-west\",\"zone\":2},\"env\":{\"ALPHA\":"
                 "\"1\",\"ZED\":\"last\"},\"image\":\"127.0.0.1:5000/library/busybox@sha256:"
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"name\":"
                 "\"web\",\"policy\":\"spread\",\"replicas\":3,\"resources\":{\"cpu\":\"500m\","
                 "\"disk\":1073741824,\"gpu\":1,\"memory\":67108864}}");
    /* The canonical form parses back to itself. */
    struct veil_job_spec s2;
    rc = veil_job_spec_parse(&s2, canon, strlen(canon), "canonical", &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    char *canon2 = rc == 0 ? veil_job_spec_canonical_json(&s2, &err) : NULL;
    CHECK_EQ_STR(canon2, canon);
    free(canon2);
    if (rc == 0)
        veil_job_spec_free(&s2);

    /* Job ids: deterministic; depend on spec, submitter and nonce. */
    uint8_t nonce[VEIL_JOB_NONCE_LEN] = {1, 2, 3};
    uint8_t a[32], b[32], c[32], d[32];
    CHECK_EQ_INT(veil_job_id(a, &s, (const uint8_t *)"peerA", 5, nonce, &err), 0);
    CHECK_EQ_INT(veil_job_id(b, &s, (const uint8_t *)"peerA", 5, nonce, &err), 0);
    CHECK_EQ_MEM(a, b, 32);
    CHECK_EQ_INT(veil_job_id(c, &s, (const uint8_t *)"peerB", 5, nonce, &err), 0);
    CHECK(memcmp(a, c, 32) != 0);
    nonce[0] = 9;
    CHECK_EQ_INT(veil_job_id(d, &s, (const uint8_t *)"peerA", 5, nonce, &err), 0);
    CHECK(memcmp(a, d, 32) != 0);
    free(canon);
    veil_job_spec_free(&s);
}

static void test_equivalent_specs_same_canonical(void)
{
    const char *x = "name: a\nimage: busybox:1.36\nresources: {cpu: 0.5, memory: 1Mi}\n";
    const char *y = "resources:\n  memory: 1048576\n  cpu: \"500m\"\nimage: \"busybox:1.36\"\n"
                    "name: a\npolicy: binpack\nreplicas: 1\nconfidential: false\n";
    struct veil_job_spec a, b;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&a, x, strlen(x), "x", &err), 0);
    CHECK_EQ_INT(veil_job_spec_parse(&b, y, strlen(y), "y", &err), 0);
    CHECK_EQ_STR(a.image_tag, "1.36");
    CHECK_EQ_STR(a.image_digest, "");
    char *ca = veil_job_spec_canonical_json(&a, &err);
    char *cb = veil_job_spec_canonical_json(&b, &err);
    CHECK_EQ_STR(ca, cb);
    free(ca);
    free(cb);
    veil_job_spec_free(&a);
    veil_job_spec_free(&b);
}

/* Each bad spec and the exact error it must produce. */
static void test_refusals(void)
{
    static const char head[] = "name: web\nimage: busybox:1\n";
    static const struct {
        const char *body; /* appended to head unless it starts with '!' */
        const char *want;
    } cases[] = {
        {"resources:\n  cpu: 500m\n  memory: 64Q\n",
         "job.yaml:5: resources.memory: \"64Q\" is not a quantity (e.g. 64Mi)"},
        {"resources: {cpu: -1}\n", "job.yaml:3: resources.cpu: \"-1\": must not be negative"},
        {"resources: {cpu: 0.1m}\n",
         "job.yaml:3: resources.cpu: \"0.1m\": finer than the smallest unit (1m)"},
        {"resources: {memory: 99999Ei}\n", "job.yaml:3: resources.memory: \"99999Ei\": too large"},
        {"resources: {cpus: 1}\n",
         "job.yaml:3: resources.cpus: unknown field (expected cpu, memory, disk, gpu)"},
        {"resources: {cpu: [1]}\n",
         "job.yaml:3: resources.cpu: expected a quantity, got a sequence"},
        {"resources: 5\n", "job.yaml:3: resources: expected a mapping, got a scalar"},
        {"colour: blue\n", "job.yaml:3: colour: unknown field"},
        {"replicas: 0\n", "job.yaml:3: replicas: 0 is out of range (1..64)"},
        {"replicas: 65\n", "job.yaml:3: replicas: 65 is out of range (1..64)"},
        {"replicas: two\n", "job.yaml:3: replicas: \"two\" is not an integer"},
        {"replicas: \"2\"\n", "job.yaml:3: replicas: \"2\" is not an integer"},
        {"replicas: 99999999999999999999999\n", "job.yaml:3: replicas: \"9999"},
        {"policy: fastest\n",
         "job.yaml:3: policy: \"fastest\" is not a policy (binpack, spread, priority, "
         "lowest-latency, weighted)"},
        {"placement: nearest\n",
         "job.yaml:3: placement: \"nearest\" is not a placement (lowest-latency, weighted)"},
        {"placement: binpack\n",
         "job.yaml:3: placement: \"binpack\" is not a placement (lowest-latency, weighted)"},
        {"placement: weighted\npolicy: lowest-latency\n",
         "job.yaml:4: policy: placement: weighted contradicts policy: lowest-latency"},
        {"policy: spread\nplacement: weighted\n",
         "job.yaml:4: placement: placement: weighted contradicts policy: spread"},
        {"placement: weighted\nlatency_weight: 17\n",
         "job.yaml:4: latency_weight: 17 is out of range (0..16)"},
        {"placement: weighted\nload_weight: 5\n",
         "job.yaml:4: load_weight: 5 is out of range (0..4)"},
        {"placement: weighted\nload_weight: -1\n",
         "job.yaml:4: load_weight: \"-1\" is not an integer"},
        {"placement: weighted\nlatency_weight: 0\nload_weight: 0\n",
         "job.yaml:1: latency_weight: latency_weight and load_weight are both 0: nothing to weigh"},
        {"placement: lowest-latency\nlatency_weight: 2\n",
         "job.yaml:1: latency_weight: only with placement: weighted"},
        {"load_weight: 2\n", "job.yaml:1: load_weight: only with placement: weighted"},
        {"policy: spread\nplacement: lowest-latency\n",
         "job.yaml:4: placement: placement: lowest-latency contradicts policy: spread"},
        {"placement: lowest-latency\npolicy: binpack\n",
         "job.yaml:4: policy: placement: lowest-latency contradicts policy: binpack"},
        {"placement: lowest-latency\nlatency_to: 4\n",
         "job.yaml:4: latency_to: 4 is out of range (0..3)"},
        {"latency_to: 1\n",
         "job.yaml:1: latency_to: only with placement: lowest-latency or weighted"},
        {"confidential: yes\n",
         "job.yaml:3: confidential: \"yes\" is not a boolean (true or false)"},
        {"command: /bin/sh\n", "job.yaml:3: command: expected a sequence of strings, got a scalar"},
        {"args: [a, {b: c}]\n", "job.yaml:3: args[1]: expected a string, got a mapping"},
        {"env: {1BAD: x}\n", "job.yaml:3: env.1BAD: not a valid variable name"},
        {"env: {A: [x]}\n", "job.yaml:3: env.A: expected a string, got a sequence"},
        {"constraints: {region: mars}\n",
         "job.yaml:3: constraints.region: \"mars\" is not a known region"},
        {"constraints: {region: 300}\n",
         "job.yaml:3: constraints.region: 300 is out of range (1..255)"},
        {"constraints: {zone: 0}\n", "job.yaml:3: constraints.zone: 0 is out of range (1..255)"},
        {"constraints: {rack: 1}\n",
         "job.yaml:3: constraints.rack: unknown field (expected region, zone)"},
        {"replicas: 1\nreplicas: 2\n", "job.yaml:4: replicas: duplicate field"},
        {"!name: web\nimage: busybox@sha256:abc\n",
         "job.yaml:2: image: \"busybox@sha256:abc\": digest must be sha256: followed by 64 "
         "lowercase hex digits"},
        {"!name: web\nimage: busybox@md5:0123\n",
         "job.yaml:2: image: \"busybox@md5:0123\": digest must be sha256:<64 hex digits>"},
        {"!name: web\nimage: busybox\n",
         "job.yaml:2: image: \"busybox\": has neither a :tag nor an @sha256: digest"},
        {"!name: web\nimage: Busybox:1\n", "job.yaml:2: image: \"Busybox:1\": repository path"},
        {"!name: Web\nimage: busybox:1\n", "job.yaml:1: name: \"Web\" must be 1..63"},
        {"!image: busybox:1\n", "job.yaml:1: name: missing (required)"},
        {"!name: web\n", "job.yaml:1: image: missing (required)"},
        {"!- name: web\n", "job.yaml:1: expected a mapping at the top level, got a sequence"},
        {"!", "job: empty document"},
        {"!name: [unclosed\n", "YAML syntax error"},
        {"!name: web\nimage: busybox:1\n---\nname: other\n",
         "job.yaml:4: more than one YAML document"},
        {"!name: web\nimage: \"busy\\0box:1\"\n", "job.yaml:2: image: contains a NUL character"},
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(cases); i++) {
        char text[512];
        if (cases[i].body[0] == '!')
            snprintf(text, sizeof text, "%s", cases[i].body + 1);
        else
            snprintf(text, sizeof text, "%s%s", head, cases[i].body);
        struct veil_job_spec s;
        veil_err err = {0};
        const char *origin = strcmp(cases[i].want, "job: empty document") == 0 ? NULL : "job.yaml";
        CHECK_EQ_INT(veil_job_spec_parse(&s, text, strlen(text), origin, &err), -1);
        CHECK_CONTAINS(err.msg, cases[i].want);
    }
}

static void test_request_quantization(void)
{
    struct veil_job_spec s = {0};
    uint16_t req[VEIL_RES_COUNT];
    veil_err err = {0};
    s.cpu_millis = 501; /* rounds up to 51 x 10m */
    s.memory_bytes = 64ull << 20;
    s.disk_bytes = 1;
    s.gpus = 2;
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, &err), 0);
    CHECK_EQ_INT(req[VEIL_RES_CPU], 51);
    CHECK_EQ_INT(req[VEIL_RES_MEMORY], 16);
    CHECK_EQ_INT(req[VEIL_RES_DISK], 1);
    CHECK_EQ_INT(req[VEIL_RES_GPU], 2);
    s.memory_bytes = 256ull << 30; /* 256 GiB: a wide code since 16 TiB machines exist */
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, &err), 0);
    CHECK_EQ_U64(veil_quant_code_value(req[VEIL_RES_MEMORY]), 65536);
    s.memory_bytes = (32764ull << 30) + 1; /* one byte past the largest code */
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, &err), -1);
    CHECK_CONTAINS(err.msg, "resources.memory");
}

/* A confidential job as nodes see it: no request values in the canonical
 * form (and so in the job id and every listing), only the digest of the
 * request ciphertext; the redacted form parses back to itself, and partial
 * or contradictory redactions are refused. */
static void test_confidential_redaction(void)
{
    const char *y = "name: sec\nimage: busybox:1\nresources: {cpu: 1230m, memory: 321Mi}\n"
                    "constraints: {region: eu-west, zone: 7}\nconfidential: true\n";
    struct veil_job_spec s, back;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&s, y, strlen(y), "y", &err), 0);
    CHECK(s.confidential && !s.redacted);
    CHECK_EQ_U64(s.cpu_millis, 1230);
    const uint8_t ct[] = "a request ciphertext";
    CHECK_EQ_INT(veil_job_spec_redact(&s, ct, sizeof ct, &err), 0);
    CHECK(s.redacted);
    CHECK_EQ_U64(s.cpu_millis, 0);
    CHECK_EQ_INT(s.region, 0);
    char *canon = veil_job_spec_canonical_json(&s, &err);
    CHECK(canon != NULL);
    CHECK_CONTAINS(canon, "\"resources\":\"confidential\"");
    CHECK_CONTAINS(canon, "\"constraints\":\"confidential\"");
    CHECK_CONTAINS(canon, "\"request_digest\":\"");
    CHECK(!strstr(canon, "1230") && !strstr(canon, "336592896") && !strstr(canon, "eu-west"));
    uint8_t dg[32];
    veil_job_request_digest(dg, ct, sizeof ct);
    CHECK_EQ_MEM(s.request_digest, dg, 32);
    /* round trip */
    CHECK_EQ_INT(veil_job_spec_parse(&back, canon, strlen(canon), "c", &err), 0);
    CHECK(back.redacted && back.confidential);
    CHECK_EQ_MEM(back.request_digest, dg, 32);
    char *canon2 = veil_job_spec_canonical_json(&back, &err);
    CHECK_EQ_STR(canon2, canon);
    free(canon2);
    veil_job_spec_free(&back);
    free(canon);
    /* a public job cannot be redacted; a confidential one needs a ciphertext */
    struct veil_job_spec pub;
    CHECK_EQ_INT(veil_job_spec_parse(&pub, "name: p\nimage: busybox:1\n", 25, "p", &err), 0);
    CHECK_EQ_INT(veil_job_spec_redact(&pub, ct, sizeof ct, &err), -1);
    veil_job_spec_free(&pub);
    s.redacted = false;
    CHECK_EQ_INT(veil_job_spec_redact(&s, NULL, 0, &err), -1);
    veil_job_spec_free(&s);
    static const char *const bad[] = {
        /* half redacted */
        "name: a\nimage: busybox:1\nresources: confidential\nconfidential: true\n",
        "name: a\nimage: busybox:1\nresources: confidential\nconstraints: confidential\n"
        "confidential: true\n",
        /* redacted but not confidential */
        "name: a\nimage: busybox:1\nresources: confidential\nconstraints: confidential\n"
        "request_digest: 0000000000000000000000000000000000000000000000000000000000000000\n",
        /* a bad digest, a bad marker */
        "name: a\nimage: busybox:1\nrequest_digest: 12\n",
        "name: a\nimage: busybox:1\nresources: secret\n",
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        CHECK_EQ_INT(veil_job_spec_parse(&s, bad[i], strlen(bad[i]), "b", &err), -1);
        CHECK_EQ_INT(err.code, VEIL_E_INVALID);
    }
    CHECK_CONTAINS(err.msg, "resources");
}

/* VeilNet fields (issue 16): expose (sorted, unique, tcp by default) and the
 * tenant taint; the canonical form round-trips, a spec without them keeps
 * its old canonical form, and bad entries are refused with their path. */
static void test_expose_and_tenant(void)
{
    const char *y = "name: web\nimage: busybox:1\nreplicas: 2\ntenant: acme\n"
                    "expose:\n  - {port: 9000, protocol: udp}\n"
                    "  - port: 8080\n    to: [zeta, api, zeta]\n";
    struct veil_job_spec s, again;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&s, y, strlen(y), "job.yaml", &err), 0);
    CHECK_EQ_U64(s.n_expose, 2);
    CHECK_EQ_INT(s.expose[0].port, 8080);
    CHECK_EQ_INT(s.expose[0].proto, 6);
    CHECK_EQ_U64(s.expose[0].n_to, 2);
    CHECK_EQ_STR(s.expose[0].to[0], "api");
    CHECK_EQ_STR(s.expose[0].to[1], "zeta");
    CHECK_EQ_INT(s.expose[1].port, 9000);
    CHECK_EQ_INT(s.expose[1].proto, 17);
    CHECK_EQ_U64(s.expose[1].n_to, 0);
    CHECK_EQ_STR(s.tenant, "acme");
    char *canon = veil_job_spec_canonical_json(&s, &err);
    CHECK(canon != NULL);
    CHECK_CONTAINS(canon,
                   "\"expose\":[{\"port\":8080,\"protocol\":\"tcp\",\"to\":[\"api\",\"zeta\"]}");
    CHECK_CONTAINS(canon, "\"tenant\":\"acme\"");
    CHECK_EQ_INT(veil_job_spec_parse(&again, canon, strlen(canon), "canon", &err), 0);
    char *canon2 = veil_job_spec_canonical_json(&again, &err);
    CHECK_EQ_STR(canon, canon2);
    free(canon);
    free(canon2);
    veil_job_spec_free(&again);
    veil_job_spec_free(&s);
    /* no VeilNet fields: none in the canonical form */
    CHECK_EQ_INT(veil_job_spec_parse(&s, "name: a\nimage: busybox:1\n", 25, "a", &err), 0);
    canon = veil_job_spec_canonical_json(&s, &err);
    CHECK(canon != NULL && strstr(canon, "expose") == NULL && strstr(canon, "tenant") == NULL);
    free(canon);
    veil_job_spec_free(&s);
    static const struct {
        const char *body;
        const char *want;
    } bad[] = {
        {"expose: 8080\n", "expose: expected a sequence, got a scalar"},
        {"expose:\n  - {port: 0}\n", "expose.port: 0 is out of range (1..65535)"},
        {"expose:\n  - {port: 70000}\n", "expose.port: 70000 is out of range (1..65535)"},
        {"expose:\n  - {to: [a]}\n", "expose: port is required"},
        {"expose:\n  - {port: 1, protocol: sctp}\n", "\"sctp\" is not tcp or udp"},
        {"expose:\n  - {port: 1, to: [\"Bad Name\"]}\n", "is not a job name"},
        {"expose:\n  - {port: 1}\n  - {port: 1}\n", "port 1 listed twice"},
        {"expose:\n  - {port: 1, via: x}\n", "unknown field (expected port, protocol, to)"},
        {"tenant: \"A B\"\n", "tenant: \"A B\" is not a tenant name"},
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        char text[512];
        snprintf(text, sizeof text, "name: web\nimage: busybox:1\n%s", bad[i].body);
        CHECK_EQ_INT(veil_job_spec_parse(&s, text, strlen(text), "job.yaml", &err), -1);
        CHECK_CONTAINS(err.msg, bad[i].want);
    }
}

/* placement: weighted: weights default to 1, the canonical form carries the
 * landmark and both weights and parses back to itself, the confidential
 * redacted form keeps them (public like the policy), and a canonical form
 * with weights but another policy is refused. */
static void test_weighted(void)
{
    const char *x = "name: a\nimage: busybox:1\nplacement: weighted\nlatency_weight: 3\n"
                    "load_weight: 0\nlatency_to: 1\n";
    const char *d = "name: a\nimage: busybox:1\npolicy: weighted\n";
    struct veil_job_spec a, b, c;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&a, x, strlen(x), "x", &err), 0);
    CHECK_EQ_INT(a.policy, VEIL_POLICY_WEIGHTED);
    CHECK_EQ_INT(a.latency_weight, 3);
    CHECK_EQ_INT(a.load_weight, 0);
    CHECK_EQ_INT(a.latency_to, 1);
    CHECK_EQ_INT(veil_job_spec_parse(&b, d, strlen(d), "d", &err), 0);
    CHECK_EQ_INT(b.latency_weight, VEIL_WEIGHT_LATENCY_DEFAULT);
    CHECK_EQ_INT(b.load_weight, VEIL_WEIGHT_LOAD_DEFAULT);
    char *ca = veil_job_spec_canonical_json(&a, &err);
    CHECK_CONTAINS(ca, "\"latency_to\":1,\"latency_weight\":3,\"load_weight\":0");
    CHECK_CONTAINS(ca, "\"policy\":\"weighted\"");
    CHECK_EQ_INT(veil_job_spec_parse(&c, ca, strlen(ca), "canonical", &err), 0);
    char *cc = veil_job_spec_canonical_json(&c, &err);
    CHECK_EQ_STR(cc, ca);
    free(cc);
    veil_job_spec_free(&c);
    /* a different weight is a different job (id) */
    char *cb = veil_job_spec_canonical_json(&b, &err);
    CHECK(strcmp(ca, cb) != 0);
    CHECK_CONTAINS(cb, "\"latency_weight\":1,\"load_weight\":1");
    /* confidential: the redacted form keeps the public weights */
    const char *y = "name: a\nimage: busybox:1\nplacement: weighted\nload_weight: 4\n"
                    "resources: {cpu: 1}\nconfidential: true\n";
    CHECK_EQ_INT(veil_job_spec_parse(&c, y, strlen(y), "y", &err), 0);
    const uint8_t ct[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(veil_job_spec_redact(&c, ct, sizeof ct, &err), 0);
    cc = veil_job_spec_canonical_json(&c, &err);
    CHECK_CONTAINS(cc, "\"load_weight\":4");
    veil_job_spec_free(&c);
    CHECK_EQ_INT(veil_job_spec_parse(&c, cc, strlen(cc), "redacted", &err), 0);
    CHECK_EQ_INT(c.load_weight, 4);
    CHECK(c.redacted);
    free(cc);
    veil_job_spec_free(&c);
    /* an old policy with weights: refused, never silently dropped */
    const char *z = "{\"name\":\"a\",\"image\":\"busybox:1\",\"policy\":\"binpack\","
                    "\"load_weight\":2}";
    CHECK_EQ_INT(veil_job_spec_parse(&c, z, strlen(z), "z", &err), -1);
    CHECK_CONTAINS(err.msg, "load_weight: only with placement: weighted");
    free(ca);
    free(cb);
    veil_job_spec_free(&a);
    veil_job_spec_free(&b);
}

/* placement: lowest-latency (or policy: lowest-latency) with its landmark;
 * the canonical form names it and parses back to itself; other specs'
 * canonical forms carry no latency_to (their ids are unchanged). */
static void test_lowest_latency(void)
{
    const char *x = "name: a\nimage: busybox:1\nplacement: lowest-latency\nlatency_to: 2\n";
    const char *y = "name: a\nimage: busybox:1\npolicy: lowest-latency\nlatency_to: 2\n"
                    "placement: lowest-latency\n";
    struct veil_job_spec a, b, c;
    veil_err err = {0};
    CHECK_EQ_INT(veil_job_spec_parse(&a, x, strlen(x), "x", &err), 0);
    CHECK_EQ_INT(veil_job_spec_parse(&b, y, strlen(y), "y", &err), 0);
    CHECK_EQ_INT(a.policy, VEIL_POLICY_LATENCY);
    CHECK_EQ_INT(a.latency_to, 2);
    char *ca = veil_job_spec_canonical_json(&a, &err);
    char *cb = veil_job_spec_canonical_json(&b, &err);
    CHECK_EQ_STR(ca, cb);
    CHECK_CONTAINS(ca, "\"policy\":\"lowest-latency\"");
    CHECK_CONTAINS(ca, "\"latency_to\":2");
    CHECK_EQ_INT(veil_job_spec_parse(&c, ca, strlen(ca), "canonical", &err), 0);
    char *cc = veil_job_spec_canonical_json(&c, &err);
    CHECK_EQ_STR(cc, ca);
    free(cc);
    veil_job_spec_free(&c);
    const char *z = "name: a\nimage: busybox:1\npolicy: spread\n";
    CHECK_EQ_INT(veil_job_spec_parse(&c, z, strlen(z), "z", &err), 0);
    cc = veil_job_spec_canonical_json(&c, &err);
    CHECK(strstr(cc, "latency") == NULL);
    free(cc);
    veil_job_spec_free(&c);
    free(ca);
    free(cb);
    veil_job_spec_free(&a);
    veil_job_spec_free(&b);
}

VTEST_MAIN(VTEST(test_quantities), VTEST(test_good_spec), VTEST(test_confidential_redaction),
           VTEST(test_lowest_latency), VTEST(test_weighted),
           VTEST(test_equivalent_specs_same_canonical), VTEST(test_refusals),
           VTEST(test_request_quantization), VTEST(test_expose_and_tenant))
