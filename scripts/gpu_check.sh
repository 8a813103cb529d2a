#!/usr/bin/env bash
# The GPU readiness check: on a CUDA machine, in under 10 minutes, runs the CUDA rows of the train, eval,
# inference and re-ranking benchmarks, checks that CUDA and CPU embeddings agree, runs a short bf16 training,
# and prints one table (with the GPU's name) of every figure against its goal.
#
#   bash scripts/gpu_check.sh                       # on a CUDA machine, from the repository root
#   bash scripts/gpu_check.sh --device cpu --quick  # the same flow on the CPU with tiny sizes (seconds, no goals)
#
# Goals checked: IAUnet/baseline <= 1.2x (forward, training step, every CUDA inference runtime), bf16 >= 1.8x
# fp32 training throughput, re-ranking at MSMT17 scale (93,820 items) in under 60 s. Every figure is measured
# in this run. Each step's full output is kept under the work folder (printed at the start; --work-dir DIR).
set -euo pipefail

device=cuda
quick=0
work=""
python=${PYTHON:-python}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    --work-dir) work="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (expected --device cuda|cpu, --quick, --work-dir DIR)" >&2; exit 2 ;;
  esac
done
scripts=$(cd "$(dirname "$0")" && pwd)
work=${work:-$(mktemp -d -t gpu_check.XXXXXX)}
mkdir -p "$work"
echo "gpu_check: device $device, quick $quick, outputs in $work"

if [[ "$device" == cuda* ]]; then
  "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "gpu_check.sh: torch sees no CUDA device (use --device cpu --quick for a dry run)" >&2; exit 2; }
fi

if [[ $quick == 1 ]]; then
  train_args=(--architecture iaunet_resnet18 --batch-size 4 --num-instances 2 --height 64 --width 32 --steps 1 --warmup 0)
  inference_args=(--quick --batch-sizes 1 --seconds 0.05 --repeats 1)
  eval_args=(--parts rerank --rerank-scale tiny --rerank-modes bf16)
  training_args=(--data.height 64 --data.width 32 --data.batch_size 8 --data.num_instances 4 --train.max_steps_per_epoch 1)
  report_args=(--quick)
else
  train_args=(--steps 10 --warmup 3 --batch-size 64)
  inference_args=(--batch-sizes 1 32 --seconds 2 --repeats 3)
  eval_args=(--parts metrics features rerank --rerank-scale msmt17 --rerank-modes bf16 --threads 8)
  training_args=(--train.max_steps_per_epoch 40)
  report_args=()
fi
inference_rows=$([[ "$device" == cuda* ]] && echo cuda || echo pytorch)

step() {  # step NAME COMMAND...: runs it, keeps its output, says how long it took
  local name=$1; shift
  local start=$SECONDS
  echo "== $name"
  if "$@" > "$work/$name.log" 2>&1; then
    echo "   done in $((SECONDS - start)) s"
  else
    echo "   FAILED after $((SECONDS - start)) s; the end of $work/$name.log:" >&2
    tail -n 20 "$work/$name.log" >&2
    exit 1
  fi
}

step train "$python" "$scripts/benchmark_train.py" --device "$device" "${train_args[@]}"
step inference "$python" "$scripts/benchmark_inference.py" --rows "$inference_rows" \
  --output "$work/inference.json" "${inference_args[@]}"
step eval "$python" "$scripts/benchmark_eval.py" --device "$device" --json "$work/eval.json" "${eval_args[@]}"
cpu_flag=$([[ "$device" == cpu ]] && echo "--train.cpu true" || echo "")
# shellcheck disable=SC2086  # cpu_flag is two words or none
step bf16_training "$python" -m iaunet_hf.train --recipe synthetic --data-dir "$work/synthetic" \
  --output-dir "$work/bf16_run" --epochs 1 --mixed-precision bf16 --eval.every_epochs 0 \
  --eval.rerank false "${training_args[@]}" $cpu_flag

# CUDA vs CPU embeddings, then the table of everything
"$python" "$scripts/gpu_check_report.py" --device "$device" --work-dir "$work" "${report_args[@]}"
