#!/usr/bin/env bash
# Benchmark of `bulletin send` against Postfix's smtp-sink on loopback (Debian's postfix package,
# unpacked, not installed). Two runs on a generated project of CONTACTS contacts:
#   1. no rate limit: messages/s end to end (selection, rendering, composition, journal, SMTP)
#      and peak memory, for the one-update announcement and for the bilingual digest;
#   2. the announcement again, signed with DKIM: unsigned, RSA 2048 and Ed25519, in one run;
#   3. 50 messages/s for 20 s: the achieved rate and the busiest calendar second.
# Usage: bench/send.sh [CONTACTS] [CONNECTIONS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-50000}
conns=${2:-64}
work=$(mktemp -d "${TMPDIR:-/tmp}/bulletin-send-bench.XXXXXX")
cleanup() { [ -n "${sink_pid:-}" ] && kill "$sink_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# BULLETIN_BIN=path runs another build (an earlier commit's, to compare) on the same project.
if [ -z "${BULLETIN_BIN:-}" ]; then
  cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
fi
bin=${BULLETIN_BIN:-"$here/../target/release/bulletin"}

(cd "$work" && apt-get download postfix >/dev/null 2>&1 && dpkg -x postfix_*.deb pf)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LD_LIBRARY_PATH="$work/pf/usr/lib/postfix" "$work/pf/usr/sbin/smtp-sink" -u nobody "127.0.0.1:$port" 1024 &
sink_pid=$!
sleep 0.5

python3 "$here/gen_project.py" "$work/project" "$n" 10
# Unsubscribe tokens are signed with this; any value does for a benchmark.
export BULLETIN_UNSUBSCRIBE_SECRET=${BULLETIN_UNSUBSCRIBE_SECRET:-bench-secret}
cd "$work/project"
relay() {
  python3 - "$port" "$conns" "$1" <<'PY'
import sys
port, conns, rate = sys.argv[1:4]
s = open("bulletin.toml").read()
s = s[: s.index("[smtp]")]
open("bulletin.toml", "w").write(s + f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "plain"\nconnections = {conns}\n\n[rate]\n{rate}\n')
PY
}
sink_cpu() { awk '{print ($14 + $15) * 10}' "/proc/$sink_pid/stat"; }

relay $'per_second = 1000000\nburst = 1000000'
for campaign in announce bench; do
  rm -f bulletin.sqlite* .bulletin.sqlite.sent
  before=$(sink_cpu)
  echo "== $campaign: $n messages, no rate limit, $conns connections"
  /usr/bin/time -f "peak memory: %M KB; our CPU: %U s user + %S s system; wall %e s" "$bin" send "$campaign" --yes 2>&1 | grep -E 'sent,|peak'
  echo "smtp-sink CPU: $(( $(sink_cpu) - before )) ms"
done

# The same campaign unsigned, then signed with each kind of key, one after another on one
# machine, so that the figures compare.
"$bin" dkim keygen --selector benchrsa --algorithm rsa >/dev/null
"$bin" dkim keygen --selector benched --algorithm ed25519 >/dev/null
for signing in unsigned benchrsa benched; do
  relay $'per_second = 1000000\nburst = 1000000'
  if [ "$signing" != unsigned ]; then
    printf '\n[dkim]\nselector = "%s"\nkey_file = "dkim/%s.pem"\n' "$signing" "$signing" >> bulletin.toml
  fi
  rm -f bulletin.sqlite* .bulletin.sqlite.sent
  label=${signing/benchrsa/DKIM RSA 2048}; label=${label/benched/DKIM Ed25519}
  echo "== announce, $label: $n messages, no rate limit, $conns connections"
  /usr/bin/time -f "peak memory: %M KB; our CPU: %U s user + %S s system; wall %e s" "$bin" send announce --yes 2>&1 | grep -E 'sent,|peak'
done
relay $'per_second = 1000000\nburst = 1000000'

echo "== announce, 50 messages/s for 20 s (1000 messages)"
rm -f bulletin.sqlite* .bulletin.sqlite.sent
relay $'per_second = 50\nburst = 1'
"$bin" send announce --yes --limit 1000 | grep 'sent,'
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
