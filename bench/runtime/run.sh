#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/runtime/run.sh - container runtime benchmarks, one JSON line each:
#  1. pull + unpack of a ~100 MB, 5-layer image from a local docker-registry:
#     `veil image pull` vs `skopeo copy` + `umoci unpack`, same run, same image;
#  2. container start (create -> process running): `veil run -d` vs plain
#     `runc run -d` on the same bundle (config.json and rootfs).
# Medians of several runs; needs root. VEIL_BUILD_DIR picks the build.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${VEIL_BUILD_DIR:-$src/build}
VEIL="$build/src/cmd/veil"
PULL_RUNS=${PULL_RUNS:-3}
START_RUNS=${START_RUNS:-10}
# shellcheck source=../../tests/integration/runtime/lib.sh
. "$src/tests/integration/runtime/lib.sh"
rt_setup >&2

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# --- the image: busybox + 4 layers of 25 x 1 MiB incompressible files ------
lay="$RT_TMP/oci-big" root="$RT_TMP/rootfs-big"
rt_busybox_rootfs "$root"
umoci init --layout "$lay" >&2
umoci new --image "$lay:1" >&2
umoci insert --image "$lay:1" "$root" / >&2
for l in 1 2 3 4; do
    d="$RT_TMP/big$l/data$l"
    mkdir -p "$d"
    for f in $(seq 1 25); do head -c 1048576 /dev/urandom > "$d/f$f"; done
    umoci insert --image "$lay:1" "$RT_TMP/big$l" / >&2
done
umoci config --image "$lay:1" --config.cmd /bin/sh --os linux --architecture amd64 >&2
rt_push "$lay" 1 big:1
size=$(du -sb "$lay/blobs" | cut -f1)

veil_ms=()
for i in $(seq 1 "$PULL_RUNS"); do
    d="$RT_TMP/pull-veil-$i"
    t0=$(now_ns)
    "$VEIL" image pull -q --data-dir "$d" "$RT_REG/big:1" >/dev/null
    t1=$(now_ns)
    veil_ms+=($(( (t1 - t0) / 1000000 )))
    rm -rf "$d"
done
ref_ms=()
for i in $(seq 1 "$PULL_RUNS"); do
    d="$RT_TMP/pull-ref-$i"
    mkdir -p "$d"
    t0=$(now_ns)
    skopeo copy -q --src-tls-verify=false "docker://$RT_REG/big:1" "oci:$d/layout:1" >/dev/null
    umoci unpack --image "$d/layout:1" "$d/bundle" >/dev/null 2>&1
    t1=$(now_ns)
    ref_ms+=($(( (t1 - t0) / 1000000 )))
    rm -rf "$d"
done
vm=$(printf '%s\n' "${veil_ms[@]}" | median)
rm_=$(printf '%s\n' "${ref_ms[@]}" | median)
printf '{"bench":"runtime_pull_unpack","image_bytes":%s,"layers":5,"runs":%s,"veil_ms":%s,"skopeo_umoci_ms":%s,"veil_runs_ms":[%s],"skopeo_umoci_runs_ms":[%s]}\n' \
    "$size" "$PULL_RUNS" "$vm" "$rm_" "$(IFS=,; echo "${veil_ms[*]}")" "$(IFS=,; echo "${ref_ms[*]}")"

# --- container start ------------------------------------------------------
rt_image_busybox >/dev/null 2>&1
export VEIL_DATA_DIR="$RT_TMP/data"
"$VEIL" image pull -q "$RT_REG/busybox:1" >/dev/null
"$VEIL" run "$RT_REG/busybox:1" -- true  # warm caches
# The same bundle for plain runc: veil's config.json, the image's rootfs.
id=$("$VEIL" run -d --name bench-proto "$RT_REG/busybox:1" -- sleep 1000)
"$VEIL" stop -t 0s bench-proto >/dev/null
bundle="$RT_TMP/runc-bundle"
mkdir -p "$bundle/rootfs"
cp "$VEIL_DATA_DIR/containers/$id/bundle/config.json" "$bundle/config.json"
cp -a "$VEIL_DATA_DIR/images/layers/"*/. "$bundle/rootfs/"
sed -i "s|\"/veil/$id\"|\"/veil-bench/runc\"|" "$bundle/config.json"
"$VEIL" rm bench-proto >/dev/null
rroot="$RT_TMP/runc-root"
# Interleaved, so that load from other work on the machine hits both alike.
start_veil=()
start_runc=()
inproc=()
for i in $(seq 1 "$START_RUNS"); do
    t0=$(now_ns)
    VEIL_LOG=debug "$VEIL" run -d --name "bench-$i" "$RT_REG/busybox:1" -- sleep 1000 \
        >/dev/null 2>"$RT_TMP/trace"
    t1=$(now_ns)
    start_veil+=($(( (t1 - t0) / 1000 )))
    # In-process create -> running (without the CLI's own exec and loading).
    inproc+=($(awk -F't_ms=' '/step=begin/ {b=$2} /step=running/ {r=$2} END {printf "%d", (r-b)*1000}' "$RT_TMP/trace"))
    "$VEIL" rm -f "bench-$i" >/dev/null
    sleep 0.1
    t0=$(now_ns)
    runc --root "$rroot" run -d --bundle "$bundle" "bench-runc-$i" </dev/null >/dev/null 2>&1
    t1=$(now_ns)
    start_runc+=($(( (t1 - t0) / 1000 )))
    runc --root "$rroot" delete -f "bench-runc-$i" >/dev/null 2>&1
    sleep 0.1
done
# runc leaves the empty parent cgroup of the bundle's cgroupsPath behind.
for c in /sys/fs/cgroup/*/veil-bench; do rmdir "$c" 2>/dev/null || true; done
sv=$(printf '%s\n' "${start_veil[@]}" | median)
si=$(printf '%s\n' "${inproc[@]}" | median)
sr=$(printf '%s\n' "${start_runc[@]}" | median)
ms() { awk -v v="$1" 'BEGIN{printf "%.1f", v/1000}'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", (a-b)/1000}'; }
printf '{"bench":"runtime_container_start","runs":%s,"veil_run_detach_ms":%s,"veil_create_to_running_ms":%s,"runc_run_detach_ms":%s,"difference_cli_ms":%s,"difference_create_to_running_ms":%s,"load_average":"%s"}\n' \
    "$START_RUNS" "$(ms "$sv")" "$(ms "$si")" "$(ms "$sr")" "$(diff_ms "$sv" "$sr")" "$(diff_ms "$si" "$sr")" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
