#!/usr/bin/env bash
# Writes the JSON result, HTML report and table of every scenario in scenarios/ into DIR with the
# given ratelab binary, for comparing two builds byte for byte:
#
#   cargo build --release && cp target/release/ratelab /tmp/ratelab-a
#   bash scripts/outputs.sh /tmp/ratelab-a /tmp/out-a
#   # change, rebuild
#   bash scripts/outputs.sh target/release/ratelab /tmp/out-b
#   diff -r /tmp/out-a /tmp/out-b && echo identical
#
# Each scenario runs with its own seed; the report names the scenario as scenarios/NAME.toml.
set -euo pipefail
bin=${1:?usage: outputs.sh RATELAB_BINARY OUT_DIR}
out=${2:?usage: outputs.sh RATELAB_BINARY OUT_DIR}
cd "$(dirname "$0")/.."
mkdir -p "$out"
for f in scenarios/*.toml; do
  n=$(basename "$f" .toml)
  "$bin" run "$f" --quiet --json "$out/$n.json" --report "$out/$n.html" >"$out/$n.txt"
done
ls "$out" | wc -l | xargs echo "files written:"
