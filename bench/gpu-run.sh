#!/usr/bin/env bash
# One command on the GPU machine does a whole GPU run inside one lease (at most MAX_SECONDS, 530 s
# by default, below the device tool's 600 s per command): unpack the binary that
# scripts/gpu-prepare packed into .device/, find the driver and NVRTC, restore the kernel cache,
# run the ratio table against PyTorch (bench/run-gpu.sh, every command time-boxed), train a preset
# for a number of minutes (optionally resuming the checkpoint that was carried), stop cleanly with
# a checkpoint, and leave in $OUT at most 8 files of at most 16 MiB:
#   report.txt            everything printed (device, table, kernel counts, training log)
#   metrics.jsonl, curves.png      the training run's
#   kernel-cache.tar.gz   PTX and autotune caches of this binary, for the next lease
#   checkpoint.tgz.part-I-of-N     the run's checkpoint, in parts (scripts/gpu-prepare --collect)
#   model-f16.tar         the exported f16 model (left out first when slots run short: --collect
#                         exports it from the checkpoint)
#   table.txt             the ratio table alone (also in report.txt; left out next)
#
#   bench/gpu-run.sh --train cat-mel_2bar_small --minutes 4
#   bench/gpu-run.sh --resume --minutes 6 --no-bench            # continue the carried checkpoint
#   bench/gpu-run.sh --no-bench --train cat-mel_2bar_small -- --batch-size 256 --eval-every 500
#   DEVICE=cpu OUT=/tmp/o bench/gpu-run.sh --no-bench --train tiny --minutes 0.2   # CPU dry run
#
# Options: --device-dir DIR (what gpu-prepare filled; default .device), --train CONFIG (a preset
# whose cache gpu-prepare wrote; default with --resume: the checkpoint's), --minutes N (training
# time, fractions allowed; default 4, cut to what the lease leaves), --resume, --no-bench (the
# ratio table is also skipped, with a note, when python3 has no torch), --bench-seconds S (time
# for the table when training follows; default 210), arguments after -- go to `musicvae train`.
# Environment: DEVICE (cuda; cpu for a dry run), OUT (the results folder; must be empty),
# MAX_SECONDS (530), ROW_TIMEOUT (60 s per table command), PYTHON (python3, or the GPU machine's
# /opt/torch/.venv/bin/python when python3 has no torch), PART_MIB (16: size of
# the checkpoint parts, and the largest file returned; smaller in tests); BATCH, STEPS, WARMUP, ROWS
# go to bench/run-gpu.sh.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
T0=$(date +%s)
die() { echo "gpu-run: $*" >&2; exit 2; }

devdir=$REPO/.device train="" minutes=4 resume=0 bench=1 bench_seconds=210
train_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --device-dir) devdir=${2:?--device-dir needs a folder}; shift 2 ;;
    --train) train=${2:?--train needs a preset}; shift 2 ;;
    --minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
    --resume) resume=1; shift ;;
    --no-bench) bench=0; shift ;;
    --bench-seconds) bench_seconds=${2:?--bench-seconds needs a number}; shift 2 ;;
    --) shift; train_args=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/musicvae-gpu-out}
MAX_SECONDS=${MAX_SECONDS:-530}
ROW_TIMEOUT=${ROW_TIMEOUT:-60}
PYTHON=${PYTHON:-python3}
DEADLINE=$((T0 + MAX_SECONDS))
MAX_FILES=8
PART_MIB=${PART_MIB:-16}
{ [[ $PART_MIB =~ ^[1-9][0-9]*$ ]] && [ "$PART_MIB" -le 16 ]; } || die "PART_MIB must be a whole number from 1 to 16, got '$PART_MIB'"
PART_BYTES=$((PART_MIB * 1024 * 1024))

case $DEVICE in cuda | cpu) ;; *) die "DEVICE must be cuda or cpu, got '$DEVICE'" ;; esac
awk -v m="$minutes" 'BEGIN { exit !(m + 0 > 0 && m == m + 0) }' || die "--minutes must be a positive number, got '$minutes'"
[[ $bench_seconds =~ ^[0-9]+$ ]] || die "--bench-seconds must be a whole number of seconds, got '$bench_seconds'"
[[ $MAX_SECONDS =~ ^[0-9]+$ ]] || die "MAX_SECONDS must be a whole number of seconds, got '$MAX_SECONDS'"
[ -d "$devdir" ] || die "no $devdir: run scripts/gpu-prepare first (and carry the folder to this machine)"
devdir=$(cd "$devdir" && pwd)
[ -f "$devdir/musicvae.gz" ] || die "no musicvae.gz in $devdir: run scripts/gpu-prepare first"
if [ "$resume" = 1 ]; then
  [ -f "$devdir/checkpoint.tgz" ] || die "--resume: no checkpoint.tgz in $devdir: carry one with scripts/gpu-prepare --checkpoint RUN"
  [ -n "$train" ] || train=$(cat "$devdir/checkpoint-config" 2>/dev/null || true)
  [ -n "$train" ] || die "--resume: the preset of the carried checkpoint is unknown; name it with --train"
fi
if [ -n "$train" ] && [ ! -f "$devdir/cache-$train.tgz" ]; then
  die "no training cache for $train in $devdir: run scripts/gpu-prepare --train $train"
fi
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ]; then die "OUT=$OUT is not empty: the results need an empty folder"; fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

main() {
  local kc bin sha
  work=$(mktemp -d "${TMPDIR:-/tmp}/musicvae-gpu.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  kc=$work/kc # the binary's working folder: cubecl.toml and the kernel caches
  bin=$work/musicvae
  mkdir -p "$kc" "$work/keep"
  echo "== gpu-run $(date -u +%Y-%m-%dT%H:%M:%SZ), DEVICE=$DEVICE, budget $MAX_SECONDS s"
  sed 's/^/  /' "$devdir/build.txt" 2>/dev/null || true
  gunzip -c "$devdir/musicvae.gz" >"$bin" || die "cannot unpack $devdir/musicvae.gz (damaged? run scripts/gpu-prepare again)"
  chmod +x "$bin"
  sha=$(sha256sum "$bin" | cut -d' ' -f1)
  if [ -f "$devdir/musicvae.sha256" ] && [ "$(cat "$devdir/musicvae.sha256")" != "$sha" ]; then
    die "the unpacked binary does not match musicvae.sha256 (damaged in transfer): run scripts/gpu-prepare again"
  fi
  "$bin" --version >/dev/null 2>&1 || die "the packed binary does not run on this machine (another CPU architecture or C library?)"

  if [ "$DEVICE" = cuda ]; then
    # cudarc loads libcuda (driver) and libnvrtc (toolkit) at run time.
    local d lib
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
      [ -d "$d" ] && LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
    done
    for lib in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/dist-packages/nvidia/*/lib; do
      [ -d "$lib" ] && LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$lib"
    done
    export LD_LIBRARY_PATH
    command -v nvidia-smi >/dev/null || die "nvidia-smi not found: no NVIDIA driver on this machine (run on the GPU machine, or DEVICE=cpu for a dry run)"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader \
      || die "nvidia-smi fails: the NVIDIA driver does not see a GPU (DEVICE=cpu for a dry run)"
    has_lib() {
      ldconfig -p 2>/dev/null | grep -q "$1" && return 0
      local dir
      for dir in ${LD_LIBRARY_PATH//:/ }; do compgen -G "$dir/$1*" >/dev/null && return 0; done
      return 1
    }
    has_lib libcuda.so || die "libcuda.so not found: install the NVIDIA driver, or add its folder to LD_LIBRARY_PATH"
    has_lib libnvrtc.so || die "libnvrtc.so (NVRTC, CUDA toolkit) not found: install the CUDA toolkit, or add its lib64 folder to LD_LIBRARY_PATH"
  fi

  # Kernel cache: cubecl.toml in the working folder, and the caches of this very binary.
  if [ -f "$devdir/cubecl.toml" ]; then cp "$devdir/cubecl.toml" "$kc/"; else echo "(no cubecl.toml in $devdir: no kernel caches this run)"; fi
  if [ -f "$devdir/kernel-cache.tar.gz" ]; then
    local stamp
    stamp=$(tar -xzOf "$devdir/kernel-cache.tar.gz" ./BINARY-SHA256 2>/dev/null || true)
    if [ "$stamp" = "$sha" ]; then
      tar -xzf "$devdir/kernel-cache.tar.gz" -C "$kc"
      echo "kernel cache restored: $(find "$kc" -type f | wc -l) files, $(du -sh "$kc" | cut -f1)"
    else
      echo "kernel cache in $devdir ignored: made by another binary (stamp ${stamp:-none}); compiling afresh"
    fi
  else
    echo "no kernel cache carried: every kernel is compiled this run"
  fi
  echo "$sha" >"$kc/BINARY-SHA256"
  # count FILE PATTERN: lines of FILE that match (0 when it does not exist).
  count() { if [ -f "$1" ]; then grep -c "$2" "$1" || true; else echo 0; fi; }
  kernels() { count "$kc/cubecl-compile.log" 'Compiling kernel\]'; }
  tuned() { count "$kc/cubecl-autotune.log" 'Fastest result'; }

  # ---- ratio table ----
  local k0 k1 k2 a0 a1 a2
  k0=$(kernels) a0=$(tuned)
  if [ "$PYTHON" = python3 ] && ! python3 -c 'import torch' 2>/dev/null && [ -x /opt/torch/.venv/bin/python ]; then
    PYTHON=/opt/torch/.venv/bin/python # where the GPU machine's PyTorch lives
  fi
  if [ "$bench" = 0 ]; then
    echo "== ratio table skipped (--no-bench)"
  elif ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null; then
    echo "== ratio table skipped: $PYTHON has no torch/numpy (the PyTorch reference needs them)"
  else
    local bench_until=$DEADLINE
    [ -n "$train" ] && bench_until=$(($(date +%s) + bench_seconds))
    [ "$bench_until" -gt $((DEADLINE - 30)) ] && bench_until=$((DEADLINE - 30))
    local tok=() t
    for t in 2bar 16bar; do
      if [ -f "$devdir/tokens_$t.npy.gz" ]; then
        gunzip -c "$devdir/tokens_$t.npy.gz" >"$work/tokens_$t.npy"
        tok+=("TOK${t%bar}=$work/tokens_$t.npy")
      fi
    done
    echo "== ratio table (until $((bench_until - T0)) s into the run)"
    (cd "$kc" && env "${tok[@]}" DEVICE="$DEVICE" BIN="$bin" PYTHON="$PYTHON" DEADLINE="$bench_until" \
      ROW_TIMEOUT="$ROW_TIMEOUT" RESULTS="$work/bench.jsonl" TABLE="$work/keep/table.txt" \
      KERNEL_LOG="$kc/cubecl-compile.log" \
      bash "$REPO/bench/run-gpu.sh") || echo "(ratio table stopped with exit status $?)"
    if [ -f "$work/bench.jsonl" ]; then
      echo "-- JSON lines"
      cat "$work/bench.jsonl"
    fi
  fi
  k1=$(kernels) a1=$(tuned)

  # ---- training ----
  local run=$work/run first="-" rc=0
  if [ -n "$train" ]; then
    local now left train_s hard mins args
    now=$(date +%s)
    # The trainer stops itself (checkpoint included) 90 s before the deadline at the latest: time
    # for the step in flight, the checkpoint, the export and the packing.
    left=$((DEADLINE - 90 - now))
    train_s=$(awk -v m="$minutes" -v l="$left" 'BEGIN { s = m * 60; printf "%.1f", (s < l ? s : l) }')
    if [ "$left" -lt 10 ]; then
      echo "== training skipped: only $left s left before the stop reserve"
    else
      mins=$(awk -v s="$train_s" 'BEGIN { printf "%.4f", s / 60 }')
      tar -xzf "$devdir/cache-$train.tgz" -C "$work"
      args=(train --data "$work/cache-$train" --out "$run" --device "$DEVICE" --minutes "$mins")
      if [ "$resume" = 1 ]; then
        mkdir -p "$run"
        tar -xzf "$devdir/checkpoint.tgz" -C "$run"
        args+=(--resume)
        echo "== training: resuming the carried $train checkpoint for $train_s s"
      else
        args+=(--config "$train")
        echo "== training: $train for $train_s s"
      fi
      args+=("${train_args[@]}")
      echo "+ musicvae ${args[*]}"
      # A hard stop in case a step never ends: SIGINT (the trainer's Ctrl-C: checkpoint after the
      # step in flight) 25 s before the deadline, SIGKILL 15 s later.
      hard=$((DEADLINE - 25 - $(date +%s)))
      (cd "$kc" && timeout -s INT -k 15 "$hard" "$bin" "${args[@]}") >"$work/train.log" 2>&1 || rc=$?
      tr '\r' '\n' <"$work/train.log" | grep -v '^\s*$' | tail -n 25
      first=$(sed -n 's/^first step finished \([0-9.]*\) s.*/\1/p' "$work/train.log" | head -1)
      first=${first:--}
      case $rc in
        0) ;;
        124) echo "training: stopped by the hard time limit (SIGINT) with exit status 124" ;;
        137) echo "training: killed by the hard time limit: no new checkpoint from this run" ;;
        *)
          echo "training failed with exit status $rc"
          if grep -qi "out of memory" "$work/train.log"; then
            echo "cause: out of GPU memory; fix: a smaller --batch-size after -- (e.g. -- --batch-size 256)"
          fi
          ;;
      esac
    fi
  else
    echo "== no training (--train CONFIG names a preset to train)"
  fi
  k2=$(kernels) a2=$(tuned)

  # ---- results ----
  echo "== results"
  [ -f "$run/metrics.jsonl" ] && cp "$run/metrics.jsonl" "$work/keep/"
  [ -f "$run/curves.png" ] && cp "$run/curves.png" "$work/keep/"
  local ck="" s best=-1 d
  for d in "$run/checkpoint" "$run/checkpoint.tmp" "$run/checkpoint.old"; do
    s=$(sed -n 's/^ *"step": *\([0-9]*\).*/\1/p' "$d/complete.json" 2>/dev/null | head -1 || true)
    if [ -n "$s" ] && [ "$s" -gt "$best" ]; then ck=$d best=$s; fi
  done
  if [ -n "$ck" ]; then
    echo "checkpoint at step $best"
    if [ -f "$run/model.mpk" ] && "$bin" export "$run" --out "$work/f16" --half >/dev/null; then
      tar -cf "$work/keep/model-f16.tar" -C "$work/f16" .
    fi
    local members=("$(basename "$ck")")
    [ -f "$run/metrics.jsonl" ] && members+=(metrics.jsonl)
    cmp -s "$run/model.mpk" "$ck/model.mpk" && [ -f "$run/config.json" ] && members+=(config.json)
    tar -czf "$work/checkpoint.tgz" -C "$run" "${members[@]}"
    mkdir -p "$work/parts"
    split -b "$PART_BYTES" -d -a 3 "$work/checkpoint.tgz" "$work/parts/p"
    local parts=("$work/parts"/p*) i=0 p
    for p in "${parts[@]}"; do
      i=$((i + 1))
      mv "$p" "$work/parts/checkpoint.tgz.part-$i-of-${#parts[@]}"
    done
  fi
  tar -czf "$work/keep/kernel-cache.tar.gz" -C "$kc" --exclude=./cubecl.toml --exclude='./cubecl-*.log' .

  # At most 8 files of at most 16 MiB: report.txt, then in this order while slots are left.
  local slots=$((MAX_FILES - 1)) f size n
  local order=(metrics.jsonl curves.png kernel-cache.tar.gz PARTS model-f16.tar table.txt)
  for f in "${order[@]}"; do
    if [ "$f" = PARTS ]; then
      [ -d "$work/parts" ] || continue
      n=$(find "$work/parts" -type f | wc -l)
      if [ "$n" -le "$slots" ]; then
        cp "$work/parts"/* "$OUT/"
        slots=$((slots - n))
      else
        echo "left out: the checkpoint ($n parts of $PART_MIB MiB; $slots slots left)"
      fi
      continue
    fi
    [ -f "$work/keep/$f" ] || continue
    size=$(stat -c %s "$work/keep/$f")
    if [ "$size" -gt "$PART_BYTES" ]; then
      echo "left out: $f ($size bytes, over $PART_MIB MiB)"
    elif [ "$slots" -eq 0 ]; then
      case $f in
        model-f16.tar) echo "left out: model-f16.tar (no slot left; scripts/gpu-prepare --collect exports it from the checkpoint)" ;;
        table.txt) echo "left out: table.txt (no slot left; the table is in report.txt)" ;;
        *) echo "left out: $f (no slot left)" ;;
      esac
    else
      cp "$work/keep/$f" "$OUT/"
      slots=$((slots - 1))
    fi
  done

  local end
  end=$(date +%s)
  echo "== summary"
  echo "first training step: ${first} s after the trainer started"
  if [ "$DEVICE" = cuda ]; then
    echo "kernels compiled: ratio table $((k1 - k0)), training $((k2 - k1)); autotune keys: table $((a1 - a0)), training $((a2 - a1))"
  fi
  echo "train exit status $rc; gpu-run took $((end - T0)) s of $MAX_SECONDS"
  echo "files in $OUT:"
  (cd "$OUT" && for f in report.txt *; do [ -f "$f" ] && printf '  %-36s %10s bytes\n' "$f" "$(stat -c %s "$f")"; done | sort -u)
}

# Everything printed goes to report.txt too; the exit status is main's (pipefail).
main 2>&1 | tee "$OUT/report.txt"
