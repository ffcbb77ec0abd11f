#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_runtime.sh - the container runtime end to end against a real
# docker-registry on 127.0.0.1: pulls by tag and digest, multi-arch index,
# layered image with whiteouts, corrupted blob refused, malicious layers
# contained, run/exit codes, OOM kill, pids limit, detach/ps/logs/stop from
# fresh CLI processes, a supervisor crash, restart policy, rm and gc.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

VEIL=${VEIL_BIN:?VEIL_BIN must point at the veil binary}
[ "$(id -u)" = 0 ] || { echo "test_runtime: needs root (runc, overlayfs, cgroups)" >&2; exit 1; }

fails=0
pass() { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

rt_setup
RUN_ID=$(basename "$RT_TMP" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
export VEIL_DATA_DIR="$RT_TMP/data"
rt_image_busybox
rt_image_layered
rt_image_multiarch
pass "test images built and pushed to $RT_REG"

# --- pulls ---------------------------------------------------------------
out=$("$VEIL" image pull -q --json "$RT_REG/busybox:1")
digest=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
check "pull by tag" test -n "$digest"
check "image ls lists it" sh -c "'$VEIL' image ls | grep -q '$RT_REG/busybox:1'"
D2="$RT_TMP/data-digest"
"$VEIL" image pull -q --data-dir "$D2" "$RT_REG/busybox@$digest" >/dev/null
check "pull by digest" sh -c "'$VEIL' image ls --data-dir '$D2' --json | grep -q 'busybox@$digest'"
check "pull with a wrong digest is refused" \
    sh -c "! '$VEIL' image pull -q --data-dir '$D2' '$RT_REG/busybox@sha256:$(printf x | sha256sum | cut -c1-64)' 2>/dev/null"

out=$("$VEIL" run --name "arch-$RUN_ID" "$RT_REG/multiarch:1" -- cat /arch)
check "multi-arch index: linux/amd64 selected" test "$out" = amd64

out=$("$VEIL" run "$RT_REG/layered:1" -- sh -c 'ls /data; ls /opq')
check "whiteout removes data/gone, keeps data/keep" sh -c "printf '%s' '$out' | grep -q keep && ! printf '%s' '$out' | grep -q gone"
check "opaque dir hides opq/old, shows opq/new" sh -c "printf '%s' '$out' | grep -q new && ! printf '%s' '$out' | grep -q old"

# --- concurrent pulls into one store, crash leftovers -----------------------
D6="$RT_TMP/data-concurrent"
pids=()
for k in 1 2 3 4; do
    "$VEIL" image pull -q --data-dir "$D6" "$RT_REG/layered:1" >/dev/null 2>"$RT_TMP/conc$k.err" &
    pids+=($!)
done
conc_ok=1
for p in "${pids[@]}"; do wait "$p" || conc_ok=0; done
check "four concurrent pulls of one image all succeed" test "$conc_ok" = 1
check "no temp files left by concurrent pulls" sh -c "! find '$D6/images' -name '.tmp-*' | grep -q ."
check "the image is recorded once" test "$(grep -c '"name"' "$D6/images/index.json")" = 1
out=$("$VEIL" run --data-dir "$D6" "$RT_REG/layered:1" -- cat /data/keep)
check "and runs" test "$out" = keep
# A crash mid-download / mid-unpack leaves temp names behind: gc removes them.
echo partial > "$D6/images/blobs/sha256/.tmp-deadbeef-0123"
mkdir -p "$D6/images/layers/.tmp-deadbeef-4567/usr"
"$VEIL" image gc --data-dir "$D6" >/dev/null
check "gc removes crash leftovers" sh -c "! find '$D6/images' -name '.tmp-*' | grep -q ."
out=$("$VEIL" run --data-dir "$D6" "$RT_REG/layered:1" -- cat /data/keep)
check "and keeps what the image needs" test "$out" = keep

# --- interrupted downloads resume with Range ------------------------------
PROXY_PORT=$(rt_free_port)
python3 "$here/flaky_proxy.py" "$PROXY_PORT" "$RT_REG" > "$RT_TMP/proxy.log" 2>&1 &
PROXY_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PROXY_PORT/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
D5="$RT_TMP/data-resume"
check "pull through a connection that drops mid-blob succeeds" \
    sh -c "VEIL_INSECURE_REGISTRIES=127.0.0.1:$PROXY_PORT '$VEIL' image pull -q --data-dir '$D5' 127.0.0.1:$PROXY_PORT/busybox:1 >/dev/null 2>'$RT_TMP/resume.err'"
check "it resumed with a Range request" grep -q "range bytes=[1-9]" "$RT_TMP/proxy.log"
out=$("$VEIL" run --data-dir "$D5" "127.0.0.1:$PROXY_PORT/busybox:1" -- echo resumed-ok 2>/dev/null)
check "the resumed image runs" test "$out" = resumed-ok
kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true

# --- registry with anonymous bearer tokens ---------------------------------
rt_start_token_registry
D7="$RT_TMP/data-token"
check "pull through the anonymous bearer-token flow" \
    sh -c "VEIL_INSECURE_REGISTRIES=$RT_TOKEN_REG '$VEIL' image pull -q --data-dir '$D7' '$RT_TOKEN_REG/busybox:1' >/dev/null"
check "the token asked for pull on that repository" grep -q "scope=repository:busybox:pull" "$RT_TMP/token.log"

# --- registry with Basic auth (credentials from a Docker config.json) ------
rt_start_auth_registry
skopeo copy -q --dest-tls-verify=false --dest-creds "veil:$RT_AUTH_PASS" \
    "oci:$RT_TMP/oci-busybox:1" "docker://$RT_AUTH_REG/private:1" >/dev/null
D4="$RT_TMP/data-auth"
if err=$("$VEIL" image pull -q --data-dir "$D4" "$RT_AUTH_REG/private:1" 2>&1); then
    fail "pull without credentials accepted"
else
    check "pull without credentials refused, pointing at registry.auth_file" \
        sh -c "printf '%s' \"\$1\" | grep -q 'registry.auth_file'" _ "$err"
fi
printf '{"auths":{"%s":{"auth":"%s"}}}' "$RT_AUTH_REG" "$(printf 'veil:%s' "$RT_AUTH_PASS" | base64 -w0)" > "$RT_TMP/auth.json"
chmod 600 "$RT_TMP/auth.json"
check "pull with credentials from the auth file" \
    sh -c "VEIL_REGISTRY_AUTH_FILE='$RT_TMP/auth.json' '$VEIL' image pull -q --data-dir '$D4' '$RT_AUTH_REG/private:1' >/dev/null"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$RT_AUTH_REG" "$(printf 'veil:wrong' | base64 -w0)" > "$RT_TMP/bad-auth.json"
check "wrong password refused" sh -c "! VEIL_REGISTRY_AUTH_FILE='$RT_TMP/bad-auth.json' '$VEIL' image pull -q --data-dir '$RT_TMP/data-auth2' '$RT_AUTH_REG/private:1' 2>/dev/null"

out=$(VEIL_RUNTIME_FORCE_COPY=1 "$VEIL" run --name "copy-$RUN_ID" "$RT_REG/layered:1" -- sh -c 'ls /data; ls /opq')
check "copy fallback (no overlayfs) applies whiteouts and opaque dirs too" \
    sh -c "printf '%s' '$out' | grep -q keep && ! printf '%s' '$out' | grep -qE 'gone|old' && printf '%s' '$out' | grep -q new"
check "that container's rootfs was a copy" \
    sh -c "grep -l '\"copy-$RUN_ID\"' '$VEIL_DATA_DIR'/containers/*/state.json | xargs grep -q '\"rootfs_mode\": \"copy\"'"

# --- corrupted blob ------------------------------------------------------
rt_image_raw corrupt:1 'add_file("payload", os.urandom(4096))'
manifest=$(curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$RT_REG/v2/corrupt/manifests/1")
layer=$(printf '%s' "$manifest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
datafile="$RT_TMP/registry/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data"
python3 - "$datafile" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
D3="$RT_TMP/data-corrupt"
if err=$("$VEIL" image pull -q --data-dir "$D3" "$RT_REG/corrupt:1" 2>&1); then
    fail "corrupted blob accepted"
else
    check "corrupted blob refused with a digest error" sh -c "printf '%s' \"\$1\" | grep -q 'digest'" _ "$err"
fi
check "nothing stored for the corrupted blob" \
    sh -c "! ls -A '$D3/images/blobs/sha256' | grep -q '$layer' && [ -z \"\$(ls -A '$D3/images/layers')\" ] && ! grep -q corrupt '$D3/images/index.json' 2>/dev/null"

# --- malicious layers ----------------------------------------------------
outside="$RT_TMP/outside"
mkdir -p "$outside"
rt_image_raw evil-dotdot:1 "add_file('../../../../../../..$outside/dotdot', b'x')"
check "layer with ../ refused" sh -c "! '$VEIL' image pull -q '$RT_REG/evil-dotdot:1' 2>/dev/null"
rt_image_raw evil-links:1 "
add_symlink('abs', '/')
add_file('abs/etc/via-abs', b'x')
add_symlink('rel', '../../../../../../../../..')
add_file('rel/via-rel', b'x')
add_file('$outside/absolute-name', b'x')
add_dir('d')
add_symlink('d/up', '../../..')
add_file('d/up/via-up', b'x')
add_symlink('out', '$outside')
add_symlink('out', '/etc')
add_file('out', b'replaced-not-followed')"
"$VEIL" image pull -q "$RT_REG/evil-links:1" >/dev/null
check "symlinked/absolute layer entries wrote nothing outside" test -z "$(ls -A "$outside")"
check "nothing escaped to the host's / or /etc" sh -c "[ ! -e /via-up ] && [ ! -e /via-rel ] && [ ! -e /etc/via-abs ] && [ ! -e /out ]"
layerdir=$(dirname "$(find "$VEIL_DATA_DIR/images/layers" -mindepth 2 -maxdepth 2 -name via-up | head -1)")
check "those entries landed inside the layer's own root" \
    sh -c "[ -n '$layerdir' ] && [ -f '$layerdir/via-rel' ] && [ -f '$layerdir/etc/via-abs' ] && [ -f '$layerdir$outside/absolute-name' ] && [ -f '$layerdir/out' ]"
rt_image_raw evil-hardlink:1 "add_hardlink('hl', '../../../../etc/passwd')"
check "hard link with ../ refused" sh -c "! '$VEIL' image pull -q '$RT_REG/evil-hardlink:1' 2>/dev/null"
rt_image_raw evil-hardlink2:1 "add_hardlink('hl', '/etc/passwd')"
"$VEIL" image pull -q "$RT_REG/evil-hardlink2:1" >/dev/null 2>&1 || true
check "absolute hard link never reaches the host's /etc/passwd" \
    test "$(stat -c %h /etc/passwd)" = 1

# --- run -----------------------------------------------------------------
out=$("$VEIL" run "$RT_REG/busybox:1" -- echo hello)
check "veil run prints the output" test "$out" = hello
set +e
"$VEIL" run "$RT_REG/busybox:1" -- sh -c 'echo to-out; echo to-err >&2; exit 3' >"$RT_TMP/o" 2>"$RT_TMP/e"
rc=$?
set -e
check "exit code passed through" test "$rc" = 3
check "stdout and stderr kept apart" sh -c "grep -q to-out '$RT_TMP/o' && grep -q to-err '$RT_TMP/e' && ! grep -q to-err '$RT_TMP/o'"
out=$("$VEIL" run -e GREETING=hi -w /tmp --user nobody "$RT_REG/busybox:1" -- sh -c 'echo $GREETING $(pwd) $(id -u)')
check "env, workdir and user applied" test "$out" = "hi /tmp 65534"

set +e
"$VEIL" run --name "oom-$RUN_ID" --memory 16m "$RT_REG/busybox:1" -- dd if=/dev/zero of=/dev/null bs=64M count=1 2>"$RT_TMP/oom.err"
rc=$?
set -e
check "memory hog killed (exit 137)" test "$rc" = 137
check "reported as OOM-killed" grep -q "OOM-killed" "$RT_TMP/oom.err"
check "ps -a shows oom_killed" sh -c "'$VEIL' ps -a --json | python3 -c 'import json,sys; print([c for c in json.load(sys.stdin) if c[\"name\"]==\"oom-$RUN_ID\"][0][\"oom_killed\"])' | grep -q True"

out=$("$VEIL" run --pids 8 "$RT_REG/busybox:1" -- sh -c 'i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i+1)); done 2>&1; echo started' 2>&1 || true)
check "--pids limit holds (fork refused)" sh -c "printf '%s' \"\$1\" | grep -q \"can't fork\"" _ "$out"

# cgroup v1: cpu/cpu.cfs_quota_us; v2: cpu.max ("50000 100000")
out=$("$VEIL" run --cpus 0.5 "$RT_REG/busybox:1" -- sh -c 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max')
check "--cpus sets the CFS quota" sh -c "printf '%s' '$out' | grep -qE '^50000( 100000)?$'"

# --- detached, a fresh CLI finds it, logs, stop ----------------------------
name="svc-$RUN_ID"
id=$("$VEIL" run -d --name "$name" "$RT_REG/busybox:1" -- sh -c 'trap "echo bye; exit 0" TERM; while true; do echo tick; sleep 0.1; done')
check "detached run prints an id" test ${#id} = 32
check "new CLI process sees it running" sh -c "'$VEIL' ps | grep -q '$name.*running'"
check "runc runs it" sh -c "runc --root '$VEIL_DATA_DIR/runc' state '$id' | grep -q running"
sleep 0.4
check "logs show its output" sh -c "'$VEIL' logs '$name' | grep -q tick"
check "rootfs is an overlay mount" grep -q "$VEIL_DATA_DIR/containers/$id/bundle/rootfs" /proc/mounts
"$VEIL" stop -t 5s "$name" >/dev/null
check "stop: status stopped" sh -c "'$VEIL' ps -a --json | grep -A5 '\"$id\"' | grep -q stopped"
check "stop: got SIGTERM (graceful)" sh -c "'$VEIL' logs '$name' | grep -q bye"
check "stop: runc state gone" sh -c "! runc --root '$VEIL_DATA_DIR/runc' state '$id' >/dev/null 2>&1"
check "stop: overlay unmounted" sh -c "! grep -q '$id' /proc/mounts"
check "stop: cgroups removed" sh -c "[ ! -d /sys/fs/cgroup/memory/veil/$id ] && [ ! -d /sys/fs/cgroup/pids/veil/$id ]"

# The supervisor dies (as if the node crashed): the container still runs,
# and a new CLI finds it through runc's state and can stop it.
name2="crash-$RUN_ID"
id2=$("$VEIL" run -d --name "$name2" "$RT_REG/busybox:1" -- sleep 1000)
sup=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["supervisor_pid"])' "$VEIL_DATA_DIR/containers/$id2/state.json")
kill -9 "$sup"
sleep 0.2
check "after a supervisor crash ps still shows it running" sh -c "'$VEIL' ps | grep -q '$name2.*running'"
"$VEIL" stop -t 1s "$name2" >/dev/null
check "and stop cleans it up" sh -c "! runc --root '$VEIL_DATA_DIR/runc' state '$id2' >/dev/null 2>&1 && ! grep -q '$id2' /proc/mounts"

# --- logs: rotation and follow ------------------------------------------
name3="logs-$RUN_ID"
"$VEIL" run --name "$name3" --log-max-size 1k "$RT_REG/busybox:1" -- \
    sh -c 'i=0; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); done' >/dev/null
id3=$("$VEIL" ps -a --json | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['name']=='$name3'][0])")
cdir="$VEIL_DATA_DIR/containers/$id3"
check "stdout log rotated at --log-max-size" test -f "$cdir/stdout.log.1"
check "no log file grows past the limit" sh -c "[ \$(stat -c %s '$cdir/stdout.log') -le 1024 ] && [ \$(stat -c %s '$cdir/stdout.log.1') -le 1024 ]"
check "old rotations are dropped" test ! -e "$cdir/stdout.log.3"
out=$("$VEIL" logs "$name3")
check "logs prints the newest lines, oldest first" sh -c "printf '%s\n' \"\$1\" | tail -1 | grep -qx line-599 && ! printf '%s\n' \"\$1\" | grep -qx line-0" _ "$out"
name4="follow-$RUN_ID"
"$VEIL" run -d --name "$name4" "$RT_REG/busybox:1" -- sh -c 'for i in 1 2 3 4 5; do echo f-$i; sleep 0.2; done' >/dev/null
out=$(timeout 20 "$VEIL" logs -f "$name4")
check "logs -f follows until the container ends" sh -c "printf '%s\n' \"\$1\" | grep -qx f-5 && [ \$(printf '%s\n' \"\$1\" | grep -c f-) = 5 ]" _ "$out"

# crun is selectable (it may be missing, or refuse hybrid cgroups: then the
# error must name it rather than silently using runc).
out=$(VEIL_RUNTIME=crun "$VEIL" run "$RT_REG/busybox:1" -- echo via-crun 2>&1 || true)
check "runtime.engine=crun is used" sh -c "printf '%s' \"\$1\" | grep -qE '^via-crun$|crun'" _ "$out"

# --- attached run interrupted: TERM to veil stops the container ------------
name6="attached-$RUN_ID"
"$VEIL" run --name "$name6" "$RT_REG/busybox:1" -- sleep 100 >/dev/null 2>&1 &
vpid=$!
for _ in $(seq 1 100); do "$VEIL" ps | grep -q "$name6.*running" && break; sleep 0.05; done
kill -TERM "$vpid"          # pid 1 ignores TERM ...
sleep 0.5
kill -TERM "$vpid" 2>/dev/null || true   # ... the second one kills
set +e
wait "$vpid"
rc=$?
set -e
check "attached run stops on TERM/TERM (exit 137)" test "$rc" = 137
check "and leaves nothing running" sh -c "'$VEIL' ps -a | grep '$name6' | grep -q stopped && ! grep -q \"\$('$VEIL' ps -a --json | python3 -c \"import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['name']=='$name6'][0])\")\" /proc/mounts"

# --- restart policy ------------------------------------------------------
set +e
out=$("$VEIL" run --name "rs-$RUN_ID" --restart on-failure:2 "$RT_REG/busybox:1" -- sh -c 'echo try; exit 4')
rc=$?
set -e
check "on-failure:2 runs three times" test "$(printf '%s\n' "$out" | grep -c try)" = 3
check "final exit code kept" test "$rc" = 4

name5="always-$RUN_ID"
"$VEIL" run -d --name "$name5" --restart always "$RT_REG/busybox:1" -- sh -c 'echo run; exit 1' >/dev/null || true
sleep 1.5
restarts=$("$VEIL" ps -a --json | python3 -c "import json,sys; print([c['restarts'] for c in json.load(sys.stdin) if c['name']=='$name5'][0])")
check "restart always keeps restarting (with backoff)" sh -c "[ '$restarts' -ge 2 ] && [ '$restarts' -le 12 ]"
"$VEIL" stop -t 1s "$name5" >/dev/null
sleep 0.5
after=$("$VEIL" ps -a --json | python3 -c "import json,sys; c=[c for c in json.load(sys.stdin) if c['name']=='$name5'][0]; print(c['status'], c['restarts'])")
sleep 0.7
again=$("$VEIL" ps -a --json | python3 -c "import json,sys; c=[c for c in json.load(sys.stdin) if c['name']=='$name5'][0]; print(c['status'], c['restarts'])")
check "stop ends the restart loop" sh -c "[ '$after' = '$again' ] && printf '%s' '$after' | grep -q '^stopped'"

# --- rm, gc --------------------------------------------------------------
"$VEIL" rm "$name" "$name2" >/dev/null
check "rm deletes the container" sh -c "[ ! -d '$VEIL_DATA_DIR/containers/$id' ] && ! '$VEIL' ps -a | grep -q '$name'"
for c in $("$VEIL" ps -a --json | python3 -c 'import json,sys; print(" ".join(c["id"] for c in json.load(sys.stdin)))'); do
    "$VEIL" rm -f "$c" >/dev/null
done
"$VEIL" image rm "$RT_REG/layered:1" >/dev/null
before=$(ls "$VEIL_DATA_DIR/images/layers" | wc -l)
"$VEIL" image gc --json > "$RT_TMP/gc.json"
after=$(ls "$VEIL_DATA_DIR/images/layers" | wc -l)
check "gc removes the layers only the removed image used" test "$after" -lt "$before"
out=$("$VEIL" run "$RT_REG/busybox:1" -- echo still-works)
check "images still in use survive gc" test "$out" = still-works
# A running container pins its layers even once its image name is gone.
name7="pin-$RUN_ID"
"$VEIL" run -d --name "$name7" "$RT_REG/multiarch:1" -- sleep 100 >/dev/null
"$VEIL" image rm "$RT_REG/multiarch:1" >/dev/null
"$VEIL" image gc >/dev/null
out=$("$VEIL" ps --json | python3 -c "import json,sys; print([c['status'] for c in json.load(sys.stdin) if c['name']=='$name7'][0])")
id7=$("$VEIL" ps --json | python3 -c "import json,sys; print([c['id'] for c in json.load(sys.stdin) if c['name']=='$name7'][0])")
check "gc keeps the layers of a running container whose image was removed" \
    python3 -c "
import json, os, sys
st = json.load(open('$VEIL_DATA_DIR/containers/$id7/state.json'))
ok = '$out' == 'running' and st['layers'] and all(
    os.path.isdir('$VEIL_DATA_DIR/images/layers/' + d[7:]) for d in st['layers'])
sys.exit(0 if ok else 1)"
"$VEIL" rm -f "$name7" >/dev/null

if [ "$fails" -gt 0 ]; then
    echo "test_runtime: $fails checks failed" >&2
    exit 1
fi
echo "test_runtime: all checks passed"
