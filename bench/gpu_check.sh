#!/usr/bin/env bash
# GPU check for the training runner, at most 8 minutes on one GPU (an H100 takes about 4).
#
#   bench/gpu_check.sh            # from the repository root, with .venv or python on PATH
#
# 1. Training throughput, spec-built against torchvision, same loop, side by side:
#    resnet50 and resnet18 at 3x224x224, batch 128, bf16 autocast, channels-last;
#    images/s and achieved TFLOP/s from the analysed MACs (6 FLOPs per MAC per image).
#    -> bench/results/train_cuda.json
# 2. The runner itself on the GPU: `archcalc build resnet18 --train` on synthetic data
#    kept on the device (bf16, channels-last by default on cuda), checks included,
#    and resnet50 for 30 steps without checks. -> bench/results/gpu_runs/*/summary.json
# 3. Time before you train: `archcalc calibrate --device cuda`'s profile and the card's
#    datasheet profile (when archcalc's table has it) give a roofline estimate of a training
#    step of resnet18, vgg11 and mobilenet_v2 at 3x224x224, batch 128, bf16 autocast,
#    channels-last, set beside the measured step (ratio, MFU); and `archcalc plan`'s fp32
#    training memory beside torch.cuda.max_memory_allocated over two fp32 steps.
#    -> bench/results/step_time_cuda.json; the roofline plot of resnet50 on the datasheet
#    profile -> bench/results/roofline_resnet50_cuda.png
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export COLUMNS=160

"$PYTHON" - <<'EOF'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)
EOF

echo "== 1. throughput: spec-built vs torchvision (same loop) =="
timeout 150 "$PYTHON" bench/bench_train.py --device cuda --models resnet50,resnet18 \
    --input 3x224x224 --batch 128 --amp --channels-last --steps 10 --repeats 5 --warmup 5 --record

echo "== 2. the runner on the GPU =="
rm -rf bench/results/gpu_runs
start=$(date +%s)
timeout 60 "$PYTHON" -m archcalc build resnet18 --train --device cuda --data synthetic \
    --max-steps 50 --check-seconds 20 --out bench/results/gpu_runs/resnet18 || true
timeout 60 "$PYTHON" -m archcalc build resnet50 --train --device cuda --data synthetic \
    --max-steps 30 --no-checks --out bench/results/gpu_runs/resnet50 || true
echo "runner wall time: $(( $(date +%s) - start )) s"
for run in bench/results/gpu_runs/*/; do
    echo "$run: $(tr -d '\n' < "$run/summary.json" | head -c 400)"
done
rm -f bench/results/gpu_runs/*/*.pt   # checkpoints are large; the figures are in the json

echo "== 3. time before you train: roofline estimate vs measured step; plan vs CUDA memory =="
timeout 180 "$PYTHON" bench/bench_step_time.py --device cuda --amp --channels-last \
    --batch 128 --steps 10 --seconds 8 --memory --record
card=$("$PYTHON" -c "import torch; from archcalc.analysis.devices import DATASHEETS, \
datasheet_for; p = datasheet_for(torch.cuda.get_device_name(0)); \
print(next((k for k, v in DATASHEETS.items() if v is p), ''))")
if [ -n "$card" ]; then
    timeout 60 "$PYTHON" -m archcalc roofline resnet50 --device "$card" --dtype bf16 \
        --batch 128 --images 1281167 --out bench/results/roofline_resnet50_cuda.png
else
    echo "this card is not in archcalc's datasheet table: only the calibrated estimate"
fi
