#!/usr/bin/env bash
# Benchmark of `bulletin preview`: 100,000 contacts, 10 updates, a personal bilingual digest.
# Reports messages/s with files written and without (render + compose only), bytes and files
# written, peak memory, and this machine's floor for writing the same files from a plain script.
# Usage: bench/preview.sh [CONTACTS] [UPDATES]    (needs about 12 GB free in $TMPDIR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-100000}
u=${2:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/bulletin-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# BULLETIN_BIN=path runs another build (an earlier commit's, to compare) on the same project.
if [ -z "${BULLETIN_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
fi
bin=${BULLETIN_BIN:-"$here/../target/release/bulletin"}
python3 "$here/gen_project.py" "$work/project" "$n" "$u"
cd "$work/project"

echo "== render and compose only (nothing written)"
/usr/bin/time -f "peak memory: %M KB; wall %e s" "$bin" preview bench --no-write 2>&1 | grep -v '^warning'

echo "== full preview (files written)"
start=$(date +%s.%N)
/usr/bin/time -f "peak memory: %M KB; wall %e s" "$bin" preview bench --out "$work/out" 2>&1 | grep -E '^(Wrote|peak)'
end=$(date +%s.%N)
files=$(find "$work/out" -type f | wc -l)
bytes=$(du -sb --apparent-size "$work/out" | cut -f1)
full=$(echo "$end - $start" | bc)
echo "files: $files, bytes: $bytes, whole command: ${full} s ($(echo "$n / $full" | bc) messages/s including loading)"
rm -rf "$work/out"
sync

echo "== floor: a plain script writing $files files, $bytes bytes"
floor=$(python3 "$here/floor.py" "$work/floor" "$files" "$bytes")
echo "floor: ${floor} s"
echo "ratio preview / floor: $(echo "scale=2; $full / $floor" | bc)"
