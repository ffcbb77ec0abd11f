#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_cgroup_v2.sh - the runtime on a cgroup v2 host, in a mount namespace
# of its own with cgroup2 mounted on /sys/fs/cgroup: a container with a
# memory limit is OOM-killed (exit 137, read from memory.events), pids.max
# and cpu.max hold the limits, and stop removes /sys/fs/cgroup/veil/<id>.
#
# It needs the memory and pids controllers on the unified hierarchy. A host
# that binds them to cgroup v1 hierarchies (as this project's CI machine
# does: there a fresh cgroup2 mount lists only "hugetlb" in
# cgroup.controllers, and a controller cannot be on both) cannot give them
# to cgroup2, so the test reports exactly that and is skipped (exit 77).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SKIP=77

if [ "${VEIL_CGV2_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "test_cgroup_v2: needs root (mount namespace, runc)" >&2; exit 1; }
    probe=$(mktemp -d)
    ctrls=$(unshare -m --propagation private sh -c \
        "mount -t cgroup2 none '$probe' && cat '$probe/cgroup.controllers'; umount '$probe' 2>/dev/null" ||
        echo "MOUNT-FAILED")
    rmdir "$probe"
    missing=()
    for c in memory pids; do
        case " $ctrls " in *" $c "*) ;; *) missing+=("$c") ;; esac
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "SKIP: cgroup v2 cannot be exercised on this host: a cgroup2 mount offers" \
             "controllers '${ctrls}', missing: ${missing[*]}"
        echo "      (they are bound to cgroup v1 hierarchies here:" \
             "$(grep -E ':(memory|pids):' /proc/self/cgroup | tr '\n' ' '))"
        exit $SKIP
    fi
    exec unshare -m --propagation private env VEIL_CGV2_INNER=1 bash "$0" "$@"
fi

# Inside the namespace: the unified hierarchy on /sys/fs/cgroup.
mount -t cgroup2 none /sys/fs/cgroup
echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
# shellcheck source=lib.sh
. "$here/lib.sh"
VEIL=${VEIL_BIN:?VEIL_BIN must point at the veil binary}
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what" >&2; fails=$((fails + 1)); fi; }

rt_setup
RUN_ID=$(basename "$RT_TMP" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
export VEIL_DATA_DIR="$RT_TMP/data"
rt_image_busybox

rc=0
"$VEIL" run --name "oom-$RUN_ID" --memory 16m "$RT_REG/busybox:1" -- \
    dd if=/dev/zero of=/dev/null bs=64M count=1 2>"$RT_TMP/oom.err" || rc=$?
check "v2: memory hog killed (exit 137)" test "$rc" = 137
check "v2: reported as OOM-killed (memory.events)" grep -q "OOM-killed" "$RT_TMP/oom.err"

out=$("$VEIL" run --pids 8 "$RT_REG/busybox:1" -- \
    sh -c 'i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo started' 2>&1 || true)
check "v2: --pids limit holds (fork refused, pids.max)" sh -c "printf '%s' \"\$1\" | grep -q \"can't fork\"" _ "$out"
out=$("$VEIL" run --cpus 0.5 "$RT_REG/busybox:1" -- cat /sys/fs/cgroup/cpu.max 2>&1 || true)
check "v2: --cpus sets cpu.max" sh -c "printf '%s' '$out' | grep -qE '^50000 100000$'"

id=$("$VEIL" run -d --name "stop-$RUN_ID" "$RT_REG/busybox:1" -- sleep 60)
check "v2: container cgroup exists" test -d "/sys/fs/cgroup/veil/$id"
"$VEIL" stop "$id" >/dev/null
check "v2: stop removes the cgroup" sh -c "[ ! -d /sys/fs/cgroup/veil/$id ]"
[ "$fails" = 0 ] && echo PASS || exit 1
