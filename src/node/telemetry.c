// SPDX-License-Identifier: Apache-2.0
/*
 * telemetry.c - sampling this node's free capacity (/proc/stat deltas scaled
 * by the CPU capacity the cgroup allows, /proc/meminfo MemAvailable, statvfs
 * of the data dir, /dev/nvidia<N> count), the latency words (RTT to the
 * cluster's landmarks, measured by daemon_latency.c), quantization to the 16-bit words
 * the FHE circuit computes on (units, the coarser-above-a-threshold code of
 * memory and disk and the saturation rule in veil/node.h), and
 * the TEST-ONLY fixed-capacity override used by end-to-end tests.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <veil/node.h>

#define PROC_READ_MAX (1u << 20)

static uint16_t quantize_down(uint64_t v, uint64_t unit)
{
    uint64_t q = v / unit;
    return q > VEIL_QUANT_MAX ? (uint16_t)VEIL_QUANT_MAX : (uint16_t)q;
}

/* ---- the wide code of memory and disk (node.h) ------------------------- */

uint64_t veil_quant_code_value(uint16_t code)
{
    if (code < VEIL_QUANT_LINEAR)
        return code;
    unsigned e = (unsigned)(code - VEIL_QUANT_LINEAR) >> VEIL_QUANT_MANT_BITS;
    uint64_t mant = (1u << VEIL_QUANT_MANT_BITS) + (code & ((1u << VEIL_QUANT_MANT_BITS) - 1));
    return mant << (e + 3);
}

uint16_t veil_quant_code_down(uint64_t units)
{
    if (units < VEIL_QUANT_LINEAR)
        return (uint16_t)units;
    if (units >= VEIL_QUANT_CODE_MAX_UNITS)
        return (uint16_t)VEIL_QUANT_MAX;
    unsigned log2 = 63u - (unsigned)__builtin_clzll(units); /* >= 15 */
    unsigned e = log2 - 15;                                 /* 0..7 */
    uint64_t mant = (units >> (e + 3)) - (1u << VEIL_QUANT_MANT_BITS);
    return (uint16_t)(VEIL_QUANT_LINEAR + (e << VEIL_QUANT_MANT_BITS) + mant);
}

int veil_quant_code_up(uint64_t units, uint16_t *code)
{
    if (units > VEIL_QUANT_CODE_MAX_UNITS)
        return -1;
    uint16_t c = veil_quant_code_down(units);
    if (veil_quant_code_value(c) < units)
        c++; /* units <= the largest value: never past 0xFFFF */
    *code = c;
    return 0;
}

void veil_telemetry_quantize_free(const struct veil_telemetry_raw *raw, struct veil_telemetry_q *q)
{
    memset(q, 0, sizeof *q);
    q->res[VEIL_RES_CPU] = quantize_down(raw->cpu_millis, VEIL_QUANT_CPU_MILLIS);
    q->res[VEIL_RES_MEMORY] = veil_quant_code_down(raw->memory_bytes / VEIL_QUANT_MEMORY_BYTES);
    q->res[VEIL_RES_DISK] = veil_quant_code_down(raw->disk_bytes / VEIL_QUANT_DISK_BYTES);
    q->res[VEIL_RES_GPU] =
        quantize_down(raw->gpus > VEIL_QUANT_GPU_MAX ? VEIL_QUANT_GPU_MAX : raw->gpus, 1);
    q->region = raw->region;
    q->zone = raw->zone;
    q->priority = raw->priority;
    for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
        q->latency[s] = veil_latency_quantize(raw->rtt_us[s]);
}

uint16_t veil_latency_quantize(uint32_t rtt_us)
{
    if (rtt_us == 0)
        return VEIL_LATENCY_UNKNOWN;
    uint32_t q = rtt_us / VEIL_LATENCY_UNIT_US + (rtt_us % VEIL_LATENCY_UNIT_US != 0);
    return (uint16_t)(q > VEIL_LATENCY_MAX ? VEIL_LATENCY_MAX : q);
}

void veil_telemetry_to_words(const struct veil_telemetry_q *q, uint16_t out[VEIL_TELEMETRY_WORDS])
{
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        out[r] = q->res[r];
    out[4] = q->region;
    out[5] = q->zone;
    out[6] = q->priority;
    for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
        out[VEIL_TELEMETRY_WORD_LATENCY + s] = q->latency[s];
}

void veil_telemetry_from_words(const uint16_t in[VEIL_TELEMETRY_WORDS], struct veil_telemetry_q *q)
{
    for (int r = 0; r < VEIL_RES_COUNT; r++)
        q->res[r] = in[r];
    q->region = in[4];
    q->zone = in[5];
    q->priority = in[6];
    for (int s = 0; s < VEIL_LATENCY_SLOTS; s++)
        q->latency[s] = in[VEIL_TELEMETRY_WORD_LATENCY + s];
}

static int quantize_up(uint64_t v, uint64_t unit, const char *field, const char *max_text,
                       uint16_t *out, veil_err *err)
{
    uint64_t q = v / unit + (v % unit != 0);
    if (q > VEIL_QUANT_MAX)
        return veil_err_set(err, VEIL_E_RANGE,
                            "resources.%s: %llu exceeds the schedulable maximum (%s)", field,
                            (unsigned long long)v, max_text);
    *out = (uint16_t)q;
    return 0;
}

/* A request of memory or disk as a wide code, rounded up. */
static int code_up(uint64_t v, uint64_t unit, const char *field, const char *max_text,
                   uint16_t *out, veil_err *err)
{
    uint64_t units = v / unit + (v % unit != 0);
    if (veil_quant_code_up(units, out) != 0)
        return veil_err_set(err, VEIL_E_RANGE,
                            "resources.%s: %llu exceeds the schedulable maximum (%s)", field,
                            (unsigned long long)v, max_text);
    return 0;
}

int veil_telemetry_quantize_request(const struct veil_job_spec *spec, uint16_t req[VEIL_RES_COUNT],
                                    veil_err *err)
{
    if (quantize_up(spec->cpu_millis, VEIL_QUANT_CPU_MILLIS, "cpu", "655350m", &req[VEIL_RES_CPU],
                    err) != 0 ||
        code_up(spec->memory_bytes, VEIL_QUANT_MEMORY_BYTES, "memory", "32764Gi",
                &req[VEIL_RES_MEMORY], err) != 0 ||
        code_up(spec->disk_bytes, VEIL_QUANT_DISK_BYTES, "disk", "8387584Gi", &req[VEIL_RES_DISK],
                err) != 0 ||
        quantize_up(spec->gpus, 1, "gpu", "65535", &req[VEIL_RES_GPU], err) != 0)
        return -1;
    return 0;
}

int veil_proc_stat_parse(const char *text, uint64_t *idle, uint64_t *total, veil_err *err)
{
    /* proc(5): "cpu  user nice system idle iowait irq softirq steal guest
     * guest_nice"; guest time is already included in user/nice. */
    if (strncmp(text, "cpu ", 4) != 0)
        return veil_err_set(err, VEIL_E_PARSE, "/proc/stat: no aggregate cpu line");
    const char *p = text + 4;
    uint64_t f[10] = {0};
    int n = 0;
    while (n < 10) {
        while (*p == ' ')
            p++;
        if (*p < '0' || *p > '9')
            break;
        uint64_t v = 0;
        for (; *p >= '0' && *p <= '9'; p++)
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
                return veil_err_set(err, VEIL_E_RANGE, "/proc/stat: counter overflows");
        f[n++] = v;
    }
    if (n < 4)
        return veil_err_set(err, VEIL_E_PARSE, "/proc/stat: cpu line has %d fields", n);
    uint64_t t = 0;
    for (int i = 0; i < 8 && i < n; i++) /* user..steal */
        if (__builtin_add_overflow(t, f[i], &t))
            return veil_err_set(err, VEIL_E_RANGE, "/proc/stat: counter overflows");
    *idle = f[3] + (n > 4 ? f[4] : 0);
    *total = t;
    return 0;
}

int veil_meminfo_parse(const char *text, uint64_t *available_bytes, veil_err *err)
{
    const char *p = text;
    while (p && *p) {
        if (strncmp(p, "MemAvailable:", 13) == 0) {
            p += 13;
            while (*p == ' ')
                p++;
            uint64_t kib = 0;
            if (*p < '0' || *p > '9')
                break;
            for (; *p >= '0' && *p <= '9'; p++)
                if (__builtin_mul_overflow(kib, 10, &kib) ||
                    __builtin_add_overflow(kib, (uint64_t)(*p - '0'), &kib))
                    return veil_err_set(err, VEIL_E_RANGE, "/proc/meminfo: value overflows");
            if (strncmp(p, " kB", 3) != 0)
                break;
            if (__builtin_mul_overflow(kib, 1024, available_bytes))
                return veil_err_set(err, VEIL_E_RANGE, "/proc/meminfo: value overflows");
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return veil_err_set(err, VEIL_E_PARSE, "/proc/meminfo: no MemAvailable line");
}

static bool read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0;
}

uint64_t veil_cpu_capacity_millis(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t cap = (uint64_t)(online > 0 ? online : 1) * 1000;
    char buf[128];
    /* cgroup v2: "max 100000" or "<quota> <period>" */
    if (read_small("/sys/fs/cgroup/cpu.max", buf, sizeof buf)) {
        long long quota, period;
        if (sscanf(buf, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0) {
            uint64_t lim = (uint64_t)quota * 1000 / (uint64_t)period;
            if (lim < cap)
                cap = lim;
        }
        return cap;
    }
    /* cgroup v1: cpu.cfs_quota_us = -1 when unlimited */
    char q[64], pr[64];
    if (read_small("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", q, sizeof q) &&
        read_small("/sys/fs/cgroup/cpu/cpu.cfs_period_us", pr, sizeof pr)) {
        long long quota = atoll(q), period = atoll(pr);
        if (quota > 0 && period > 0) {
            uint64_t lim = (uint64_t)quota * 1000 / (uint64_t)period;
            if (lim < cap)
                cap = lim;
        }
    }
    return cap;
}

/* /proc files report size 0, so veil_file_read (which trusts st_size) does
 * not fit: read until EOF, up to a cap. */
static int read_proc_file(const char *path, char **out, veil_err *err)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return veil_err_set(err, VEIL_E_IO, "cannot open %s", path);
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
    }
    for (;;) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0 || len < cap)
            break;
        if (cap >= PROC_READ_MAX)
            break; /* only the first lines matter; the rest is ignored */
        char *bigger = realloc(buf, cap * 2 + 1);
        if (!bigger) {
            free(buf);
            fclose(f);
            return veil_err_set(err, VEIL_E_NOMEM, "out of memory");
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    return 0;
}

static int read_proc_stat(uint64_t *idle, uint64_t *total, veil_err *err)
{
    char *data;
    if (read_proc_file("/proc/stat", &data, err) != 0)
        return -1;
    int rc = veil_proc_stat_parse((const char *)data, idle, total, err);
    free(data);
    return rc;
}

static unsigned count_nvidia_gpus(void)
{
    DIR *d = opendir("/dev");
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        /* /dev/nvidia0, /dev/nvidia1, ... (not nvidiactl, nvidia-uvm) */
        const char *s = e->d_name;
        if (strncmp(s, "nvidia", 6) == 0 && s[6] >= '0' && s[6] <= '9' &&
            strspn(s + 6, "0123456789") == strlen(s + 6))
            n++;
    }
    closedir(d);
    return n;
}

int veil_telemetry_sample(struct veil_cpu_sampler *cpu, const char *data_dir,
                          const struct veil_telemetry_raw *labels, unsigned first_gap_ms,
                          struct veil_telemetry_raw *out, veil_err *err)
{
    memset(out, 0, sizeof *out);
    uint64_t idle, total;
    if (!cpu->primed) {
        if (read_proc_stat(&cpu->last_idle, &cpu->last_total, err) != 0)
            return -1;
        cpu->primed = true;
        struct timespec ts = {.tv_sec = first_gap_ms / 1000,
                              .tv_nsec = (long)(first_gap_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (read_proc_stat(&idle, &total, err) != 0)
        return -1;
    uint64_t d_idle = idle >= cpu->last_idle ? idle - cpu->last_idle : 0;
    uint64_t d_total = total >= cpu->last_total ? total - cpu->last_total : 0;
    cpu->last_idle = idle;
    cpu->last_total = total;
    uint64_t capacity = veil_cpu_capacity_millis();
    /* No ticks elapsed: report nothing free rather than guess. */
    out->cpu_millis = d_total ? capacity * (d_idle > d_total ? d_total : d_idle) / d_total : 0;

    char *data;
    if (read_proc_file("/proc/meminfo", &data, err) != 0)
        return -1;
    int rc = veil_meminfo_parse((const char *)data, &out->memory_bytes, err);
    free(data);
    if (rc != 0)
        return -1;

    struct statvfs sv;
    if (statvfs(data_dir, &sv) != 0)
        return veil_err_set(err, VEIL_E_IO, "statvfs %s failed", data_dir);
    out->disk_bytes = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    out->gpus = count_nvidia_gpus();
    if (labels) {
        out->region = labels->region;
        out->zone = labels->zone;
        out->priority = labels->priority;
    }
    return 0;
}

/* "latencyN=MS" (N a landmark slot, MS milliseconds > 0, e.g. 12.5): 1 when
 * `key` is such a key (stored, or -1 with err), 0 when it is not. */
static int override_latency(const char *key, const char *val, bool seen[VEIL_LATENCY_SLOTS],
                            struct veil_telemetry_raw *out, veil_err *err)
{
    if (strncmp(key, "latency", 7) != 0)
        return 0;
    const char *n = key + 7;
    if (n[0] < '0' || n[0] >= '0' + VEIL_LATENCY_SLOTS || n[1] != '\0')
        return veil_err_set(err, VEIL_E_INVALID, "%s: '%s' is not latency0..latency%d",
                            VEIL_TEST_ONLY_CAPACITY_ENV, key, VEIL_LATENCY_SLOTS - 1);
    int slot = n[0] - '0';
    if (seen[slot])
        return veil_err_set(err, VEIL_E_INVALID, "%s: '%s' given twice",
                            VEIL_TEST_ONLY_CAPACITY_ENV, key);
    seen[slot] = true;
    veil_err qerr = {0};
    uint64_t us;
    if (veil_quantity_parse(val, -3, &us, &qerr) != 0)
        return veil_err_set(err, VEIL_E_INVALID, "%s: %s: \"%s\": %s",
                            VEIL_TEST_ONLY_CAPACITY_ENV, key, val, qerr.msg);
    if (us == 0 || us > UINT32_MAX)
        return veil_err_set(err, VEIL_E_INVALID, "%s: %s: %s ms is not a round-trip time",
                            VEIL_TEST_ONLY_CAPACITY_ENV, key, val);
    out->rtt_us[slot] = (uint32_t)us;
    return 1;
}

int veil_telemetry_test_override_parse(const char *text, struct veil_telemetry_raw *out,
                                       veil_err *err)
{
    memset(out, 0, sizeof *out);
    if (!text || strlen(text) > 512)
        return veil_err_set(err, VEIL_E_INVALID, "%s: missing or too long",
                            VEIL_TEST_ONLY_CAPACITY_ENV);
    char buf[513];
    snprintf(buf, sizeof buf, "%s", text);
    bool seen[7] = {false}, seen_latency[VEIL_LATENCY_SLOTS] = {false};
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq)
            return veil_err_set(err, VEIL_E_INVALID, "%s: '%s' is not KEY=VALUE",
                                VEIL_TEST_ONLY_CAPACITY_ENV, item);
        *eq = '\0';
        const char *key = item, *val = eq + 1;
        int lat = override_latency(key, val, seen_latency, out, err);
        if (lat < 0)
            return -1;
        if (lat > 0)
            continue;
        static const char *const keys[] = {"cpu",    "memory", "disk",    "gpu",
                                           "region", "zone",   "priority"};
        int k = -1;
        for (int i = 0; i < 7; i++)
            if (strcmp(key, keys[i]) == 0)
                k = i;
        if (k < 0)
            return veil_err_set(err, VEIL_E_INVALID,
                                "%s: unknown key '%s' (cpu, memory, disk, gpu, region, zone, "
                                "priority, latency0..latency3)",
                                VEIL_TEST_ONLY_CAPACITY_ENV, key);
        if (seen[k])
            return veil_err_set(err, VEIL_E_INVALID, "%s: '%s' given twice",
                                VEIL_TEST_ONLY_CAPACITY_ENV, key);
        seen[k] = true;
        veil_err qerr = {0};
        uint64_t v;
        if (k == 4) {
            uint8_t code;
            if (veil_region_code(val, &code) == 0) {
                out->region = code;
                continue;
            }
        }
        if (veil_quantity_parse(val, k == 0 ? -3 : 0, &v, &qerr) != 0)
            return veil_err_set(err, VEIL_E_INVALID, "%s: %s: \"%s\": %s",
                                VEIL_TEST_ONLY_CAPACITY_ENV, key, val, qerr.msg);
        if (k >= 4 && (v > VEIL_LABEL_MAX || (k != 6 && v == 0)))
            return veil_err_set(err, VEIL_E_INVALID, "%s: %s: %s is not a label code (1..%d)",
                                VEIL_TEST_ONLY_CAPACITY_ENV, key, val, VEIL_LABEL_MAX);
        switch (k) {
        case 0:
            out->cpu_millis = v;
            break;
        case 1:
            out->memory_bytes = v;
            break;
        case 2:
            out->disk_bytes = v;
            break;
        case 3:
            out->gpus = v;
            break;
        case 4:
            out->region = (uint8_t)v;
            break;
        case 5:
            out->zone = (uint8_t)v;
            break;
        default:
            out->priority = (uint8_t)v;
            break;
        }
    }
    if (!seen[0] || !seen[1])
        return veil_err_set(err, VEIL_E_INVALID, "%s: cpu and memory are required",
                            VEIL_TEST_ONLY_CAPACITY_ENV);
    return 0;
}
