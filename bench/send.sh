#!/usr/bin/env bash
# Benchmark of `bulletin send` against Postfix's smtp-sink on loopback (Debian's postfix package,
# unpacked, not installed: see sink.sh). Three parts on a generated project of CONTACTS contacts:
#   1. no rate limit: messages/s end to end (selection, rendering, composition, journal, SMTP)
#      and peak memory, for the one-update announcement and for the bilingual digest; each
#      followed by Postfix's own smtp-source against the same sink, with as many messages, as
#      many connections (each reused, -d) and messages of the campaign's mean size: what a bare
#      SMTP client achieves here, the reference; the ratio is bulletin's rate over its;
#   2. the announcement again, signed with DKIM: unsigned, RSA 2048 and Ed25519, in one run;
#   3. 50 messages/s for 20 s: the achieved rate and the busiest calendar second.
# Usage: bench/send.sh [CONTACTS] [CONNECTIONS]    (needs about 150 MB free in $TMPDIR,
#   for 1000 sample previews, and 45 MB more per 100,000 contacts)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-50000}
conns=${2:-64}
work=$(mktemp -d "${TMPDIR:-/tmp}/bulletin-send-bench.XXXXXX")
cleanup() { [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
[ -x /usr/bin/time ] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }
# BULLETIN_BIN=path runs another build (an earlier commit's, to compare) on the same project.
if [ -z "${BULLETIN_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
fi
bin=${BULLETIN_BIN:-"$here/../target/release/bulletin"}
. "$here/sink.sh"
start_sink

python3 "$here/gen_project.py" "$work/project" "$n" 10
# Unsubscribe tokens are signed with this; any value does for a benchmark.
export BULLETIN_UNSUBSCRIBE_SECRET=${BULLETIN_UNSUBSCRIBE_SECRET:-bench-secret}
cd "$work/project"
sink_cpu() { awk '{print ($14 + $15) * 10}' "/proc/$sink_pid/stat"; }
sink_bytes() { awk '/^rchar/ {print $2}' "/proc/$sink_pid/io"; }

relay "$conns" "$unlimited"
for campaign in announce bench; do
  # smtp-source's message: as many bytes as the campaign's mean message (over its first 1000
  # recipients' previews, which are the bytes sent), headers of a real one and a filler body.
  "$bin" preview "$campaign" --out "$work/sample" --limit 1000 >/dev/null
  size=$(python3 - "$work/sample" "$work/$campaign.msg" <<'PY'
import glob, sys
emls = sorted(glob.glob(sys.argv[1] + "/*.eml"))
mean = round(sum(len(open(f, "rb").read()) for f in emls) / len(emls))
head = open(emls[0], "rb").read().split(b"\r\n\r\n")[0].split(b"\r\n")
lines, size = head + [b""], sum(len(l) + 2 for l in head) + 2
while size < mean:  # smtp-source -F ends every line with CRLF
    line = b"x" * min(76, max(0, mean - size - 2))
    lines.append(line)
    size += len(line) + 2
open(sys.argv[2], "wb").write(b"\n".join(lines) + b"\n")
print(size)
PY
)
  rm -rf "$work/sample"
  rm -f bulletin.sqlite* .bulletin.sqlite.sent
  before=$(sink_cpu); bytes=$(sink_bytes)
  echo "== $campaign: $n messages, no rate limit, $conns connections"
  /usr/bin/time -o "$work/time" -f "%e %M %U %S" "$bin" send "$campaign" --yes > "$work/out" 2>&1
  # The final report only, not the progress lines ("31144/50000 settled: 31144 sent, ...").
  report=$(grep -v 'settled:' "$work/out" | grep ' sent, ')
  echo "$report"
  read -r wall kb user sys < "$work/time"
  sent=$(echo "$report" | grep -o '[0-9]* sent,' | grep -o '[0-9]*')
  own=$(echo "$report" | grep -o '[0-9.]* messages/s' | grep -o '^[0-9.]*')
  echo "peak memory: $kb KB; our CPU: $user s user + $sys s system; wall $wall s"
  echo "smtp-sink CPU: $(( $(sink_cpu) - before )) ms; $(( ($(sink_bytes) - bytes) / sent )) bytes/message read (SMTP commands included)"
  # smtp-source: -d keeps each session's connection for its next message, -N a distinct
  # recipient per message, -F the message as is (no headers of its own).
  before=$(sink_cpu); bytes=$(sink_bytes)
  start=$(date +%s.%N)
  smtp_source -d -N -s "$conns" -m "$sent" -F "$work/$campaign.msg" \
    -f news@example.org -t person@example.org
  end=$(date +%s.%N)
  echo "smtp-source: $sent messages of $size bytes in $(printf %.2f "$(echo "$end - $start" | bc)") s;" \
    "smtp-sink CPU: $(( $(sink_cpu) - before )) ms; $(( ($(sink_bytes) - bytes) / sent )) bytes/message read"
  python3 - "$sent" "$wall" "$own" "$start" "$end" <<'PY'
import sys
sent, wall, own, start, end = int(sys.argv[1]), *map(float, sys.argv[2:])
ours, theirs = sent / wall, sent / (end - start)
print(f"bulletin {ours:,.0f} msg/s (whole command; {own:,.0f} while sending), "
      f"smtp-source {theirs:,.0f} msg/s, ratio {ours / theirs:.2f} ({own / theirs:.2f} sending only)")
PY
done

# The same campaign unsigned, then signed with each kind of key, one after another on one
# machine, so that the figures compare.
"$bin" dkim keygen --selector benchrsa --algorithm rsa >/dev/null
"$bin" dkim keygen --selector benched --algorithm ed25519 >/dev/null
for signing in unsigned benchrsa benched; do
  relay "$conns" "$unlimited"
  if [ "$signing" != unsigned ]; then
    printf '\n[dkim]\nselector = "%s"\nkey_file = "dkim/%s.pem"\n' "$signing" "$signing" >> bulletin.toml
  fi
  rm -f bulletin.sqlite* .bulletin.sqlite.sent
  label=${signing/benchrsa/DKIM RSA 2048}; label=${label/benched/DKIM Ed25519}
  echo "== announce, $label: $n messages, no rate limit, $conns connections"
  /usr/bin/time -f "peak memory: %M KB; our CPU: %U s user + %S s system; wall %e s" "$bin" send announce --yes 2>&1 | grep -E 'sent,|peak'
done
relay "$conns" "$unlimited"

echo "== announce, 50 messages/s for 20 s (1000 messages)"
rm -f bulletin.sqlite* .bulletin.sqlite.sent
relay "$conns" $'per_second = 50\nburst = 1'
"$bin" send announce --yes --limit 1000 2>&1 | grep 'messages/s'
python3 - <<'PY'
import sqlite3, collections
rows = [r[0] for r in sqlite3.connect("bulletin.sqlite").execute("SELECT at_ms FROM handovers ORDER BY at_ms")]
span = (rows[-1] - rows[0]) / 1000
per_sec = collections.Counter(t // 1000 for t in rows)
full = [c for s, c in sorted(per_sec.items())[1:-1]]  # whole seconds only
window = max(sum(1 for u in rows[i:i + 60] if u - t < 1000) for i, t in enumerate(rows))
print(f"achieved: {(len(rows) - 1) / span:.2f} messages/s over {span:.1f} s; "
      f"busiest calendar second: {max(full)}; busiest sliding 1 s window: {window}")
PY
