// SPDX-License-Identifier: Apache-2.0
/*
 * test_telemetry.c - /proc parsers, quantization (units, rounding direction,
 * saturation), the test-only capacity override, and one live sample.
 */
#include <stdlib.h>
#include <string.h>

#include <veil/node.h>

#include "vtest.h"

static void test_proc_parsers(void)
{
    uint64_t idle, total;
    const char *stat = "cpu  100 5 50 1000 20 3 2 1 7 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
    CHECK_EQ_INT(veil_proc_stat_parse(stat, &idle, &total, NULL), 0);
    CHECK_EQ_U64(idle, 1020);
    CHECK_EQ_U64(total, 100 + 5 + 50 + 1000 + 20 + 3 + 2 + 1);
    CHECK_EQ_INT(veil_proc_stat_parse("cpu0 1 2 3 4\n", &idle, &total, NULL), -1);
    CHECK_EQ_INT(veil_proc_stat_parse("cpu  1 2\n", &idle, &total, NULL), -1);
    CHECK_EQ_INT(veil_proc_stat_parse("cpu  99999999999999999999999 1 1 1\n", &idle, &total, NULL),
                 -1);
    uint64_t avail;
    const char *mi = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n";
    CHECK_EQ_INT(veil_meminfo_parse(mi, &avail, NULL), 0);
    CHECK_EQ_U64(avail, 2048ull * 1024);
    CHECK_EQ_INT(veil_meminfo_parse("MemTotal: 1 kB\n", &avail, NULL), -1);
    CHECK_EQ_INT(veil_meminfo_parse("MemAvailable: x kB\n", &avail, NULL), -1);
}

static void test_quantize(void)
{
    struct veil_telemetry_raw raw = {.cpu_millis = 1999,
                                     .memory_bytes = (8ull << 20) - 1,
                                     .disk_bytes = (3ull << 30) + 5,
                                     .gpus = 2,
                                     .region = 6,
                                     .zone = 2,
                                     .priority = 9};
    struct veil_telemetry_q q;
    veil_telemetry_quantize_free(&raw, &q);
    CHECK_EQ_INT(q.res[VEIL_RES_CPU], 199); /* rounds down */
    CHECK_EQ_INT(q.res[VEIL_RES_MEMORY], 1);
    CHECK_EQ_INT(q.res[VEIL_RES_DISK], 3);
    CHECK_EQ_INT(q.res[VEIL_RES_GPU], 2);
    CHECK_EQ_INT(q.region, 6);
    CHECK_EQ_INT(q.zone, 2);
    CHECK_EQ_INT(q.priority, 9);
    uint16_t words[VEIL_TELEMETRY_WORDS];
    veil_telemetry_to_words(&q, words);
    CHECK_EQ_INT(words[0], 199);
    CHECK_EQ_INT(words[4], 6);
    CHECK_EQ_INT(words[6], 9);
    struct veil_telemetry_q back;
    veil_telemetry_from_words(words, &back);
    CHECK_EQ_MEM(&back, &q, sizeof q);
    /* Saturation: never more than 0xFFFF units (gpus: 4095). */
    raw.cpu_millis = 10000000;
    raw.memory_bytes = 1ull << 50;
    raw.disk_bytes = UINT64_MAX;
    raw.gpus = 1000000;
    veil_telemetry_quantize_free(&raw, &q);
    for (int r = 0; r < VEIL_RES_GPU; r++)
        CHECK_EQ_INT(q.res[r], 0xFFFF);
    /* free gpus saturate at 4095 (the score takes them unshifted, 12 bits) */
    CHECK_EQ_INT(q.res[VEIL_RES_GPU], VEIL_QUANT_GPU_MAX);
    raw.gpus = 4095;
    veil_telemetry_quantize_free(&raw, &q);
    CHECK_EQ_INT(q.res[VEIL_RES_GPU], 4095);
    raw.gpus = 4096;
    veil_telemetry_quantize_free(&raw, &q);
    CHECK_EQ_INT(q.res[VEIL_RES_GPU], 4095);
    /* A request of exactly the free capacity fits after quantization. */
    struct veil_job_spec s = {.cpu_millis = 1990, .memory_bytes = 4ull << 20};
    uint16_t req[VEIL_RES_COUNT];
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, NULL), 0);
    raw = (struct veil_telemetry_raw){.cpu_millis = 1990, .memory_bytes = 4ull << 20};
    veil_telemetry_quantize_free(&raw, &q);
    CHECK(req[VEIL_RES_CPU] <= q.res[VEIL_RES_CPU]);
    CHECK(req[VEIL_RES_MEMORY] <= q.res[VEIL_RES_MEMORY]);
    /* One millicore more than free: does not fit. */
    s.cpu_millis = 1991;
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, NULL), 0);
    CHECK(req[VEIL_RES_CPU] > q.res[VEIL_RES_CPU]);
}

/* The wide code of memory and disk: monotone, continuous at the threshold,
 * round-trips every code, keeps the relative step below 1/4096, and reads real
 * machines' sizes (580 GiB, 1 TiB, 16 TiB of memory; 1 PiB of disk). */
static void test_wide_code(void)
{
    uint64_t prev = 0;
    for (uint32_t c = 0; c <= 0xFFFF; c++) {
        uint64_t v = veil_quant_code_value((uint16_t)c);
        if (c > 0 && v <= prev) {
            CHECK(v > prev);
            break;
        }
        if (c > 0 && c >= VEIL_QUANT_LINEAR)
            CHECK((v - prev) * 4096 <= v); /* step / value <= 1/4096 */
        CHECK_EQ_INT(veil_quant_code_down(v), c);
        uint16_t up = 0;
        CHECK_EQ_INT(veil_quant_code_up(v, &up), 0);
        CHECK_EQ_INT(up, c);
        if (c > 0 && v - prev > 1) { /* between two codes: down and up straddle */
            CHECK_EQ_INT(veil_quant_code_down(v - 1), c - 1);
            CHECK_EQ_INT(veil_quant_code_up(prev + 1, &up), 0);
            CHECK_EQ_INT(up, c);
        }
        prev = v;
    }
    CHECK_EQ_U64(veil_quant_code_value(0x7FFF), 0x7FFF);
    CHECK_EQ_U64(veil_quant_code_value(0x8000), 0x8000);
    CHECK_EQ_U64(veil_quant_code_value(0xFFFF), VEIL_QUANT_CODE_MAX_UNITS);
    uint16_t code;
    CHECK_EQ_INT(veil_quant_code_up(VEIL_QUANT_CODE_MAX_UNITS + 1, &code), -1);
    CHECK_EQ_INT(veil_quant_code_down(UINT64_MAX), 0xFFFF);

    const uint64_t gib = 1ull << 30;
    const uint64_t mem[] = {580 * gib, 1024 * gib, 16384 * gib, 32764 * gib};
    for (size_t i = 0; i < VEIL_ARRAY_LEN(mem); i++) {
        struct veil_telemetry_raw raw = {.memory_bytes = mem[i], .disk_bytes = 1ull << 50};
        struct veil_telemetry_q q;
        veil_telemetry_quantize_free(&raw, &q);
        /* these sizes are representable: read back exactly */
        CHECK_EQ_U64(veil_quant_code_value(q.res[VEIL_RES_MEMORY]) * VEIL_QUANT_MEMORY_BYTES,
                     mem[i]);
        CHECK_EQ_U64(veil_quant_code_value(q.res[VEIL_RES_DISK]) * VEIL_QUANT_DISK_BYTES,
                     1ull << 50);
        /* a job asking for all of it fits; 4 MiB more does not */
        struct veil_job_spec s = {.memory_bytes = mem[i], .disk_bytes = 1ull << 50};
        uint16_t req[VEIL_RES_COUNT];
        CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, NULL), 0);
        CHECK(req[VEIL_RES_MEMORY] <= q.res[VEIL_RES_MEMORY]);
        CHECK(req[VEIL_RES_DISK] <= q.res[VEIL_RES_DISK]);
        s.memory_bytes = mem[i] + (4ull << 20);
        if (veil_telemetry_quantize_request(&s, req, NULL) == 0)
            CHECK(req[VEIL_RES_MEMORY] > q.res[VEIL_RES_MEMORY]);
    }
    /* 580 GiB no longer reads as 256 GiB: a 300 GiB job fits it */
    struct veil_telemetry_raw raw = {.memory_bytes = 580 * gib};
    struct veil_telemetry_q q;
    veil_telemetry_quantize_free(&raw, &q);
    struct veil_job_spec s = {.memory_bytes = 300 * gib};
    uint16_t req[VEIL_RES_COUNT];
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, NULL), 0);
    CHECK(req[VEIL_RES_MEMORY] <= q.res[VEIL_RES_MEMORY]);
    /* beyond the code: refused with the maximum named */
    veil_err err = {0};
    s.memory_bytes = 32765 * gib;
    CHECK_EQ_INT(veil_telemetry_quantize_request(&s, req, &err), -1);
    CHECK_CONTAINS(err.msg, "32764Gi");
}

static void test_override(void)
{
    struct veil_telemetry_raw r;
    veil_err err = {0};
    CHECK_EQ_INT(
        veil_telemetry_test_override_parse(
            "cpu=2000m,memory=4Gi,disk=20Gi,gpu=1,region=eu-west,zone=3,priority=2", &r, &err),
        0);
    CHECK_EQ_U64(r.cpu_millis, 2000);
    CHECK_EQ_U64(r.memory_bytes, 4ull << 30);
    CHECK_EQ_U64(r.disk_bytes, 20ull << 30);
    CHECK_EQ_U64(r.gpus, 1);
    uint8_t code;
    CHECK_EQ_INT(veil_region_code("eu-west", &code), 0);
    CHECK_EQ_INT(r.region, code);
    CHECK_EQ_INT(r.zone, 3);
    CHECK_EQ_INT(r.priority, 2);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,memory=1Mi,region=7", &r, &err), 0);
    CHECK_EQ_INT(r.region, 7);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1", &r, &err), -1);
    CHECK_CONTAINS(err.msg, "cpu and memory are required");
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,memory=1,bogus=2", &r, &err), -1);
    CHECK_CONTAINS(err.msg, "unknown key 'bogus'");
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,memory=64Q", &r, &err), -1);
    CHECK_CONTAINS(err.msg, VEIL_TEST_ONLY_CAPACITY_ENV);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,cpu=2,memory=1", &r, &err), -1);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,memory=1,zone=0", &r, &err), -1);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu=1,memory=1,zone=256", &r, &err), -1);
    CHECK_EQ_INT(veil_telemetry_test_override_parse("cpu", &r, &err), -1);
}

static void test_live_sample(void)
{
    struct veil_cpu_sampler cpu = {0};
    struct veil_telemetry_raw labels = {.region = 1, .zone = 2, .priority = 3}, out;
    veil_err err = {0};
    int rc = veil_telemetry_sample(&cpu, "/tmp", &labels, 50, &out, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK(out.cpu_millis <= veil_cpu_capacity_millis());
    CHECK(veil_cpu_capacity_millis() >= 1);
    CHECK(out.memory_bytes > 0);
    CHECK(out.disk_bytes > 0);
    CHECK_EQ_INT(out.region, 1);
    CHECK_EQ_INT(out.priority, 3);
    /* Second sample uses the previous reading (no sleep needed). */
    CHECK_EQ_INT(veil_telemetry_sample(&cpu, "/tmp", NULL, 0, &out, &err), 0);
    CHECK_EQ_INT(veil_telemetry_sample(&cpu, "/nonexistent-veil-dir", NULL, 0, &out, &err), -1);
}

/* Latency words (format 2): 0.1 ms units rounded up, saturating below the
 * "unmeasured" code, which is larger than every measured value; the words
 * carry every slot; the override sets them in milliseconds. */
static void test_latency(void)
{
    CHECK_EQ_INT(veil_latency_quantize(0), VEIL_LATENCY_UNKNOWN);
    CHECK_EQ_INT(veil_latency_quantize(1), 1);
    CHECK_EQ_INT(veil_latency_quantize(100), 1);
    CHECK_EQ_INT(veil_latency_quantize(101), 2);
    CHECK_EQ_INT(veil_latency_quantize(409400), VEIL_LATENCY_MAX);
    CHECK_EQ_INT(veil_latency_quantize(409401), VEIL_LATENCY_MAX);
    CHECK_EQ_INT(veil_latency_quantize(UINT32_MAX), VEIL_LATENCY_MAX);
    CHECK(VEIL_LATENCY_UNKNOWN < (1u << VEIL_SCHED_LATENCY_BITS));
    uint16_t prev = 0;
    for (uint32_t us = 1; us < 500000; us += 37) { /* monotone */
        uint16_t q = veil_latency_quantize(us);
        CHECK(q >= prev && q <= VEIL_LATENCY_MAX);
        prev = q;
    }
    struct veil_telemetry_raw raw = {.cpu_millis = 1000, .rtt_us = {250, 0, 12000, 5000000}};
    struct veil_telemetry_q q, back;
    veil_telemetry_quantize_free(&raw, &q);
    CHECK_EQ_INT(q.latency[0], 3);
    CHECK_EQ_INT(q.latency[1], VEIL_LATENCY_UNKNOWN);
    CHECK_EQ_INT(q.latency[2], 120);
    CHECK_EQ_INT(q.latency[3], VEIL_LATENCY_MAX);
    uint16_t words[VEIL_TELEMETRY_WORDS];
    CHECK_EQ_INT(VEIL_TELEMETRY_WORDS, 11);
    veil_telemetry_to_words(&q, words);
    for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
        CHECK_EQ_INT(words[VEIL_TELEMETRY_WORD_LATENCY + s], q.latency[s]);
    veil_telemetry_from_words(words, &back);
    CHECK_EQ_MEM(&back, &q, sizeof q);

    struct veil_telemetry_raw r;
    veil_err err = {0};
    CHECK_EQ_INT(veil_telemetry_test_override_parse(
                     "cpu=1,memory=1Mi,latency0=12.5,latency3=0.05", &r, &err),
                 0);
    CHECK_EQ_INT(r.rtt_us[0], 12500);
    CHECK_EQ_INT(r.rtt_us[1], 0);
    CHECK_EQ_INT(r.rtt_us[3], 50);
    static const char *const bad[] = {
        "cpu=1,memory=1,latency4=3",          "cpu=1,memory=1,latency=3",
        "cpu=1,memory=1,latency0=0",          "cpu=1,memory=1,latency0=x",
        "cpu=1,memory=1,latency1=2,latency1=3", "cpu=1,memory=1,latency01=3",
        "cpu=1,memory=1,latency0=5000000",
    };
    for (size_t i = 0; i < VEIL_ARRAY_LEN(bad); i++) {
        CHECK_EQ_INT(veil_telemetry_test_override_parse(bad[i], &r, &err), -1);
        CHECK(strstr(err.msg, "latency") != NULL);
    }
}

VTEST_MAIN(VTEST(test_proc_parsers), VTEST(test_quantize), VTEST(test_wide_code),
           VTEST(test_override), VTEST(test_latency), VTEST(test_live_sample))
