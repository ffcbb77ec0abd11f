#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/interop/nats_jwt/run_interop.sh - runs interop.js (node +
# tools/npm/node_modules) against nats_jwt_tool in a private directory.
set -euo pipefail
SRC=${VEIL_SOURCE_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)}
TOOL=${NATS_JWT_TOOL:?NATS_JWT_TOOL not set}
WORK=$(mktemp -d /tmp/veil-nats-jwt.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
node "$SRC/tests/interop/nats_jwt/interop.js" "$SRC/tools/npm/node_modules" "$TOOL" "$WORK"
