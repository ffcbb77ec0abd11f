#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tests/integration/chain/forge_test.sh - the contract's forge suite, offline,
# with solcjs behind contracts/tools/solc-shim.js. Build output goes to a
# temp dir so parallel runs do not share forge's cache.
source "$(dirname "$0")/lib.sh"
cd "$SRC/contracts"
"$FORGE" test --offline --out "$WORK/out" --cache-path "$WORK/cache" 2>&1 | tail -30
exit "${PIPESTATUS[0]}"
