#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# scripts/spdx.sh - every source file carries the project's license identifier
# (Apache-2.0, see LICENSE) on its first line, or on its second line after a
# shebang.
#   scripts/spdx.sh check   lists files without it and exits 1 if there are any
#   scripts/spdx.sh fix     adds it where it is missing
# Source files: tracked and untracked-but-not-ignored C, headers, shell,
# JavaScript, Python, Solidity, protobuf, CMake, Make, HTML and CSS files.
# (A shebang or an HTML doctype stays on the first line.)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
ID="SPDX-License-Identifier: Apache-2.0"

comment_for() { # FILE -> the comment line that carries the identifier
  case "$1" in
    *.c | *.h | *.js | *.mjs | *.cjs | *.sol | *.proto) echo "// $ID" ;;
    *.sh | *.py | *CMakeLists.txt | *.cmake | Makefile | .ci/run) echo "# $ID" ;;
    *.in | *.css) echo "/* $ID */" ;;
    *.html) echo "<!-- $ID -->" ;;
  esac
}

sources() {
  git ls-files --cached --others --exclude-standard -- \
    '*.c' '*.h' '*.sh' '*.js' '*.mjs' '*.cjs' '*.py' '*.sol' '*.proto' \
    '*CMakeLists.txt' '*.cmake' '*.html' '*.css' 'Makefile' '.ci/run' \
    'src/cmd/commands.gen.h.in' |
    grep -v -e '^tools/npm/node_modules/' -e '^fuzz/corpus/' || true
}

missing=0
while IFS= read -r f; do
  [ -f "$f" ] || continue
  if head -n 2 "$f" | grep -q "$ID"; then continue; fi
  if [ "$mode" = fix ]; then
    line=$(comment_for "$f")
    [ -n "$line" ] || continue
    tmp=$(mktemp)
    if head -n 1 "$f" | grep -qi -e '^#!' -e '^<!doctype'; then
      { head -n 1 "$f"; echo "$line"; tail -n +2 "$f"; } >"$tmp"
    else
      { echo "$line"; cat "$f"; } >"$tmp"
    fi
    chmod --reference="$f" "$tmp"
    mv "$tmp" "$f"
  else
    echo "missing SPDX identifier: $f"
    missing=$((missing + 1))
  fi
done < <(sources)

if [ "$mode" = check ] && [ "$missing" -gt 0 ]; then
  echo "spdx: $missing file(s) without '$ID' (run scripts/spdx.sh fix)" >&2
  exit 1
fi
exit 0
