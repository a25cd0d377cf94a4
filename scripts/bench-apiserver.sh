#!/usr/bin/env bash
# Benchmarks the kube-apiserver binary (release profile) and prints a table:
#   - process start to the first /readyz 200, idle RSS (cmd/kube-apiserver/benches/startup.rs)
#   - requests/s on GET /version over TLS, from wrk on loopback (Debian: apt-get install wrk)
# Usage: scripts/bench-apiserver.sh [duration=10s] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10s}
connections=${2:-64}
target=${CARGO_TARGET_DIR:-target}

cargo bench --locked -p kube-apiserver --bench startup

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found: apt-get install wrk for the requests/s figure" >&2
  exit 0
fi
cargo build --locked --release -p kube-apiserver
bin="$target/release/kube-apiserver"
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
echo "wrk,wrk,1" >"$dir/tokens.csv"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --cert-dir="$dir" --data-dir="$dir/data" --token-auth-file="$dir/tokens.csv" --bind-address=127.0.0.1 \
  --secure-port="$port" --max-requests-inflight=0 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do
  curl -sfk -H 'Authorization: Bearer wrk' "https://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.05
done
threads=$(nproc)
out=$(wrk -t"$threads" -c"$connections" -d"$duration" -H 'Authorization: Bearer wrk' "https://127.0.0.1:$port/version")
echo "$out" >&2
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
lat=$(awk '/Latency/ {print $2; exit}' <<<"$out")
rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
echo
echo "| GET /version over TLS (wrk -t$threads -c$connections -d$duration, $(nproc) cores shared) | value |"
echo "|---|---|"
echo "| requests/s | $rps |"
echo "| mean latency | $lat |"
echo "| RSS after the run (MiB) | $rss |"
