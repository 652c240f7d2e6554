#!/usr/bin/env bash
# demo.sh — installs what is missing, builds the backless tool and runs its
# demo. This is the README's demo command.
#
#   bash scripts/demo.sh          (BL_BUILD=dir to build elsewhere than build/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BL_BUILD:-build}

bash scripts/install-deps.sh
echo "demo: building $build/backless"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target backless backless_crdt >/dev/null
echo
exec "$build/backless" demo
