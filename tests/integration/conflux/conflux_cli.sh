#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/conflux/conflux_cli.sh - the VeilNet control plane through
# the programs an operator runs: `veil guardian init|realm create --cluster`,
# `veil master config` + nats-server (1 cluster x 2 servers), `veil guardian
# serve` with on-chain admission (anvil + VeilRegistry), `veil conflux up`
# enrolled by its active registration, `veil guardian cmd` query and
# shutdown; refusals (an identity the registry does not name, a deactivated
# node, an unknown address, a wrong token) and bad input (missing flags, a
# malformed config) with clear errors and the right exit codes; a node
# deactivated on chain cannot renew.
source "$(dirname "$0")/../chain/lib.sh"
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  cleanup
}
trap stop_all EXIT
wait_for() { # wait_for FILE TEXT: up to 30 s
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1" >&2; fail "'$2' never appeared in $1"
}
expect_rc() { # expect_rc RC NEEDLE cmd...
  local want=$1 needle=$2; shift 2
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = "$want" ] || fail "exit $rc (want $want) from: $* -> $out"
  [[ "$out" == *"$needle"* ]] || fail "'$needle' not in: $out"
}

start_anvil
export VEIL_RPC_URL=$RPC VEIL_KEYSTORE_PASSWORD=pw
K0=$(keystore_for 0); A0=$(addr_for 0); A1=$(addr_for 1); A2=$(addr_for 2); A5=$(addr_for 5)
C=$(json_get "$("$VEIL" chain deploy --keystore "$K0" -o json)" contract)
export VEIL_CONTRACT_ADDRESS=$C
"$VEIL" chain cluster create --keystore "$K0" --name c --operator "$A0@o" --threshold 1 >/dev/null
KEY1=$(json_get "$("$VEIL" conflux id --dir "$WORK/agent1")" key)
KEY2=$(json_get "$("$VEIL" conflux id --dir "$WORK/agent2")" key)
KEY3=$(json_get "$("$VEIL" conflux id --dir "$WORK/agent3")" key)
"$VEIL" chain node register --keystore "$K0" --cluster 1 --node "$A1" --peer-id "$KEY1" >/dev/null
"$VEIL" chain node register --keystore "$K0" --cluster 1 --node "$A2" --peer-id "$KEY3" >/dev/null
"$VEIL" chain node deactivate --keystore "$K0" --node "$A2" >/dev/null
ok "chain: cluster 1, node $A1 registered with the agent's key, $A2 deactivated"

G=$WORK/guardian
"$VEIL" guardian init -d "$G" >/dev/null
"$VEIL" guardian realm create -d "$G" --cluster 1 green >/dev/null
"$VEIL" guardian realm create -d "$G" red >/dev/null
BASE=
for _ in $(seq 1 50); do
  b=$((20000 + (RANDOM % 3000) * 10)); okp=1
  for o in 0 1 2 3 10 11 12 13; do (exec 3<>/dev/tcp/127.0.0.1/$((b + o))) 2>/dev/null && okp=0; done
  [ $okp = 1 ] && { BASE=$b; break; }
done
[ -n "$BASE" ] || fail "no free ports"
"$VEIL" master config -d "$G" -o "$WORK/master" --clusters 1 --servers 2 --base-port "$BASE" >/dev/null
for s in 0 1; do
  nats-server -c "$WORK/master/c0-s$s.conf" >"$WORK/nats$s.log" 2>&1 &
  PIDS+=($!)
done
for p in $BASE $((BASE + 10)); do
  for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
URLS=$(cat "$G/master.servers")
ok "Master: 2 servers at $URLS"

"$VEIL" guardian serve -d "$G" --chain-rpc "$RPC" --contract "$C" >"$WORK/guardian.log" 2>&1 &
PIDS+=($!)
wait_for "$WORK/guardian.log" "guardian: serving"
for i in 1 2 3 4 5; do "$VEIL" guardian cmd -d "$G" --enroll-creds "$WORK/e$i.creds" >/dev/null; done
[ "$(stat -c %a "$WORK/e1.creds")" = 600 ] || fail "enrollment creds not 0600"
COMMON=(--nats "$URLS" --ca "$G/ca/root.crt" --beacon 500ms)

"$VEIL" conflux up --dir "$WORK/agent1" --name chain-node "${COMMON[@]}" \
  --enroll-creds "$WORK/e1.creds" --cluster 1 --eth-address "$A1" >"$WORK/agent1.log" 2>&1 &
AGENT=$!
PIDS+=($AGENT)
wait_for "$WORK/agent1.log" "conflux: up node=chain-node realm=green"
ok "enrolled by on-chain registration into the realm bound to cluster 1"
out=$("$VEIL" guardian cmd -d "$G" chain-node query)
[[ "$out" == *'"realm":"green"'* && "$out" == *"${KEY1#0x}"* ]] || fail "query: $out"
ok "query through Master: $(echo "$out" | head -c 100)..."
ls "$WORK/agent1" | grep -qv identity.nk && fail "the agent wrote more than its identity: $(ls "$WORK/agent1")"
[ "$(stat -c %a "$WORK/agent1/identity.nk")" = 600 ] || fail "identity not 0600"
ok "nothing but the 0600 identity on the agent's disk"

expect_rc 1 "not this node's identity key" "$VEIL" conflux up --dir "$WORK/agent2" "${COMMON[@]}" \
  --enroll-creds "$WORK/e2.creds" --cluster 1 --eth-address "$A1"
expect_rc 1 "not active in cluster 1" "$VEIL" conflux up --dir "$WORK/agent3" "${COMMON[@]}" \
  --enroll-creds "$WORK/e3.creds" --cluster 1 --eth-address "$A2"
expect_rc 1 "registry lookup" "$VEIL" conflux up --dir "$WORK/agent2" "${COMMON[@]}" \
  --enroll-creds "$WORK/e4.creds" --cluster 1 --eth-address "$A5"
expect_rc 1 "Guardian refused" "$VEIL" conflux up --dir "$WORK/agent2" "${COMMON[@]}" \
  --enroll-creds "$WORK/e4.creds" --token vgt1.bogus.AAAA
ok "refused: another key for a registered address, a deactivated node, an unknown address, a bad token"

expect_rc 2 "--dir and --nats" "$VEIL" conflux up --enroll-creds "$WORK/e4.creds"
expect_rc 2 "--cluster and --eth-address go together" "$VEIL" conflux up --dir "$WORK/x" \
  --nats "$URLS" --enroll-creds "$WORK/e4.creds" --cluster 1
printf 'nats: [%s]\nbogus_key: 1\n' "$URLS" >"$WORK/bad.yaml"
expect_rc 1 "unknown key 'bogus_key'" "$VEIL" conflux up -c "$WORK/bad.yaml"
printf 'nats: [\n' >"$WORK/broken.yaml"
expect_rc 1 "broken.yaml" "$VEIL" conflux up -c "$WORK/broken.yaml"
expect_rc 1 "enrollment credentials" "$VEIL" conflux up --dir "$WORK/agent2" "${COMMON[@]}" \
  --enroll-creds "$WORK/nonexistent.creds" --token x
expect_rc 2 "expected NODE and a command" "$VEIL" guardian cmd -d "$G"
expect_rc 2 "unknown command 'reboot'" "$VEIL" guardian cmd -d "$G" chain-node reboot
expect_rc 1 "unknown node" "$VEIL" guardian cmd -d "$G" nobody query
expect_rc 2 "--chain-rpc and --contract go together" "$VEIL" guardian serve -d "$G" --chain-rpc "$RPC"
ok "bad input: usage errors exit 2, failures exit 1 with the reason"

# the same agent from a config file, after a restart: admitted by its key
kill "$AGENT"; wait "$AGENT" || fail "conflux up did not exit 0 on SIGTERM"
grep -q "conflux: down node=chain-node" "$WORK/agent1.log" || fail "no clean stop"
printf 'dir: %s\nname: chain-node\nnats: [%s]\nca: %s\nenroll_creds: %s\nbeacon: 500ms\n' \
  "$WORK/agent1" "$URLS" "$G/ca/root.crt" "$WORK/e5.creds" >"$WORK/agent.yaml"
"$VEIL" conflux up -c "$WORK/agent.yaml" >"$WORK/agent1b.log" 2>&1 &
AGENT=$!
PIDS+=($AGENT)
wait_for "$WORK/agent1b.log" "conflux: up node=chain-node realm=green"
# deactivated on chain: Guardian refuses its next renewal (forced here)
"$VEIL" chain node deactivate --keystore "$K0" --node "$A1" >/dev/null
"$VEIL" guardian cmd -d "$G" chain-node invalidate-keys >/dev/null
for _ in $(seq 1 100); do
  "$VEIL" guardian audit -d "$G" 2>/dev/null | grep -q "no longer active in cluster 1" && break
  sleep 0.1
done
"$VEIL" guardian audit -d "$G" | grep -q "no longer active in cluster 1" ||
  fail "renewal after deactivation not refused: $("$VEIL" guardian audit -d "$G" | tail -3)"
ok "deactivated on chain: renewal refused"
out=$("$VEIL" guardian cmd -d "$G" chain-node shutdown)
[[ "$out" == *graceful* ]] || fail "shutdown: $out"
wait "$AGENT" || fail "conflux up did not exit 0 after a Guardian shutdown"
grep -q "(Guardian shutdown)" "$WORK/agent1b.log" || fail "shutdown not reported"
ok "restart from a config file re-admitted by key; Guardian shutdown ends the agent with exit 0"
"$VEIL" guardian audit -d "$G" >"$WORK/audit.txt" 2>&1 || true
grep -q "chain" "$WORK/audit.txt" || fail "audit log lacks the enrollment: $(head -5 "$WORK/audit.txt")"
echo "conflux cli: all checks passed"
