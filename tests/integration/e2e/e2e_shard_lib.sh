# SPDX-License-Identifier: Apache-2.0
# tests/integration/e2e/e2e_shard_lib.sh - helpers of the sharded-round test
# (e2e_shard.sh) and the jobs-per-minute benchmark (bench/node): a cluster
# of more nodes than lib.sh's six anvil keys (anvil's default mnemonic funds
# the rest), node i's fixed test capacity, and waiting for the mesh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# shard_cluster N [INIT ARGS...]: anvil with N + 1 funded accounts, `veil
# cluster init` with operators 1..N (node 1 the designated decryptor) and the
# given arguments (--shard-size N: the policy's shard size), every node joined.
shard_cluster() {
  local n=$1 i ops=()
  shift
  local mnemonic="test test test test test test test test test test test junk"
  for i in $(seq 6 "$n"); do ANVIL_KEYS[$i]=$("$CAST" wallet private-key "$mnemonic" "$i"); done
  start_anvil --accounts $((n + 1))
  export VEIL_KEYSTORE_PASSWORD=pw
  for i in $(seq 1 "$n"); do ops+=(--operator "$(addr_for "$i")@org$i"); done
  "$VEIL" cluster init --rpc "$RPC" -o "$WORK/bundle" --keystore "$(keystore_for 0)" \
    --name shard --decryptor "$(addr_for 1)" "${ops[@]}" "$@" --json >"$WORK/init.json" \
    || fail "cluster init: $(cat "$WORK/init.json")"
  join_node 1 --client-key "$WORK/bundle/decryptor/client.key"
  for i in $(seq 2 "$n"); do join_node "$i"; done
}

# shard_caps N: CAPS[i] for node i: cpu 1000 + 250 i m, memory 256 i Mi; odd
# nodes in eu-west, even ones in us-east; zones 1..3.
shard_caps() {
  local i region
  CAPS=("")
  for i in $(seq 1 "$1"); do
    region=eu-west; [ $((i % 2)) = 0 ] && region=us-east
    CAPS[$i]="cpu=$((1000 + 250 * i))m,memory=$((256 * i))Mi,disk=20Gi,gpu=0,region=$region,zone=$((i % 3 + 1))"
  done
}

# shard_mesh_up N: every node sees N alive members with telemetry.
shard_has_epochs() {
  veil_at "$1" get nodes -o json | node -e '
    const rows = JSON.parse(require("fs").readFileSync(0, "utf8"));
    process.exit(rows.length === +process.argv[1] &&
                 rows.every(r => r.alive && r.last_telemetry_epoch > 0) ? 0 : 1);' "$2"
}
shard_mesh_up() {
  local i
  for i in $(seq 1 "$1"); do
    wait_for 180 "node $i has everyone's telemetry" shard_has_epochs "$i" "$1"
  done
  sleep 3 # every node holds two epochs of everyone's telemetry
}

# shard_job NAME POLICY CPU MEMORY REPLICAS [CONSTRAINTS] -> $WORK/NAME.yaml
shard_job() {
  cat >"$WORK/$1.yaml" <<YAML
name: $1
image: 127.0.0.1:5000/busybox@sha256:$(printf 'ab%.0s' $(seq 1 32))
command: [/bin/true]
resources: {cpu: $3, memory: $4}
replicas: $5
policy: $2
YAML
  if [ -n "${6:-}" ]; then echo "constraints: $6" >>"$WORK/$1.yaml"; fi
}

# away_from_epoch_cliff INTERVAL_MS: waits until the wall clock is early in a
# telemetry epoch (300-600 ms in). veild plans a round at the epoch it hears
# the job (veil_round_start_ms: a round heard in an epoch's last 300 ms
# starts in the next one), so a node that hears the job a few ms before that
# point and one that hears it a few ms after plan different epochs, hence
# different shard ids; submitting early in an epoch leaves the job more than
# a second to reach every node on the same side (the submitter hears it
# first, from its own API).
away_from_epoch_cliff() {
  local ms phase
  for _ in $(seq 1 100); do
    ms=$(date +%s%3N)
    phase=$((ms % $1))
    if [ "$phase" -ge 300 ] && [ "$phase" -lt 600 ]; then return 0; fi
    sleep 0.05
  done
}
