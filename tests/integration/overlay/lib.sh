# SPDX-License-Identifier: Apache-2.0
# tests/integration/overlay/lib.sh - helpers of the veild-on-VeilNet tests
# (issue 16): two hosts in network namespaces joined only by an underlay
# link (no route between their LANs but the overlay), a private anvil in the
# first, a cluster created with `veil cluster init`, two nodes joined with
# `veil node join`, a Guardian (`veil guardian`) that certifies each node's
# libp2p key for realm r16, and veild started in each namespace with the
# overlay enabled. Everything is stopped and deleted on exit. Needs root.
source "${VEIL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}/tests/integration/chain/lib.sh"
VEILD=${VEILD_BIN:-$SRC/build/src/cmd/veild}
HERE=$SRC/tests/integration/overlay
NS=v16$$
WAN_1=10.199.0.1
WAN_2=10.199.0.2
RPC=http://$WAN_1:8545
OV_PIDS=()  # anvil, then veild 1 and 2 at indexes 1 and 2
GV_PIDS=()  # Master's nats-server and `veil guardian serve` (ov_guardian_serve)

ov_cleanup() {
  local rc=$?
  set +e
  local p
  if [ "$rc" -ne 0 ]; then
    for p in "$WORK"/n*/veild.log "$WORK/out/node.log"; do
      # without the periodic gossip, telemetry and DHT lines, which fill a plain tail
      [ -f "$p" ] && { echo "----- tail of $p -----" >&2
        grep -v 'sub=gossipsub\|msg="telemetry\|sub=kad' "$p" | tail -n 60 >&2; }
    done
  fi
  for p in "${OV_PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  for p in "${OV_PIDS[@]}"; do [ -n "$p" ] && wait "$p" 2>/dev/null; done
  for p in "${GV_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ov_containers_cleanup
  # OV_KEEP=DIR keeps the logs and state for a post-mortem.
  if [ -n "${OV_KEEP:-}" ]; then rm -rf "$OV_KEEP"; cp -r "$WORK" "$OV_KEEP"; fi
  [ -n "${OUT_PID:-}" ] && { kill "$OUT_PID" 2>/dev/null; wait "$OUT_PID" 2>/dev/null; }
  ip netns del "${NS}a" 2>/dev/null
  ip netns del "${NS}b" 2>/dev/null
  ip netns del "${NS}c" 2>/dev/null
  cleanup
  exit "$rc"
}
trap ov_cleanup EXIT

ov_require() {
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, TUN)"; exit 77; }
  [ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
}

# on I CMD...: runs CMD in host I's network namespace (nsenter, not `ip netns
# exec`: that one also remounts /sys, hiding the cgroup mounts runc needs).
on() { local i=$1; shift; nsenter --net="$(netns_of "$i")" "$@"; }
netns_of() { if [ "$1" = 1 ]; then echo "/run/netns/${NS}a"; else echo "/run/netns/${NS}b"; fi; }

# veil_on I ARGS...: the veil CLI against node I's API, in its namespace.
veil_on() { local i=$1; shift; on "$i" env VEIL_CONFIG="$WORK/n$i/veild.yaml" "$VEIL" "$@"; }

# Two hosts, one underlay link; each keeps IP forwarding off towards it.
ov_hosts() {
  ip netns add "${NS}a"
  ip netns add "${NS}b"
  ip link add wan0 netns "${NS}a" type veth peer name wan0 netns "${NS}b"
  on 1 ip addr add "$WAN_1/24" dev wan0
  on 2 ip addr add "$WAN_2/24" dev wan0
  for i in 1 2; do on "$i" ip link set wan0 up; on "$i" ip link set lo up; done
}

ov_anvil() {
  # (nsenter execs the program: $! is its pid, which the cleanup kills)
  nsenter --net="$(netns_of 1)" "$ANVIL" --host "$WAN_1" --port 8545 --silent \
    >"$WORK/anvil.log" 2>&1 &
  OV_PIDS+=($!)
  local deadline=$((SECONDS + 60))
  until on 1 "$CAST" chain-id --rpc-url "$RPC" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "anvil did not start: $(cat "$WORK/anvil.log")"
    sleep 0.2
  done
}

# The cluster (anvil key 0 deploys, keys 1 and 2 operate nodes 1 and 2;
# node 1 is the designated decryptor) and its two nodes.
ov_cluster() {
  export VEIL_KEYSTORE_PASSWORD=pw
  on 1 "$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" \
    --name ov --decryptor "$(addr_for 1)" --operator "$(addr_for 1)@org1" \
    --operator "$(addr_for 2)@org2" "$@" --json >"$WORK/init.json" \
    || fail "cluster init: $(cat "$WORK/init.json")"
  CONTRACT=$(json_get "$(cat "$WORK/init.json")" contract)
  CLUSTER=$(json_get "$(cat "$WORK/init.json")" cluster_id)
  local i wan extra
  for i in 1 2; do
    wan=$WAN_1; extra=(--client-key "$WORK/bundle/decryptor/client.key")
    [ "$i" = 2 ] && { wan=$WAN_2; extra=(); }
    on "$i" "$VEIL" node join "$WORK/bundle" -d "$WORK/n$i" --keystore "$(keystore_for "$i")" \
      --listen "/ip4/$wan/tcp/4001" --api-listen "127.0.0.1:7070" --organization "org$i" \
      --announce --json "${extra[@]}" >"$WORK/join$i.json" \
      || fail "node join $i: $(cat "$WORK/join$i.json")"
    eval "PEER_$i=$(json_get "$(cat "$WORK/join$i.json")" peer_id)"
  done
}

# Guardian certifies each node's libp2p key (the overlay identity) in r16.
ov_guardian() {
  local g=$WORK/guardian i pid
  "$VEIL" guardian init -d "$g" >/dev/null || fail "guardian init"
  "$VEIL" guardian realm create -d "$g" --cluster "$CLUSTER" r16 >/dev/null || fail "realm"
  for i in 1 2; do
    pid=PEER_$i
    "$HERE/pubkey_pem.py" "${!pid}" >"$WORK/n$i/overlay.pub.pem" || fail "pubkey of node $i"
    "$VEIL" guardian issue -d "$g" --realm r16 --name "n$i" -o "$WORK/n$i/nats.creds" >/dev/null \
      || fail "guardian issue n$i"
    "$VEIL" guardian cert -d "$g" --realm r16 --name "n$i" --pubkey "$WORK/n$i/overlay.pub.pem" \
      --ttl 1h -o "$WORK/n$i/overlay" >/dev/null || fail "guardian cert n$i"
    cat >>"$WORK/n$i/veild.yaml" <<YAML
overlay.enabled: true
overlay.realm: r16
overlay.cert_file: $WORK/n$i/overlay.crt
overlay.ca_file: $g/ca/root.crt
overlay.ipv4: 10.77.0.$i/16
overlay.listen: $([ "$i" = 1 ] && echo "$WAN_1" || echo "$WAN_2"):51820
YAML
  done
}

# Guardian admits the nodes by their on-chain registration (enrollment path
# (b)): realm r16 bound to the cluster, a Master (one nats-server from `veil
# master config`) and `veil guardian serve` on host 1's underlay address,
# checking the registry on the test's anvil. veild runs the Conflux agent in
# process (overlay.guardian_nats): no certificate file. Extra arguments go
# to `guardian serve` (e.g. --ttl 20s --cert-ttl 20s).
ov_guardian_serve() {
  local g=$WORK/guardian i
  "$VEIL" guardian init -d "$g" >/dev/null || fail "guardian init"
  "$VEIL" guardian realm create -d "$g" --cluster "$CLUSTER" r16 >/dev/null || fail "realm"
  "$VEIL" master config -d "$g" -o "$WORK/master" --clusters 1 --servers 1 --host "$WAN_1" \
    >/dev/null || fail "master config"
  nsenter --net="$(netns_of 1)" nats-server -c "$WORK/master/c0-s0.conf" >"$WORK/nats.log" 2>&1 &
  GV_PIDS+=($!)
  wait_for 30 "Master ready" grep -q "Server is ready" "$WORK/nats.log"
  nsenter --net="$(netns_of 1)" "$VEIL" guardian serve -d "$g" --chain-rpc "$RPC" \
    --contract "$CONTRACT" "$@" >"$WORK/guardian.log" 2>&1 &
  GV_PIDS+=($!)
  wait_for 30 "Guardian serving" grep -q "guardian: serving" "$WORK/guardian.log"
  for i in 1 2; do
    "$VEIL" guardian cmd -d "$g" --enroll-creds "$WORK/n$i/enroll.creds" >/dev/null \
      || fail "enrollment creds $i"
    cat >>"$WORK/n$i/veild.yaml" <<YAML
overlay.enabled: true
overlay.guardian_nats: $(cat "$g/master.servers")
overlay.ca_file: $g/ca/root.crt
overlay.enroll_creds: $WORK/n$i/enroll.creds
overlay.listen: $([ "$i" = 1 ] && echo "$WAN_1" || echo "$WAN_2"):51820
YAML
  done
}

# ov_addr I: node I's overlay address, from its overlay/status.json.
ov_addr() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ipv4"])' \
    "$WORK/n$1/overlay/status.json"
}

# ov_start I [env...]: veild of node I in its namespace.
ov_start() {
  local i=$1; shift
  nsenter --net="$(netns_of "$i")" env VEIL_TELEMETRY_INTERVAL=2s "$@" "$VEILD" \
    -c "$WORK/n$i/veild.yaml" -l debug >>"$WORK/n$i/veild.log" 2>&1 &
  OV_PIDS[$i]=$!
}

# The containers veild started (runc state under each node's data dir),
# their supervisors and mounts, and their network namespaces (named
# veil-<node tag>-<slot>, host-wide).
ov_containers_cleanup() {
  local id tag n
  # the runtime helpers are sourced once a registry exists (ov_registry)
  declare -F rt_reap >/dev/null && rt_reap "$WORK"/n*
  for n in "${PEER_1:-}" "${PEER_2:-}"; do
    [ -n "$n" ] || continue
    tag=${n: -8}
    for id in $(ip netns list | awk '{print $1}' | grep "^veil-$tag-"); do ip netns del "$id"; done
  done
  [ -n "${REG_PID:-}" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  [ -n "${RT_TMP:-}" ] && rm -rf "$RT_TMP"
  return 0
}

# A registry with busybox:1 that both hosts reach (on host 1's underlay
# address), built as the runtime tests build theirs (umoci, skopeo).
ov_registry() {
  source "$SRC/tests/integration/runtime/lib.sh"
  rt_setup
  trap ov_cleanup EXIT
  rt_image_busybox
  DIGEST=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$RT_REG/busybox:1")
  kill "$RT_REG_PID"; wait "$RT_REG_PID" 2>/dev/null || true; RT_REG_PID=
  sed -i "s|addr: .*|addr: $WAN_1:5000|" "$RT_TMP/registry.yml"
  nsenter --net="$(netns_of 1)" docker-registry serve "$RT_TMP/registry.yml" \
    >"$RT_TMP/registry.log" 2>&1 &
  REG_PID=$!
  REG=$WAN_1:5000
  local deadline=$((SECONDS + 30))
  until on 2 curl -fs "http://$REG/v2/" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "registry on $REG did not start"
    sleep 0.1
  done
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local t=$1 what=$2; shift 2
  local deadline=$((SECONDS + t)) i
  while [ $SECONDS -lt $deadline ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    for i in 1 2; do
      if [ -n "${OV_PIDS[$i]:-}" ] && ! kill -0 "${OV_PIDS[$i]}" 2>/dev/null; then
        fail "veild $i exited: $(tail -n 5 "$WORK/n$i/veild.log")"
      fi
    done
    sleep 0.5
  done
  fail "timed out after ${t}s waiting for: $what"
}

# fails_now CMD...: CMD fails three times in a row (no answer any more).
fails_now() { ! "$@" && ! "$@" && ! "$@"; }

# ping_ok I ADDR: one ICMP echo from host I's namespace is answered
# (Debian's ping is not installed here: the namespace tests' raw-socket one).
ping_ok() { on "$1" python3 "$SRC/tests/integration/net/icmp_ping.py" "$2" 1 0.05 1 >/dev/null 2>&1; }

# ---- a host outside the cluster (ov_outsider_*) ----
# ov_outsider_lan I: host c, outside the cluster, on node I's LAN (a veth
# to host I only, 10.198.0.0/24), routing the overlay pool, the containers'
# links and the underlay through host I - as a neighbour on a node's LAN
# could (veild turns forwarding on). OUT_NS is its namespace.
OUT_NS=${NS}c
ov_outsider_lan() {
  local i=$1 hostns
  hostns=$(basename "$(netns_of "$i")")
  ip netns add "$OUT_NS"
  ip link add lan0 netns "$OUT_NS" type veth peer name lan0 netns "$hostns"
  on "$i" ip addr add 10.198.0.1/24 dev lan0
  on "$i" ip link set lan0 up
  ip -n "$OUT_NS" addr add 10.198.0.2/24 dev lan0
  ip -n "$OUT_NS" link set lan0 up
  ip -n "$OUT_NS" link set lo up
  local r
  for r in 10.77.0.0/16 10.201.0.0/16 10.199.0.0/24; do
    ip -n "$OUT_NS" route add "$r" via 10.198.0.1
  done
}
# out CMD...: runs CMD on the outsider host.
out() { nsenter --net="/run/netns/$OUT_NS" "$@"; }

# ov_outsider_overlay I: the outsider runs VeilNet itself (overlay_node,
# its own key) with a genuine Guardian certificate of realm r16 for that
# key - enrolled with Guardian, but not a node of the cluster on chain - and
# declares node I (its identity, overlay address, underlay endpoint) as a
# peer. Its statistics: out_stats. Needs ov_outsider_lan (the underlay route
# to node I goes through its LAN) and the file-certificate Guardian.
ov_outsider_overlay() {
  local i=$1 g=$WORK/guardian pid key wan
  local node=${VEIL_BUILD_DIR:-$SRC/build}/tests/integration/net/overlay_node
  pid=PEER_$i
  wan=$([ "$i" = 1 ] && echo "$WAN_1" || echo "$WAN_2")
  mkdir -p "$WORK/out"
  "$node" --name outsider --pubkey-pem >"$WORK/out/pub.pem" || fail "outsider key"
  "$VEIL" guardian issue -d "$g" --realm r16 --name n3 -o "$WORK/out/nats.creds" >/dev/null \
    || fail "guardian issue n3"
  "$VEIL" guardian cert -d "$g" --realm r16 --name n3 --pubkey "$WORK/out/pub.pem" --ttl 1h \
    -o "$WORK/out/overlay" >/dev/null || fail "guardian cert n3"
  "$HERE/pubkey_pem.py" "${!pid}" >"$WORK/out/node.pem" || fail "node $i's key"
  key=$(openssl pkey -pubin -in "$WORK/out/node.pem" -outform DER | tail -c 32 | od -An -tx1 | tr -d ' \n')
  mkfifo "$WORK/out/cmd"
  # its overlay interface takes the pool's prefix from now on (not the LAN)
  ip -n "$OUT_NS" route del 10.77.0.0/16 via 10.198.0.1
  out "$node" --name outsider --realm r16 --ip 10.77.9.9/16 --bind 10.198.0.2 --port 51820 \
    --ifname vout0 --chain "$WORK/out/overlay.crt" --root "$g/ca/root.crt" \
    --peer "key:$key,10.77.0.$i,$wan,51820" <"$WORK/out/cmd" >"$WORK/out/node.log" 2>&1 &
  OUT_PID=$!
  exec {OUT_CMD}>"$WORK/out/cmd"
  wait_for 30 "the outsider's overlay is up" grep -q '^ready' "$WORK/out/node.log"
}
# out_stats KEY: one counter of the outsider's overlay (its last stats line).
out_stats() {
  local n deadline=$((SECONDS + 10))
  n=$(grep -c '^{' "$WORK/out/node.log" || true)
  echo stats >&"$OUT_CMD"
  while [ "$(grep -c '^{' "$WORK/out/node.log" || true)" -le "$n" ]; do
    [ $SECONDS -lt $deadline ] || fail "the outsider printed no stats: $(tail -n 5 "$WORK/out/node.log")"
    sleep 0.1
  done
  grep '^{' "$WORK/out/node.log" | tail -n 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
# auth_drops I: node I's count of refused handshakes (its last stats line).
auth_drops() {
  local v
  v=$(sed -n 's/.*msg="overlay stats".* drop_auth=\([0-9]*\).*/\1/p' "$WORK/n$1/veild.log" | tail -n 1)
  echo "${v:-0}"
}
