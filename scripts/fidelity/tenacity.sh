#!/usr/bin/env bash
# The real tenacity (Python) against `ratelab serve` on loopback, beside the simulator's
# `tenacity` kind on the same API (scripts/fidelity/tenacity.toml): attempts and 429s must be
# equal, the makespan within 5 %, and tenacity's waits for these fields 2, 2, 4, 8, 16 s (what
# the `tenacity` kind's unit tests hold it to). Installs what it
# needs: python3-tenacity and python3-venv from Debian when missing (as root), a virtualenv in
# target/fidelity-venv. Exit status 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/fidelity
venv=target/fidelity-venv

# Debian's python3-tenacity is installed for Debian's interpreter, whatever else is on PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if ! "$py" -c "import tenacity, venv, ensurepip" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-tenacity python3-venv >/dev/null
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -c "import tenacity" || { echo "tenacity is not installed (apt-get install python3-tenacity)"; exit 1; }

cargo build --release --locked -q
bin=target/release/ratelab
log=$(mktemp)
"$bin" serve "$here/tenacity.toml" --addr 127.0.0.1:0 >"$log" 2>&1 &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null || true; rm -f "$log"' EXIT
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's#.* on http://\([0-9.:]*\)/ .*#\1#p' "$log" | head -1)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "ratelab serve did not start:"; cat "$log"; exit 1; }

live=target/fidelity-tenacity-live.json
sim=target/fidelity-tenacity-sim.json
"$venv/bin/python" "$here/tenacity_client.py" "$addr" 30 "$live"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
"$bin" run "$here/tenacity.toml" --quiet --json "$sim" >/dev/null 2>&1 || { echo "ratelab run failed"; exit 1; }

"$venv/bin/python" - "$live" "$sim" <<'PY'
import json, sys
live = json.load(open(sys.argv[1]))
sim = json.load(open(sys.argv[2]))["results"][0]
rows = [("attempts", live["attempts"], sim["attempts"]),
        ("429s", live["http_429"], sim["http_429"]),
        ("succeeded", live["succeeded"], sim["succeeded"]),
        ("dead-lettered", live["dead_lettered"], sim["dead_lettered"]),
        ("makespan (s)", round(live["makespan_s"], 3), round(sim["makespan_s"], 3))]
print(f"tenacity {live['tenacity']} against ratelab serve, beside the simulator's `tenacity` kind")
print(f"{'':15}{'tenacity':>10}{'ratelab':>10}")
for name, a, b in rows:
    print(f"{name:15}{a:>10}{b:>10}")
bad = []
if live["waits_s"] != [2, 2, 4, 8, 16]:
    bad.append(f"tenacity's waits are {live['waits_s']}, ratelab's [2, 2, 4, 8, 16]")
for name, a, b in rows[:4]:
    if a != b:
        bad.append(f"{name}: {a} live, {b} simulated")
if abs(live["makespan_s"] - sim["makespan_s"]) > 0.05 * sim["makespan_s"]:
    bad.append("makespan differs by more than 5 %")
if bad:
    print("FAILED: " + "; ".join(bad))
    sys.exit(1)
print("agree: attempts, 429s and final states equal, makespan within 5 %")
PY
