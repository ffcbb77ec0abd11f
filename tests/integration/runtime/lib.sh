# SPDX-License-Identifier: Apache-2.0
# lib.sh - shared by the runtime's integration test and benchmark: a
# throw-away docker-registry on 127.0.0.1 and test images built from
# busybox-static with umoci, pushed with skopeo. Source it, then call
# rt_setup (which installs the cleanup trap).
#
# Everything lives under one temp dir ($RT_TMP); cleanup kills the registry,
# force-deletes every runc container under our data dirs, unmounts overlays
# and removes the temp dir, also when a test fails.

RT_TMP=""
RT_REG_PID=""
RT_AUTH_PID=""
RT_TOKEN_PIDS=""
RT_PORT=""
RT_REG=""

# rt_reap DIR...: what a node whose data dir is DIR left running: every runc
# container under DIR/runc force-deleted, the supervisors its state files
# name killed (only a veil process), and every mount under DIR unmounted
# (lazily, deepest first). Used by every suite that runs containers.
rt_reap() {
    local dir root id st sp m
    for dir in "$@"; do
        [ -d "$dir" ] || continue
        for root in "$dir"/runc; do
            [ -d "$root" ] || continue
            for id in $(runc --root "$root" list -q 2>/dev/null); do
                runc --root "$root" delete -f "$id" >/dev/null 2>&1
            done
        done
        for st in "$dir"/containers/*/state.json; do
            [ -f "$st" ] || continue
            sp=$(sed -n 's/.*"supervisor_pid": *\([0-9][0-9]*\).*/\1/p' "$st")
            # only a process of this data dir (its veild's -c path or --data-dir in
            # the command line, or VEIL_DATA_DIR): a pid reused by another test's
            # veil process is left alone (chaos s9: a CI veild was killed so)
            if [ -n "$sp" ] && [ "$sp" -gt 1 ] &&
                grep -qaF -- "$dir" "/proc/$sp/cmdline" "/proc/$sp/environ" 2>/dev/null; then
                kill -9 "$sp" 2>/dev/null
            fi
        done
        grep " $dir/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null
        done
    done
    return 0
}

rt_cleanup() {
    local rc=$?
    set +e
    if [ -n "$RT_TMP" ] && [ -d "$RT_TMP" ]; then
        rt_reap "$RT_TMP"/*
    fi
    local p
    for p in $RT_REG_PID $RT_AUTH_PID $RT_TOKEN_PIDS; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$RT_TMP" ] && rm -rf "$RT_TMP"
    exit $rc
}

rt_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

rt_setup() {
    for tool in docker-registry umoci skopeo runc busybox python3 curl; do
        command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
    done
    RT_TMP=$(mktemp -d /tmp/veil-rt.XXXXXX)
    trap rt_cleanup EXIT
    trap 'exit 130' INT TERM
    RT_PORT=$(rt_free_port)
    RT_REG="127.0.0.1:$RT_PORT"
    mkdir -p "$RT_TMP/registry"
    cat > "$RT_TMP/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RT_TMP/registry
  delete:
    enabled: true
http:
  addr: $RT_REG
YML
    docker-registry serve "$RT_TMP/registry.yml" >"$RT_TMP/registry.log" 2>&1 &
    RT_REG_PID=$!
    for _ in $(seq 1 100); do
        curl -fs "http://$RT_REG/v2/" >/dev/null 2>&1 && break
        sleep 0.05
    done
    curl -fs "http://$RT_REG/v2/" >/dev/null || { echo "registry did not start" >&2; cat "$RT_TMP/registry.log" >&2; exit 1; }
    export VEIL_INSECURE_REGISTRIES="$RT_REG"
}

# A second registry that wants HTTP Basic auth (htpasswd, bcrypt) for user
# "veil", password in $RT_AUTH_PASS; sets RT_AUTH_REG.
rt_start_auth_registry() {
    local port
    port=$(rt_free_port)
    RT_AUTH_REG="127.0.0.1:$port"
    RT_AUTH_PASS="pw-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    mkdir -p "$RT_TMP/registry-auth"
    python3 -c 'import crypt,sys; print("veil:" + crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
        "$RT_AUTH_PASS" 2>/dev/null > "$RT_TMP/htpasswd"
    cat > "$RT_TMP/registry-auth.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RT_TMP/registry-auth
auth:
  htpasswd:
    realm: veil-test
    path: $RT_TMP/htpasswd
http:
  addr: $RT_AUTH_REG
YML
    docker-registry serve "$RT_TMP/registry-auth.yml" >"$RT_TMP/registry-auth.log" 2>&1 &
    RT_AUTH_PID=$!
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$RT_AUTH_REG/v2/")" = 401 ] && break
        sleep 0.05
    done
    export VEIL_INSECURE_REGISTRIES="$RT_REG,$RT_AUTH_REG"
}

# A registry in `auth: token` mode over the same storage as $RT_REG, with
# an anonymous token server (token_server.py); sets RT_TOKEN_REG.
rt_start_token_registry() {
    local tport rport here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    tport=$(rt_free_port)
    rport=$(rt_free_port)
    RT_TOKEN_REG="127.0.0.1:$rport"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$RT_TMP/token.key" -out "$RT_TMP/token.crt" \
        -days 1 -subj /CN=veil-test-token >/dev/null 2>&1
    openssl x509 -in "$RT_TMP/token.crt" -outform der -out "$RT_TMP/token.der"
    python3 "$here/token_server.py" "$tport" "$RT_TMP/token.key" "$RT_TMP/token.der" veil-test-issuer \
        >"$RT_TMP/token.log" 2>&1 &
    RT_TOKEN_PIDS="$RT_TOKEN_PIDS $!"
    cat > "$RT_TMP/registry-token.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $RT_TMP/registry
auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: veil-test
    issuer: veil-test-issuer
    rootcertbundle: $RT_TMP/token.crt
http:
  addr: $RT_TOKEN_REG
YML
    docker-registry serve "$RT_TMP/registry-token.yml" >"$RT_TMP/registry-token.log" 2>&1 &
    RT_TOKEN_PIDS="$RT_TOKEN_PIDS $!"
    for _ in $(seq 1 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$RT_TOKEN_REG/v2/")" = 401 ] &&
            curl -fs "http://127.0.0.1:$tport/token?service=x" >/dev/null 2>&1 && break
        sleep 0.05
    done
}

# A busybox-static root filesystem with the applets as symlinks.
rt_busybox_rootfs() {
    local dir=$1
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev"
    cp /usr/bin/busybox "$dir/bin/busybox"
    for a in $(busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$dir/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
}

rt_push() { # rt_push LAYOUT TAG NAME:TAG
    skopeo copy -q --dest-tls-verify=false "oci:$1:$2" "docker://$RT_REG/$3" >/dev/null
}

# busybox:1 - one layer.
rt_image_busybox() {
    local lay="$RT_TMP/oci-busybox" root="$RT_TMP/rootfs-busybox"
    rt_busybox_rootfs "$root"
    umoci init --layout "$lay"
    umoci new --image "$lay:1"
    umoci insert --image "$lay:1" "$root" /
    umoci config --image "$lay:1" --config.cmd /bin/sh --config.env PATH=/bin --os linux --architecture amd64
    rt_push "$lay" 1 busybox:1
}

# layered:1 - three layers: busybox; data (keep, gone, opq/old); a layer that
# whites out data/gone and makes opq opaque with only opq/new.
rt_image_layered() {
    local lay="$RT_TMP/oci-layered" root="$RT_TMP/rootfs-layered"
    rt_busybox_rootfs "$root"
    mkdir -p "$RT_TMP/l2/data" "$RT_TMP/l2/opq" "$RT_TMP/l3opq"
    echo keep > "$RT_TMP/l2/data/keep"
    echo gone > "$RT_TMP/l2/data/gone"
    echo old > "$RT_TMP/l2/opq/old"
    echo new > "$RT_TMP/l3opq/new"
    umoci init --layout "$lay"
    umoci new --image "$lay:1"
    umoci insert --image "$lay:1" "$root" /
    umoci insert --image "$lay:1" "$RT_TMP/l2" /
    umoci insert --image "$lay:1" --whiteout /data/gone
    umoci insert --image "$lay:1" --opaque "$RT_TMP/l3opq" /opq
    umoci config --image "$lay:1" --config.cmd /bin/sh --config.env PATH=/bin --os linux --architecture amd64
    rt_push "$lay" 1 layered:1
}

# multiarch:1 - an OCI index listing an arm64 image first, then amd64; each
# has /arch naming its platform.
rt_image_multiarch() {
    local lay="$RT_TMP/oci-multi" root="$RT_TMP/rootfs-multi"
    rt_busybox_rootfs "$root"
    umoci init --layout "$lay"
    for arch in arm64 amd64; do
        umoci new --image "$lay:$arch"
        umoci insert --image "$lay:$arch" "$root" /
        mkdir -p "$RT_TMP/arch-$arch" && echo "$arch" > "$RT_TMP/arch-$arch/arch"
        # a directory, not a single file: umoci 0.4.7 writes single-file
        # inserts as a tar without its padding and end blocks
        umoci insert --image "$lay:$arch" "$RT_TMP/arch-$arch" /
        umoci config --image "$lay:$arch" --config.cmd /bin/sh --config.env PATH=/bin --os linux --architecture "$arch"
        rt_push "$lay" "$arch" "multiarch:$arch"
    done
    python3 - "$RT_REG" <<'PY'
import hashlib, json, sys, urllib.request
reg = sys.argv[1]
accept = "application/vnd.oci.image.manifest.v1+json"
entries = []
for arch in ("arm64", "amd64"):
    req = urllib.request.Request(f"http://{reg}/v2/multiarch/manifests/{arch}", headers={"Accept": accept})
    body = urllib.request.urlopen(req).read()
    entries.append({"mediaType": accept, "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                    "size": len(body), "platform": {"os": "linux", "architecture": arch}})
index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                    "manifests": entries}).encode()
req = urllib.request.Request(f"http://{reg}/v2/multiarch/manifests/1", data=index, method="PUT",
                             headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
urllib.request.urlopen(req).read()
PY
}

# An OCI layout from hand-made tar layers (what umoci refuses to build):
# rt_image_raw NAME:TAG PYTHON-SNIPPET-ADDING-ENTRIES (gets `tar`, `add_file`,
# `add_symlink`, `add_dir`).
rt_image_raw() {
    local name=$1 snippet=$2 lay="$RT_TMP/oci-raw-${1%%:*}"
    python3 - "$lay" "$snippet" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
lay, snippet = sys.argv[1], sys.argv[2]
os.makedirs(lay + "/blobs/sha256", exist_ok=True)
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{lay}/blobs/sha256/{d}", "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
    def add_file(name, data, mode=0o644):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode
        tar.addfile(ti, io.BytesIO(data))
    def add_symlink(name, target):
        ti = tarfile.TarInfo(name); ti.type = tarfile.SYMTYPE; ti.linkname = target
        tar.addfile(ti)
    def add_hardlink(name, target):
        ti = tarfile.TarInfo(name); ti.type = tarfile.LNKTYPE; ti.linkname = target
        tar.addfile(ti)
    def add_dir(name):
        ti = tarfile.TarInfo(name); ti.type = tarfile.DIRTYPE; ti.mode = 0o755
        tar.addfile(ti)
    exec(snippet)
diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
layer = blob(gzip.compress(raw.getvalue()))
layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
config = blob(json.dumps({"architecture": "amd64", "os": "linux",
                          "config": {"Cmd": ["/bin/sh"]},
                          "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = blob(json.dumps({"schemaVersion": 2,
                            "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": config, "layers": [layer]}).encode())
manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
manifest["annotations"] = {"org.opencontainers.image.ref.name": "1"}
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(lay + "/index.json", "w"))
open(lay + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
    rt_push "$lay" 1 "$name"
}
