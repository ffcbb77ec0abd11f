#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/guardian/run.sh - revoke-to-disconnect on a real Master: a 2 x 2
# nats-server super cluster with TLS on 127.0.0.1 (tests/integration/guardian/
# lib.sh). For each of N nodes: the node holds a connection on one of the
# four servers (round robin), `veil guardian revoke` runs, and the time from
# the start of that command to the node's connection being closed by the
# server is one sample. Prints one JSON line. GUARDIAN_BENCH_VERIFY=1 starts
# Master with client verification (`veil master config --client-verify`):
# nodes present a certificate from `veil guardian cert`, and the revocation
# push presents Guardian's own short-lived client certificate.
export VEIL_BUILD_DIR=${VEIL_BUILD_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build}
. "$(dirname "$0")/../../tests/integration/guardian/lib.sh"
N=${GUARDIAN_BENCH_NODES:-8}

G=$WORK/guardian
"$VEIL" guardian init -d "$G" >/dev/null
"$VEIL" guardian realm create -d "$G" bench >/dev/null
VERIFY=${GUARDIAN_BENCH_VERIFY:-0}
for i in $(seq 1 "$N"); do
  "$VEIL" guardian issue -d "$G" --realm bench --name "n$i" --ttl 1h -o "$WORK/n$i.creds" >/dev/null
  if [ "$VERIFY" = 1 ]; then
    "$VEIL" guardian cert -d "$G" --realm bench --name "n$i" --ttl 1h -o "$WORK/n$i" >/dev/null
  fi
done
if [ "$VERIFY" = 1 ]; then
  start_master "$G" 2 2 --client-verify
  MODE="2x2 TLS, client certificates required, 127.0.0.1"
else
  start_master "$G" 2 2
  MODE="2x2 TLS 127.0.0.1"
fi
samples=()
for i in $(seq 1 "$N"); do
  k=$(((i - 1) % 4))
  tls=""
  [ "$VERIFY" = 1 ] && tls=$WORK/n$i
  NATSC_TLS=$tls "$NATSC" "$(url_of $((k / 2)) $((k % 2)))" "$WORK/n$i.creds" "$G/ca/root.crt" \
    hold 20000 >"$WORK/hold$i.out" 2>&1 &
  pid=$!
  wait_line "$WORK/hold$i.out" '^connected' || fail "n$i did not connect"
  t0=$(date +%s%3N)
  "$VEIL" guardian revoke -d "$G" "n$i" >/dev/null
  wait $pid || fail "n$i not disconnected"
  grep -q 'Revoked' "$WORK/hold$i.out" || fail "n$i closed for another reason"
  samples+=($(($(grep '^closed' "$WORK/hold$i.out" | cut -d' ' -f2) - t0)))
done
sorted=$(printf '%s\n' "${samples[@]}" | sort -n)
p50=$(echo "$sorted" | sed -n "$(((N + 1) / 2))p")
max=$(echo "$sorted" | tail -1)
list=$(IFS=,; echo "${samples[*]}")
echo "{\"bench\":\"guardian_revoke_to_disconnect_ms\",\"n\":$N,\"p50\":$p50,\"max\":$max,\"samples\":[$list],\"master\":\"$MODE\"}"
