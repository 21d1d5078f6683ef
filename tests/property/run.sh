#!/usr/bin/env bash
# The property layer: generated valid profiles → argv → QEMU accepts the line (tests/helpers/property.c says how).
#   tests/property/run.sh [COUNT [SEED [QEMU_EVERY]]]
# make check (tests/run.sh property) generates 3000 from seed 1 and starts QEMU for every 5th, within about half a
# minute; `make property` runs PROPERTY_COUNT from PROPERTY_SEED with QEMU for each. A failing profile is written to
# $PROPERTY_FAIL_DIR (default build/property-failures/) to be tried again with `vgpuvm argv`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
count=${1:-3000} seed=${2:-1} every=${3:-5}
bin=$BUILD/helpers/property
[ -x "$bin" ] || { echo "Bail out! $bin is not built (make helpers)"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 is not installed"; exit 0; }
export PROPERTY_FAIL_DIR=${PROPERTY_FAIL_DIR:-$PWD/$BUILD/property-failures}
mkdir -p "$PROPERTY_FAIL_DIR"
echo "# seed $seed, $count profiles, QEMU for every ${every}th"
exec "$bin" "$count" "$seed" "$every"
