#!/usr/bin/env bash
# The chaos run at length: tests/e2e/chaos.sh N SEED runs N cycles of tests/e2e/scenarios/chaos.sh with that seed
# (make check runs 10 cycles of seed 1). The same N and SEED give the same faults in the same order.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${VGPUVM_E2E_DIR:-$top/build/e2e}
[ $# -eq 2 ] && [[ $1 =~ ^[0-9]+$ ]] && [[ $2 =~ ^[0-9]+$ ]] || { echo "usage: $0 N SEED" >&2; exit 64; }
mkdir -p "$out/work"
printf 'N=%s SEED=%s\n' "$1" "$2" >"$out/work/chaos.conf"
trap 'rm -f "$out/work/chaos.conf"' EXIT
# About 6 s a cycle under TCG, and the boot: the guest's time limit grows with N.
VGPUVM_E2E_TIMEOUT=$((120 + 20 * $1)) "$here/run.sh" chaos
