#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/net/overlay_replicas.sh - issue 16's figures: throughput (iperf3, one
# TCP stream, 5 s) and latency (TCP request/response, 64 bytes, median of
# 2000) between two replicas of one job placed by the cluster on two veild
# nodes, over VeilNet (container namespace -> node (NAT) -> TUN -> Anchor ->
# underlay veth -> node -> container), against the same transfer over the
# plain underlay veth between the two hosts. The same two-namespace cluster
# as tests/integration/overlay (anvil, Guardian, FHE placement), so it takes
# a few minutes of setup. Needs root. Prints JSON lines, with the CPU time
# both veild processes used during the overlay run and the load average.
#   sudo VEIL_BIN=build/src/cmd/veil VEILD_BIN=build/src/cmd/veild bench/net/overlay_replicas.sh
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export VEIL_SOURCE_DIR=$SRC
source "$SRC/tests/integration/overlay/lib.sh"
ov_require
command -v iperf3 >/dev/null || { echo "SKIP: no iperf3"; exit 77; }
ov_hosts
ov_registry
ov_anvil
ov_cluster
ov_guardian
CAPS=("" "cpu=2000m,memory=2Gi,disk=20Gi,gpu=0" "cpu=4000m,memory=4Gi,disk=20Gi,gpu=0")
for i in 1 2; do
  ov_start "$i" "VEIL_TEST_ONLY_CAPACITY=${CAPS[$i]}" VEIL_INSECURE_REGISTRIES="$REG"
done
has_epochs() {
  veil_on "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === 2 && rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);'
}
for i in 1 2; do wait_for 120 "node $i has everyone's telemetry" has_epochs "$i"; done
cat >"$WORK/perf.yaml" <<YAML
name: perf
image: $REG/busybox@$DIGEST
replicas: 2
policy: spread
resources: {cpu: 100m, memory: 32Mi}
expose:
  - port: 5201
  - port: 7000
command: [/bin/sleep, "900"]
YAML
veil_on 1 job run "$WORK/perf.yaml" >/dev/null || fail "job run"
netns_of_replica() { # R -> the replica's network namespace (from its node's log)
  sed -n "s/.*msg=\"container on the overlay\" job=[0-9a-f]* replica=$1 netns=\([^ ]*\).*/\1/p" \
    "$WORK"/n*/veild.log | tail -n 1
}
both_up() { [ -n "$(netns_of_replica 0)" ] && [ -n "$(netns_of_replica 1)" ]; }
wait_for 300 "both replicas on the overlay" both_up
SRV_NS=/run/netns/$(netns_of_replica 0)
CLI_NS=/run/netns/$(netns_of_replica 1)
addr_of_0() {
  local f
  for f in "$WORK"/n*/overlay/status.json; do
    [ -f "$f" ] && node -e '
      const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const r = s.replicas.find(x => x.name.startsWith("0.perf."));
      if (r) console.log(r.ipv4);' "$f" && return 0
  done
}
wait_for 30 "replica 0's overlay address" test -n "$(addr_of_0)"
SRV_IP=$(addr_of_0)
sleep 3 # rules applied on the next overlay tick

RR='
import socket, statistics, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "serve":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); c, _ = s.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        d = c.recv(64)
        if not d: break
        c.sendall(d)
else:
    c = socket.create_connection((host, port), timeout=10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    for _ in range(2000):
        t = time.perf_counter(); c.sendall(b"x" * 64); n = 0
        while n < 64: n += len(c.recv(64 - n))
        rtts.append((time.perf_counter() - t) * 1e6)
    print(round(statistics.median(rtts), 1))
'
cpu_of() { # the CPU seconds (user + system) of both veild processes so far
  local t=0 p
  for p in "${OV_PIDS[1]}" "${OV_PIDS[2]}"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
measure() { # NAME SERVER_NS SERVER_BIND CLIENT_NS TARGET
  local name=$1 sns=$2 bind=$3 cns=$4 target=$5 c0 c1 t0 t1 gbit rtt
  nsenter --net="$sns" iperf3 -s -1 -B "$bind" -p 5201 >/dev/null 2>&1 &
  local sp=$!
  sleep 0.5
  c0=$(cpu_of); t0=$(date +%s.%N)
  gbit=$(nsenter --net="$cns" iperf3 -c "$target" -p 5201 -t 5 -J | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log((j.end.sum_received.bits_per_second / 1e9).toFixed(3));')
  t1=$(date +%s.%N); c1=$(cpu_of)
  wait "$sp" 2>/dev/null
  nsenter --net="$sns" python3 -c "$RR" serve "$bind" 7000 &
  sp=$!
  sleep 0.5
  rtt=$(nsenter --net="$cns" python3 -c "$RR" send "$target" 7000)
  wait "$sp" 2>/dev/null
  printf '{"bench":"%s","gbit_s":%s,"rtt_us_p50":%s,"wall_s":%.2f,"veild_cpu_s":%.2f,"load1":%s}\n' \
    "$name" "$gbit" "$rtt" "$(echo "$t1 - $t0" | bc)" "$(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}
measure overlay_replica_to_replica "$SRV_NS" 0.0.0.0 "$CLI_NS" "$SRV_IP"
measure plain_underlay_veth "$(netns_of 2)" "$WAN_2" "$(netns_of 1)" "$WAN_2"
