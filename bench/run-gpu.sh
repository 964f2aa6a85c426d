#!/usr/bin/env bash
# Training throughput of musicvae (Rust/burn) against the PyTorch reference (cuDNN LSTMs) on the
# same GPU, in one run: ours in fp32, PyTorch in fp32 and with TF32 matmuls, the ratio per row,
# peak GPU memory of each side, and the fraction of the GPU's fp32 / TF32 peak each side reaches.
# Also checks numerical agreement (same weights, same batch → same loss to 1e-3; PyTorch side on
# the device). Every command is time-boxed (ROW_TIMEOUT); rows are skipped once DEADLINE passes,
# so a GPU lease is never lost to one slow row.
#
#   bench/run-gpu.sh                        # from any folder: the binary runs in the current
#                                           # folder, where cubecl.toml (kernel caches) is read
#   DEVICE=cpu BATCH=4 STEPS=1 WARMUP=0 bench/run-gpu.sh   # quick dry run of the script on CPU
#
# bench/gpu-run.sh runs it on the GPU machine (binary, token files and kernel cache prepared by
# scripts/gpu-prepare). The last line is `gpu ratio cat-mel_2bar_small teacher-forced: X.XX`.
#
# FLOP model (bench/pytorch/musicvae_torch.py --flops): matrix products only — every LSTM layer's
# input and recurrent products, the output layer — of the forward pass, ×3 for forward + backward;
# the same count for both sides and for sampled decoding. cat-mel_2bar_small: 0.697 GFLOP per
# trained sequence. % fp32: of the GPU's fp32 (non-tensor-core) peak; % tf32: of its dense TF32
# tensor-core peak (table below by GPU name; PEAK_FP32 / PEAK_TF32 in TFLOP/s override it).
#
# Environment: BIN (default $CARGO_TARGET_DIR or target, /release/musicvae), DEVICE (cuda; cpu for
# a dry run), BATCH (512), STEPS (10 timed steps), WARMUP (2), PYTHON (python3), TOK2 / TOK16
# (token files from `musicvae prepare --npy`; random tokens when absent), ROW_TIMEOUT (seconds per
# command, 60), DEADLINE (epoch seconds after which no row starts), ROWS (space-separated subset
# of the row names below), RESULTS (JSON lines, default $OUT/bench-gpu.jsonl or /tmp),
# TABLE (the table is also written there), KERNEL_LOG (cubecl's compilation log, one
# "[Compiling kernel]" line per kernel: the kernels each row of ours compiled are counted).
# "ours s" is the wall time of our whole command (start, kernel compilation and autotuning,
# warm-up and timed steps): on a cold cache, most of it is compilation.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
REF=$REPO/bench/pytorch/musicvae_torch.py
BIN=${BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/musicvae}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-512}
STEPS=${STEPS:-10}
WARMUP=${WARMUP:-2}
PYTHON=${PYTHON:-python3}
ROW_TIMEOUT=${ROW_TIMEOUT:-60}
DEADLINE=${DEADLINE:-0}
RESULTS=${RESULTS:-${OUT:-/tmp}/bench-gpu.jsonl}
TABLE=${TABLE:-/dev/null}
TOK2=${TOK2:-}
TOK16=${TOK16:-}
KERNEL_LOG=${KERNEL_LOG:-}

die() { echo "run-gpu: $*" >&2; exit 2; }
[ -x "$BIN" ] || die "no musicvae binary at $BIN: build it (CUDARC_CUDA_VERSION=13000 cargo build --release --features cuda-lean) or set BIN"
"$PYTHON" -c 'import torch, numpy' 2>/dev/null \
  || die "PyTorch not found for $PYTHON: install torch and numpy (or set PYTHON to a Python that has them)"
case $DEVICE in cuda | cpu) ;; *) die "DEVICE must be cuda or cpu, got '$DEVICE'" ;; esac
[ -z "$TOK2" ] || [ -f "$TOK2" ] || die "TOK2=$TOK2 does not exist"
[ -z "$TOK16" ] || [ -f "$TOK16" ] || die "TOK16=$TOK16 does not exist"
[ -n "$TOK2" ] && TOK2=$(realpath "$TOK2")
[ -n "$TOK16" ] && TOK16=$(realpath "$TOK16")
mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# json_field JSON KEY [KEY...]: the value at that path ("" when absent or null).
json_field() {
  "$PYTHON" -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$@"
}
# calc EXPR: a Python expression, printed ("-" when it fails, e.g. a missing value).
calc() { "$PYTHON" -c "print($1)" 2>/dev/null || echo -; }
kernels_so_far() { if [ -n "$KERNEL_LOG" ] && [ -f "$KERNEL_LOG" ]; then grep -c 'Compiling kernel\]' "$KERNEL_LOG" || true; else echo 0; fi; }
time_left() { [ "$DEADLINE" -eq 0 ] || [ "$(date +%s)" -lt "$DEADLINE" ]; }

# boxed CMD...: run a command under the row time limit; prints its exit status on failure.
boxed() {
  local rc=0
  timeout -k 5 "$ROW_TIMEOUT" "$@" || rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "  (timed out after $ROW_TIMEOUT s: $(basename "$1") ${*:2:3} ...)" >&2
  elif [ "$rc" -ne 0 ]; then
    echo "  (failed with exit status $rc: $(basename "$1") ${*:2:3} ...)" >&2
  fi
  return "$rc"
}

# Peak GPU memory (MiB) of a command: nvidia-smi sampled every 100 ms (framework-neutral).
PEAK_MIB=-
peak_mem() {
  local log="$work/mem.txt" mon="" rc=0
  : >"$log"
  if [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null; then
    (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; sleep 0.1; done) >"$log" &
    mon=$!
  fi
  "$@" || rc=$?
  if [ -n "$mon" ]; then
    kill "$mon" 2>/dev/null || true
    wait "$mon" 2>/dev/null || true
  fi
  PEAK_MIB=$(sort -n "$log" | tail -1)
  PEAK_MIB=${PEAK_MIB:--}
  return "$rc"
}

echo "== device"
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1 || echo "(nvidia-smi not found)"
else
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores (dry run: no GPU peak)"
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
git -C "$REPO" log -1 --format='commit %h %ad' --date=short 2>/dev/null || true
# Dense peaks in TFLOP/s (vendor data sheets): fp32 on CUDA cores, TF32 on tensor cores.
case "$gpu_name" in
  *H200* | *H100*SXM* | *"H100 80GB HBM3"*) peak32=67 peak_tf32=495 ;;
  *H100*) peak32=51 peak_tf32=378 ;;
  *A100*) peak32=19.5 peak_tf32=156 ;;
  *L40S*) peak32=91.6 peak_tf32=183 ;;
  *) peak32=0 peak_tf32=0 ;;
esac
peak32=${PEAK_FP32:-$peak32}
peak_tf32=${PEAK_TF32:-$peak_tf32}
echo "peak TFLOP/s: fp32 $peak32, tf32 $peak_tf32 (0: unknown GPU, set PEAK_FP32 / PEAK_TF32)"

echo "== numerical agreement (same weights and batch, teacher-forced loss; PyTorch on $DEVICE)"
for cfg in cat-mel_2bar_small hierdec-mel_16bar; do
  time_left || { echo "$cfg: skipped (DEADLINE passed)"; continue; }
  if boxed "$BIN" bench agreement --config "$cfg" --batch-size 8 -o "$work/agree-$cfg" >/dev/null; then
    boxed "$PYTHON" "$REF" --agreement "$work/agree-$cfg" --device "$DEVICE" | tail -1 || true
  fi
done

# name | mode | token file
all_rows=(
  "cat-mel_2bar_small|teacher_forced|$TOK2"
  "cat-mel_2bar_small|sampled|$TOK2"
  "hierdec-mel_16bar|teacher_forced|$TOK16"
  "cat-mel_2bar_big|teacher_forced|$TOK2"
  "cat-mel_2bar_big|sampled|$TOK2"
)
header=$(printf '%-20s %-15s %6s %11s %11s %6s %11s %6s %8s %8s %7s %7s %7s %7s %7s' \
  config mode batch 'ours seq/s' 'torch fp32' ratio 'torch tf32' ratio 'ours MiB' 'torch MiB' \
  'ours%32' 'pt%32' 'pt%tf32' 'ours s' kernels)
lines=()
tf_ratio=-
echo "== throughput: ours (fp32) vs PyTorch (fp32, and TF32), batch $BATCH, $WARMUP warm-up + $STEPS timed steps, $ROW_TIMEOUT s per command"
for row in "${all_rows[@]}"; do
  IFS='|' read -r cfg mode tok <<<"$row"
  if [ -n "${ROWS:-}" ] && ! grep -qw -- "$cfg" <<<"$ROWS"; then continue; fi
  if ! time_left; then
    lines+=("$(printf '%-20s %-15s %6s %s' "$cfg" "$mode" "$BATCH" '(skipped: DEADLINE passed)')")
    continue
  fi
  echo "-- $cfg $mode" >&2
  data=()
  [ -n "$tok" ] && data=(--data "$tok")
  ours=- ours_mem=- torch=- torch_mem=- tf32=-
  : >"$work/ours.jsonl"
  k_before=$(kernels_so_far)
  t_start=$(date +%s.%N)
  if peak_mem boxed "$BIN" bench --json "$work/ours.jsonl" train --device "$DEVICE" --config "$cfg" \
    --mode "${mode//_/-}" --batch-size "$BATCH" --warmup "$WARMUP" --steps "$STEPS" "${data[@]}" >&2; then
    line=$(tail -1 "$work/ours.jsonl")
    echo "$line" >>"$RESULTS"
    ours=$(json_field "$line" result seq_per_sec)
    ours_mem=$PEAK_MIB
  fi
  ours_s=$(calc "f'{$(date +%s.%N) - $t_start:.1f}'")
  [ -n "$KERNEL_LOG" ] && kernels=$(($(kernels_so_far) - k_before)) || kernels=-
  for prec in fp32 tf32; do
    flag=()
    [ "$prec" = tf32 ] && flag=(--tf32)
    if out=$(boxed "$PYTHON" "$REF" --bench --config "$cfg" --mode "$mode" --batch "$BATCH" \
      --warmup "$WARMUP" --steps "$STEPS" --device "$DEVICE" "${data[@]}" "${flag[@]}"); then
      echo "$out" >>"$RESULTS"
      v=$(json_field "$out" seq_per_sec)
      if [ "$prec" = fp32 ]; then
        torch=$v
        b=$(json_field "$out" peak_mem_bytes)
        [ -n "$b" ] && torch_mem=$(calc "round($b / 2**20)")
      else
        tf32=$v
      fi
    fi
  done
  flops=$(json_field "$("$PYTHON" "$REF" --flops --config "$cfg")" train_flops_per_sequence)
  ratio=$(calc "f'{$ours / $torch:.2f}'")
  ratio_tf=$(calc "f'{$ours / $tf32:.2f}'")
  fr() { calc "f'{100 * $1 * $flops / ($2 * 1e12):.1f}%' if $2 > 0 else '-'"; }
  lines+=("$(printf '%-20s %-15s %6s %11s %11s %6s %11s %6s %8s %8s %7s %7s %7s %7s %7s' "$cfg" "$mode" "$BATCH" \
    "$(calc "f'{$ours:.1f}'")" "$(calc "f'{$torch:.1f}'")" "$ratio" "$(calc "f'{$tf32:.1f}'")" "$ratio_tf" \
    "$ours_mem" "$torch_mem" "$(fr "$ours" "$peak32")" "$(fr "$torch" "$peak32")" "$(fr "$tf32" "$peak_tf32")" \
    "$ours_s" "$kernels")")
  if [ "$cfg" = cat-mel_2bar_small ] && [ "$mode" = teacher_forced ]; then tf_ratio=$ratio; fi
done

echo "== results ($DEVICE; ratio = ours / PyTorch; MiB: peak GPU memory, nvidia-smi for ours, torch.cuda.max_memory_allocated for PyTorch)"
{
  echo "$header"
  printf '%s\n' "${lines[@]}"
} | tee "$TABLE"
echo "(JSON lines: $RESULTS)"
echo "gpu ratio cat-mel_2bar_small teacher-forced: $tf_ratio"
