#!/usr/bin/env bash
# Training throughput of musicvae (Rust/burn, CPU) against the PyTorch reference on the same cores,
# in one run, with the ratio per row and each side's achieved GFLOP/s beside the sgemm GFLOP/s of
# the same cores. The last line is `cpu ratio cat-mel_2bar_small teacher-forced: X.XX` (batch 64).
#
#   bench/run-cpu.sh                 # build (release) if needed, install torch into bench/.venv if missing
#   QUICK=1 bench/run-cpu.sh         # the batch-64 rows only
#
# FLOP model (bench/pytorch/musicvae_torch.py --flops): matrix products only — every LSTM layer's
# input and recurrent products, the output layer — of the forward pass, ×3 for forward + backward;
# the same count for both sides and for sampled decoding. cat-mel_2bar_small: 0.697 GFLOP per
# trained sequence.
#
# Environment: BIN (default target/release/musicvae), THREADS (default: all cores; both sides use
# the same number), STEPS (timed steps, 5), WARMUP (1), REPEAT (rounds per row, 3: ours and
# PyTorch alternate, each side's median is reported with its range), PYTHON (default
# bench/.venv/bin/python).
# Run it on a quiet machine: another job slows PyTorch's threads far more than ours. On a shared
# VM one run of a few steps can be off by a third; the medians of alternating rounds are not.
set -euo pipefail
cd "$(dirname "$0")/.."

THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-1}
REPEAT=${REPEAT:-3}
BIN=${BIN:-target/release/musicvae}
VENV=bench/.venv
PYTHON=${PYTHON:-$VENV/bin/python}
REF=bench/pytorch/musicvae_torch.py
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

if [ ! -x "$BIN" ]; then
  echo "== building $BIN" >&2
  cargo build --release >&2
fi
if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
  echo "== installing torch and numpy into $VENV (git-ignored)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch numpy >&2
  PYTHON=$VENV/bin/python
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# json_field JSON KEY [KEY...]: the value at that path.
json_field() {
  "$PYTHON" -c 'import json, sys
v = json.loads(sys.argv[1])
for k in sys.argv[2:]:
    v = v[k]
print(v)' "$@"
}

echo "== machine"
echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, threads used: $THREADS"
grep -o -w 'avx512f\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
"$PYTHON" -c 'import torch; print("torch", torch.__version__)'
git log -1 --format='commit %h %ad' --date=short 2>/dev/null || true

echo "== sgemm 512x602x2048 (same cores, same threads)"
"$BIN" bench kernels --sgemm 512,602,2048 --hidden 256 --hidden 512 --batch 64 --steps 32 --json "$work/k.jsonl"
ours_sgemm=$(json_field "$(head -1 "$work/k.jsonl")" row gflops)
torch_sgemm=$(json_field "$("$PYTHON" $REF --sgemm 512,602,2048 --threads "$THREADS")" gflops)
printf 'sgemm GFLOP/s: ours (gemm crate) %.1f, torch.matmul %.1f\n' "$ours_sgemm" "$torch_sgemm"
peak=$("$PYTHON" -c "print(max($ours_sgemm, $torch_sgemm))")

# name | musicvae preset and overrides | PyTorch preset | mode | batch
rows=(
  "cat-mel_2bar_small|cat-mel_2bar_small||teacher_forced|64"
  "cat-mel_2bar_small|cat-mel_2bar_small||sampled|64"
)
if [ -z "${QUICK:-}" ]; then
  rows+=(
    "cat-mel_2bar_small|cat-mel_2bar_small||teacher_forced|512"
    "cat-mel_2bar_small|cat-mel_2bar_small||sampled|512"
    "hierdec-mel_16bar-small|hierdec-mel_16bar|--set z_size=256 --set enc_rnn_size=[512] --set dec_rnn_size=[256,256]|teacher_forced|32"
  )
fi

table="$work/table.txt"
printf '%-24s %-15s %6s %12s %12s %7s %10s %10s %8s %8s  %s\n' row mode batch 'ours seq/s' 'torch seq/s' ratio 'ours GF/s' 'torch GF/s' 'ours %' 'torch %' 'range ours | torch | ratio' >"$table"
tf_ratio=""
for row in "${rows[@]}"; do
  IFS='|' read -r ref_name preset sets mode batch <<<"$row"
  flops=$(json_field "$("$PYTHON" $REF --flops --config "$ref_name")" train_flops_per_sequence)
  ours_mode=${mode//_/-}
  os=() ts=()
  for round in $(seq "$REPEAT"); do
    echo "== $ref_name $mode batch $batch (round $round of $REPEAT)" >&2
    # shellcheck disable=SC2086
    "$BIN" bench train --config "$preset" $sets --mode "$ours_mode" --batch-size "$batch" \
      --warmup "$WARMUP" --steps "$STEPS" --json "$work/ours.jsonl" >&2
    os+=("$(json_field "$(tail -1 "$work/ours.jsonl")" result seq_per_sec)")
    theirs=$("$PYTHON" $REF --bench --config "$ref_name" --mode "$mode" --batch "$batch" \
      --warmup "$WARMUP" --steps "$STEPS" --device cpu --threads "$THREADS")
    ts+=("$(json_field "$theirs" seq_per_sec)")
  done
  line=$("$PYTHON" - "$flops" "$peak" "${#os[@]}" "${os[@]}" "${ts[@]}" <<'EOF'
import statistics, sys
f, peak, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
os_, ts = [float(v) for v in sys.argv[4:4 + n]], [float(v) for v in sys.argv[4 + n:]]
o, t = statistics.median(os_), statistics.median(ts)
# The ratio: median over rounds of ours / PyTorch within the round (the two ran back to back, so
# the VM's drift from one minute to the next cancels), with its range.
rs = [a / b for a, b in zip(os_, ts)]
r = statistics.median(rs)
og, tg = o * f / 1e9, t * f / 1e9
print(f"{o:12.1f} {t:12.1f} {r:7.2f} {og:10.1f} {tg:10.1f} {100 * og / peak:7.0f}% {100 * tg / peak:7.0f}%"
      f"  {min(os_):.0f}-{max(os_):.0f} | {min(ts):.0f}-{max(ts):.0f} | {min(rs):.2f}-{max(rs):.2f}")
print(f"{r:.2f}")
EOF
)
  ratio=$(tail -1 <<<"$line")
  line=$(head -1 <<<"$line")
  printf '%-24s %-15s %6s %s\n' "$ref_name" "$mode" "$batch" "$line" >>"$table"
  if [ "$ref_name" = cat-mel_2bar_small ] && [ "$mode" = teacher_forced ] && [ "$batch" = 64 ]; then
    tf_ratio=$ratio
  fi
done

echo "== results: medians of $REPEAT alternating rounds of $STEPS steps; ratio: the median of the rounds' ours / PyTorch (GF/s: the FLOP model above; %: of the best sgemm GFLOP/s measured in this run, $peak)"
cat "$table"
echo "cpu ratio cat-mel_2bar_small teacher-forced: $tf_ratio"
