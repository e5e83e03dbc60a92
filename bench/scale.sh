#!/usr/bin/env bash
# How bulletin scales with the audience: for each SIZE, a generated project of SIZE contacts and
# 10 updates (bench/gen_project.py), and its personal bilingual digest `bench`, through
#   audience bench; preview bench --no-write; send bench --yes (to Postfix's smtp-sink on
#   loopback, no rate limit, CONNECTIONS connections); send bench --yes again (the rerun of a
#   fully sent campaign: nothing to send, so it should take a small fraction of the first);
#   status bench
# each timed alone, with its peak memory, by GNU time. Prints one row per command as it ends.
# Usage: bench/scale.sh [SIZES...]          (default: 100000 1000000)
#   BULLETIN_BIN=path to time another build; CONNECTIONS=n (default 64).
# Disk: one project at a time in $TMPDIR, removed before the next size (and all of it on exit):
# the contact list and the journal, about 45 MB per 100,000 contacts (8.9 MB measured at 20,000),
# so about 0.5 GB free for 1,000,000; preview runs with --no-write and writes nothing.
# Time on 2 cores: preview and send at 2,000-5,000 messages/s, so 10-20 minutes for 1,000,000.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- 100000 1000000
conns=${CONNECTIONS:-64}
if [ ! -x /usr/bin/time ]; then
  echo "scale.sh needs GNU time at /usr/bin/time for peak memory (the shell's own 'time' cannot" \
       "report it); on Debian: apt-get install time" >&2
  exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bulletin-scale-bench.XXXXXX")
cleanup() { [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "${BULLETIN_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
fi
bin=$(realpath "${BULLETIN_BIN:-"$here/../target/release/bulletin"}")
. "$here/sink.sh"
start_sink
# Unsubscribe tokens are signed with this; any value does for a benchmark.
export BULLETIN_UNSUBSCRIBE_SECRET=${BULLETIN_UNSUBSCRIBE_SECRET:-bench-secret}

row() { printf '%10s  %-20s %8s %8s %10s  %s\n' "$@"; }
# measure SIZE LABEL COUNT ARGS...: runs bulletin ARGS alone under GNU time and prints a row;
# COUNT, an extended regex, finds the count of messages in its output (messages/s), or is "".
# Leaves $wall and $out for the caller.
measure() {
  local size=$1 label=$2 count=$3 kb msgs rate=-; shift 3
  if ! /usr/bin/time -o "$work/time" -f "%M %e" "$bin" "$@" > "$work/out" 2>&1; then
    echo "bulletin $* failed:" >&2; tail -n 20 "$work/out" >&2; exit 1
  fi
  read -r kb wall < "$work/time"
  out=$(cat "$work/out")
  if [ -n "$count" ]; then
    msgs=$(grep -oE "$count" <<<"$out" | tail -n 1 | grep -oE '[0-9]+' || true)
    if [ "${msgs:-0}" -gt 0 ]; then rate=$(python3 -c "print(f'{$msgs / max($wall, 0.01):,.0f}')"); fi
  fi
  row "$size" "$label" "$(printf %.0f "$(echo "$kb / 1024" | bc -l)")" "$wall" "$rate" ""
}

row contacts command "peak MB" "wall s" "msg/s" ""
for size in "$@"; do
  python3 "$here/gen_project.py" "$work/project" "$size" 10
  cd "$work/project"
  relay "$conns" "$unlimited"
  measure "$size" "audience" "" audience bench
  measure "$size" "preview --no-write" "composed [0-9]+ messages" preview bench --no-write
  measure "$size" "send" "[0-9]+ sent," send bench --yes
  first=$wall
  sent=$(grep -oE '[0-9]+ sent,' <<<"$out" | tail -n 1 | grep -oE '[0-9]+')
  [ "$sent" = "$size" ] || echo "warning: $sent of $size sent" >&2
  measure "$size" "send (rerun)" "" send bench --yes
  if ! grep -q "$size of $size recipients already sent" <<<"$out"; then
    echo "warning: the rerun did not find every recipient sent:" >&2; echo "$out" >&2
  fi
  row "" "" "" "" "" "rerun: $(python3 -c "print(f'{100 * $wall / max($first, 0.01):.1f}')")% of the first send's wall time"
  measure "$size" "status" "" status bench
  row "" "" "" "" "" "project on disk: $(du -sh --apparent-size . | cut -f1) (contacts.csv $(du -sh --apparent-size lists/contacts.csv | cut -f1))"
  cd "$work"
  rm -rf "$work/project"
done
