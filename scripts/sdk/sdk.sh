#!/usr/bin/env bash
# The official OpenAI and Anthropic Python SDKs against `ratelab serve --profile openai|anthropic`
# on loopback (scripts/sdk/sdk_checks.py holds the checks; each scenario file says what it is for):
#   1. the installed SDKs' retry constants equal ratelab's ports (openai_python, anthropic_python),
#      and their own _calculate_retry_timeout/_should_retry give the kinds' Retry-After rules;
#   2. conformance.toml: the SDKs' types (ChatCompletion, Message), their RateLimitError with the
#      APIs' error shapes, and the OpenAI SDK waiting what retry-after-ms says (±50 ms, measured
#      on the client and in `serve --trace`);
#   3. overloaded.toml: a 529 is retried twice by the Anthropic SDK with its backoff;
#   4. tpm.toml: a minute of unmodified SDK traffic against 30 000 tokens/min: in the trace, the
#      tokens served in any window T stay within burst + rate·T, and 429s happened;
#   5. fidelity.toml: the OpenAI SDK with its default retries beside `ratelab run` of the
#      `openai_python` kind, Retry-After to the millisecond on both sides: attempts, 429s and
#      final states equal, makespan within 5 %.
# `bash scripts/sdk/sdk.sh [conformance] [tpm] [fidelity]` runs only those parts (all by default).
# Installs what it needs: python3-venv from Debian when missing (as root), a virtualenv in
# target/sdk-venv with the pinned packages below. Exit status 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=scripts/sdk
venv=target/sdk-venv
OPENAI_VERSION=3.60.0
ANTHROPIC_VERSION=2.16.0
TPM_SECONDS=${TPM_SECONDS:-60}

py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)
if ! "$py" -c "import venv, ensurepip" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv" || { echo "cannot create a virtualenv (apt-get install python3-venv)"; exit 1; }
fi
if ! "$venv/bin/python" - "$OPENAI_VERSION" "$ANTHROPIC_VERSION" <<'PY' >/dev/null 2>&1
import importlib.metadata as m, sys
sys.exit(0 if (m.version("openai"), m.version("anthropic")) == (sys.argv[1], sys.argv[2]) else 1)
PY
then
  timeout 300 "$venv/bin/pip" install -q --disable-pip-version-check \
    "openai==$OPENAI_VERSION" "anthropic==$ANTHROPIC_VERSION" \
    || { echo "pip install openai==$OPENAI_VERSION anthropic==$ANTHROPIC_VERSION failed"; exit 1; }
fi
vpy="$venv/bin/python"
checks() { timeout 200 "$vpy" "$here/sdk_checks.py" "$@"; }

cargo build --release --locked -q
bin=target/release/ratelab
work=$(mktemp -d)
serve_pid=""
stop_serve() {
  # Ctrl-C stops it and writes out the trace; a server that does not stop is killed.
  [ -n "$serve_pid" ] || return 0
  kill -INT "$serve_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
}
trap 'stop_serve; rm -rf "$work"' EXIT

# start_serve SCENARIO PROFILE TRACE: sets $addr (HOST:PORT) from the banner.
start_serve() {
  "$bin" serve "$here/$1" --profile "$2" --addr 127.0.0.1:0 --trace "$3" >"$work/serve.log" 2>&1 &
  serve_pid=$!
  addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's#.* on http://\([0-9.:]*\)[/ ].*#\1#p' "$work/serve.log" | head -1)
    [ -n "$addr" ] && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "ratelab serve $1 --profile $2 did not start:"; cat "$work/serve.log"; exit 1; }
}

parts=" ${*:-conformance tpm fidelity} "
for p in $parts; do
  case $p in conformance|tpm|fidelity) ;; *) echo "unknown part $p (conformance, tpm, fidelity)"; exit 2 ;; esac
done
want() { [[ $parts == *" $1 "* ]]; }

checks constants

if want conformance; then
start_serve conformance.toml openai "$work/openai.jsonl"
checks openai "$addr" "$work/openai-waits.json"
stop_serve
checks openai-trace "$work/openai.jsonl" "$work/openai-waits.json"

start_serve conformance.toml anthropic "$work/anthropic.jsonl"
checks anthropic "$addr"
stop_serve

start_serve overloaded.toml anthropic "$work/overloaded.jsonl"
checks overloaded "$addr"
stop_serve
checks statuses "$work/overloaded.jsonl" 529,529,529
fi

if want tpm; then
start_serve tpm.toml openai "$work/tpm.jsonl"
checks tpm "$addr" "$TPM_SECONDS" 8
stop_serve
checks tpm-check "$work/tpm.jsonl" 30000 6000
fi

if want fidelity; then
live=target/sdk-openai-fidelity-live.json
sim=target/sdk-openai-fidelity-sim.json
start_serve fidelity.toml openai target/sdk-openai-fidelity-trace.jsonl
checks fidelity "$addr" 30 "$live"
stop_serve
"$bin" run "$here/fidelity.toml" --quiet --json "$sim" >/dev/null 2>&1 || { echo "ratelab run $here/fidelity.toml failed"; exit 1; }
checks compare "$live" "$sim"
# The same run as the server recorded it (first send to last reply: without the client's start).
"$bin" fidelity "$here/fidelity.toml" --trace target/sdk-openai-fidelity-trace.jsonl \
  || { echo "FAILED: ratelab fidelity --trace of the SDK's run"; exit 1; }
fi
