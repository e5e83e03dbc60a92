# Sourced by bench/send.sh and bench/scale.sh: Postfix's smtp-sink (and smtp-source) from
# Debian's postfix package, unpacked under $work, not installed; and relay(), which points the
# project's bulletin.toml (in the current folder) at that sink.
# Needs $work; sets $port and $sink_pid, and $pf, the unpacked package's root.

start_sink() {
  pf="$work/pf"
  if ! (cd "$work" && apt-get download postfix >/dev/null 2>&1 && dpkg -x postfix_*.deb pf); then
    echo "could not get Debian's postfix package (apt-get download postfix); run apt-get update first" >&2
    exit 1
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LD_LIBRARY_PATH="$pf/usr/lib/postfix" "$pf/usr/sbin/smtp-sink" -u nobody "127.0.0.1:$port" 1024 &
  sink_pid=$!
  sleep 0.5
}

# Postfix's own client, against the same sink: smtp-source [OPTIONS] (host and port added).
smtp_source() {
  LD_LIBRARY_PATH="$pf/usr/lib/postfix" "$pf/usr/sbin/smtp-source" "$@" "127.0.0.1:$port"
}

# relay CONNECTIONS RATE-LINES: the [smtp] section and what follows replaced by the sink's
# address, plain SMTP, CONNECTIONS connections, and a [rate] section of RATE-LINES.
relay() {
  python3 - "$port" "$1" "$2" <<'PY'
import sys
port, conns, rate = sys.argv[1:4]
s = open("bulletin.toml").read()
s = s[: s.index("[smtp]")]
open("bulletin.toml", "w").write(s + f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "plain"\nconnections = {conns}\n\n[rate]\n{rate}\n')
PY
}
unlimited=$'per_second = 1000000\nburst = 1000000'
