#!/usr/bin/env bash
# Benchmark musicvae (Rust/burn) against the PyTorch reference on the same GPU, in one run, and
# print a table with the ratio ours / PyTorch for every row. Also checks numerical agreement
# (same weights, same batch → same loss to 1e-3) on the device.
#
# Prepare here (no GPU needed), then run on the GPU machine:
#   CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda
#   mkdir -p .device && cp target/release/musicvae .device/
#   .device/musicvae prepare midi_full --config cat-mel_2bar_small --npy .device/tokens_2bar.npy
#   .device/musicvae prepare midi_full --config hierdec-mel_16bar --npy .device/tokens_16bar.npy
#   # on the GPU machine, from the repository root (the device tool carries .device):
#   bench/run-gpu.sh
#
# Environment: BIN (default .device/musicvae), DEVICE (cuda; `cpu` gives a quick dry run of the
# script with tiny batches), BATCH (512), STEPS (10 timed steps), WARMUP (3), PYTHON (python3),
# OUT (folder for the JSON lines; default $OUT or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.device/musicvae}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-512}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-3}
PYTHON=${PYTHON:-python3}
RESULTS=${OUT:-/tmp}/bench-gpu.jsonl
TOK2=${TOK2:-.device/tokens_2bar.npy}
TOK16=${TOK16:-.device/tokens_16bar.npy}
rm -f "$RESULTS"

[ -x "$BIN" ] || { echo "no musicvae binary at $BIN (build with --features cuda and copy it there)"; exit 2; }
data_arg() { [ -f "$1" ] && echo "--data $1" || true; }

# Peak GPU memory of a command: nvidia-smi sampled every 100 ms (framework-neutral).
peak_mem() {
  local log; log=$(mktemp)
  if command -v nvidia-smi >/dev/null && [ "$DEVICE" = cuda ]; then
    ( while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; sleep 0.1; done ) >"$log" &
    local mon=$!
    "$@"; local rc=$?
    kill $mon 2>/dev/null; wait $mon 2>/dev/null || true
    PEAK_MIB=$(sort -n "$log" | tail -1); rm -f "$log"; return $rc
  fi
  "$@"; local rc=$?; PEAK_MIB=""; rm -f "$log"; return $rc
}

echo "== device"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "$DEVICE"; } | head -1
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
git log -1 --format='commit %h %ad' --date=short 2>/dev/null || true

echo "== numerical agreement (same weights and batch, teacher-forced loss)"
for cfg in cat-mel_2bar_small hierdec-mel_16bar; do
  "$BIN" bench agreement --config "$cfg" --batch-size 8 -o "/tmp/agree-$cfg" >/dev/null
  "$PYTHON" bench/pytorch/musicvae_torch.py --agreement "/tmp/agree-$cfg" --device "$DEVICE" | tail -1
done

rows=(
  "cat-mel_2bar_small teacher_forced $TOK2"
  "cat-mel_2bar_small sampled $TOK2"
  "cat-mel_2bar_big teacher_forced $TOK2"
  "cat-mel_2bar_big sampled $TOK2"
  "hierdec-mel_16bar teacher_forced $TOK16"
)
printf '\n%-20s %-15s %12s %12s %7s %10s %10s\n' config mode "ours seq/s" "torch seq/s" ratio "ours MiB" "torch MiB"
for row in "${rows[@]}"; do
  read -r cfg mode tok <<<"$row"
  rmode=$([ "$mode" = sampled ] && echo sampled || echo teacher-forced)
  peak_mem "$BIN" bench --json "$RESULTS" train --device "$DEVICE" --config "$cfg" --mode "$rmode" \
      --batch-size "$BATCH" --warmup "$WARMUP" --steps "$STEPS" $(data_arg "$tok") >/dev/null
  ours=$(tail -1 "$RESULTS" | "$PYTHON" -c 'import json,sys; print("%.4g" % json.load(sys.stdin)["result"]["seq_per_sec"])')
  ours_mem=$PEAK_MIB
  peak_mem "$PYTHON" bench/pytorch/musicvae_torch.py --bench --config "$cfg" --mode "$mode" --batch "$BATCH" \
      --warmup "$WARMUP" --steps "$STEPS" --device "$DEVICE" $(data_arg "$tok") >>"$RESULTS"
  theirs=$(tail -1 "$RESULTS" | "$PYTHON" -c 'import json,sys; print("%.4g" % json.load(sys.stdin)["seq_per_sec"])')
  ratio=$("$PYTHON" -c "print('%.2f' % ($ours / $theirs))")
  printf '%-20s %-15s %12s %12s %7s %10s %10s\n' "$cfg" "$mode" "$ours" "$theirs" "$ratio" "${ours_mem:--}" "${PEAK_MIB:--}"
done
echo "(JSON lines: $RESULTS)"
