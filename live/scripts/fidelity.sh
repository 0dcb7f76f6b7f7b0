#!/bin/bash
# Reproduces the sim-vs-live table of the README (section "Live mode"). Usage:
#   cargo build --release && bash live/scripts/fidelity.sh OUT_DIR   (about 3 minutes, from the workspace root)
out=${1:-target/fidelity}; mkdir -p "$out"; : > "$out/all.txt"
R=./target/release/ratelab
run() { echo "== load $(cut -d' ' -f1-3 /proc/loadavg) :: ratelab fidelity $* --sim-seeds 10" >> "$out/all.txt"; $R fidelity "$@" --sim-seeds 10 -q >> "$out/all.txt" 2>&1; }
run scenarios/seed-token-bucket.toml --scale 10
run scenarios/seed-fixed-delay.toml --scale 10 --strategy leaky-bucket-10/s --strategy bucket-10/s+semaphore-10
run scenarios/seed-fixed-delay.toml --scale 60 --strategy fixed-delay-100ms
run scenarios/seed-sequential-sleep.toml --scale 10 --strategy bucket-10/s+semaphore-5
run scenarios/seed-sequential-sleep.toml --scale 20 --strategy loop-no-sleep
run scenarios/seed-sequential-sleep.toml --scale 100 --strategy sleep-1s-loop
run scenarios/two-instances.toml --scale 10 --strategy bucket-5/s-each --strategy aimd-each --strategy bucket-10/s-each
run scenarios/two-instances.toml --scale 30 --strategy fixed-delay-100ms-each
run scenarios/seed-backoff-no-jitter.toml --scale 6
run scenarios/seed-gather-burst.toml --scale 10 --strategy gather+sleep-1s-retry --strategy token-bucket-10/s
run scenarios/seed-gather-burst.toml --scale 3 --strategy gather+expo-full-jitter
run scenarios/seed-semaphore.toml --scale 10 --strategy semaphore-5+backoff --strategy semaphore-5+retry-after --strategy aimd+backoff
run scenarios/ai-rpm-tpm.toml --scale 60 --strategy rpm+tpm-buckets --strategy aimd+retry-after
run scenarios/seed-tenacity-breaker.toml --scale 20 --strategy full-jitter+retry-after --strategy bucket-5/s+semaphore-5
echo "== done load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/all.txt"
