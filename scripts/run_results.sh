#!/usr/bin/env bash
# Regenerates docs/results/ from the HDR images in DATA (default ../shared/data/hdr).
# CPU only; results are cached in docs/results/cache, so a rerun only computes what is new.
# GAINMLP_THREADS=1 keeps fits byte-reproducible whatever the machine's core count.
set -euo pipefail
DATA=${1:-../shared/data/hdr}
R=docs/results
export GAINMLP_THREADS=${GAINMLP_THREADS:-1} GAINMLP_CVVDP=${GAINMLP_CVVDP:-0}
for exp in table4 table1; do
  gainmlp bench "$exp" "$DATA" --quick --cache "$R/cache/quick" -o "$R/quick/$exp"
done
# full resolution, paper defaults (1000 steps, 65,536 pixels per step), three dev images
for exp in table4 table1; do
  gainmlp bench "$exp" "$DATA" --images Desk,MtTamWest,Tree --cache "$R/cache/full" -o "$R/full/$exp"
done
for exp in rd time ablation; do
  gainmlp bench "$exp" "$DATA" --quick --cache "$R/cache/quick" -o "$R/quick/$exp"
done
