#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_runtime_docker.sh - the Docker Engine API driver against podman's
# Docker-compatible service on a unix socket in a temp dir (no Docker engine
# can run here): pull from the local registry, run, output, exit code,
# memory limit. podman gets its own storage, registries.conf (our registry
# marked insecure) and containers.conf (default ulimits the sandbox allows).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
VEIL=${VEIL_BIN:?VEIL_BIN must point at the veil binary}
command -v podman >/dev/null || { echo "test_runtime_docker: podman is not installed" >&2; exit 1; }

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

PODMAN_PID=""
PM=""
docker_cleanup() {
    local rc=$?
    if [ -n "$PM" ]; then
        [ -n "$PODMAN_PID" ] && kill "$PODMAN_PID" 2>/dev/null && wait "$PODMAN_PID" 2>/dev/null
        podman --root "$PM/root" --runroot "$PM/run" --tmpdir "$PM/tmp" rm -af >/dev/null 2>&1 || true
        podman --root "$PM/root" --runroot "$PM/run" --tmpdir "$PM/tmp" system reset -f >/dev/null 2>&1 || true
    fi
    (exit $rc)
    rt_cleanup
}

rt_setup
trap docker_cleanup EXIT
rt_image_busybox
PM="$RT_TMP/podman"
mkdir -p "$PM"
printf 'unqualified-search-registries = []\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$RT_REG" > "$PM/registries.conf"
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' > "$PM/containers.conf"
# The service (and the conmon processes it starts) leave files such as 'oom'
# in their working directory: keep them inside the test's own directory.
(cd "$PM" && exec env CONTAINERS_CONF="$PM/containers.conf" CONTAINERS_REGISTRIES_CONF="$PM/registries.conf" \
    podman --root "$PM/root" --runroot "$PM/run" --tmpdir "$PM/tmp" --log-level=error \
    system service --time=0 "unix://$PM/docker.sock" >"$PM/service.log" 2>&1) &
PODMAN_PID=$!
for _ in $(seq 1 100); do
    curl -fs --unix-socket "$PM/docker.sock" http://localhost/v1.41/version >/dev/null 2>&1 && break
    sleep 0.05
done
export VEIL_DOCKER_SOCKET="$PM/docker.sock"

out=$("$VEIL" run "$RT_REG/busybox:1" -- echo hello-from-engine)
check "run through the Engine API prints the output" test "$out" = hello-from-engine
set +e
"$VEIL" run "$RT_REG/busybox:1" -- sh -c 'echo o; echo e >&2; exit 7' >"$RT_TMP/o" 2>"$RT_TMP/e"
rc=$?
set -e
check "exit code through the Engine API" test "$rc" = 7
check "stdout/stderr demultiplexed" sh -c "grep -qx o '$RT_TMP/o' && grep -qx e '$RT_TMP/e'"
set +e
"$VEIL" run --memory 16m "$RT_REG/busybox:1" -- dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null
rc=$?
set -e
check "memory limit enforced by the engine (killed, 137)" test "$rc" = 137
name="dd-$(basename "$RT_TMP" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
id=$("$VEIL" run -d --name "$name" "$RT_REG/busybox:1" -- sh -c 'trap "exit 0" TERM; while true; do echo tick; sleep 0.2; done')
check "detached run returns the engine's container id" test ${#id} -ge 12
check "the engine runs it" sh -c "curl -fs --unix-socket '$PM/docker.sock' http://localhost/v1.41/containers/$id/json | grep -q '\"Running\":true'"
check "veil ps lists it through the engine" sh -c "'$VEIL' ps | grep -q '$name.*running'"
sleep 0.5
check "veil logs reads it through the engine" sh -c "'$VEIL' logs '$name' | grep -q tick"
"$VEIL" stop -t 5s "$name" >/dev/null
check "veil stop stops it" sh -c "curl -fs --unix-socket '$PM/docker.sock' http://localhost/v1.41/containers/$id/json | grep -q '\"Running\":false'"
check "ps -a shows it exited" sh -c "'$VEIL' ps -a --json | grep -A6 '$name' | grep -q exited"
"$VEIL" rm "$name" >/dev/null
check "veil rm removes it" sh -c "! '$VEIL' ps -a | grep -q '$name'"

if [ "$fails" -gt 0 ]; then
    echo "test_runtime_docker: $fails checks failed" >&2
    exit 1
fi
echo "test_runtime_docker: all checks passed"
