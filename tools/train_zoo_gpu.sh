#!/usr/bin/env bash
# Trains the six kgan zoo entries with Keras on JAX, concurrently, on one GPU machine that
# has JAX but no TensorFlow (and no network): `KERAS_BACKEND=jax tools/train_zoo.py NAME
# --nopublish`, the same `model.fit` path (kgan.training.train: resumable backups, NaNGuard,
# sample grids) as on TensorFlow, with numpy batches from kgan.data.load.
# It reads a git-ignored .dev/ folder sent along with the code (carry [".dev"]), which
# `bash tools/device_tree.sh prepare SET ...` fills (e.g. `prepare cifar10`):
#   .dev/wheels/  keras, namex and optree wheels for the machine's Python 3.12
#   .dev/data/    copies of the data sets the entries read: mnist/ and fashion_mnist/ (IDX
#                 train files), cifar10/ (cifar10_{train,test}_jpeg.npz, 18 MB),
#                 spoken_digits/ (spoken_digits.npz)
# The zoo's tracked weights are too large to travel: `bash tools/device_tree.sh slim` before
# the device call, `restore` after it (see that script). Then, from the repository root there:
#
#     bash tools/train_zoo_gpu.sh [MAX_MINUTES] [NAME=EPOCHS ...]
#
# and publish each returned run on a TensorFlow machine (the card's metrics need it) with
# tools/train_zoo.py NAME --from_run DIR (DIR holds <name>.json, <name>.entry.weights.h5).
#
#   MAX_MINUTES  training budget per process, counted from the start of fit (XLA
#                compilation included, imports not); each run then stops after its current
#                epoch and still writes weights, samples and its JSON. A run still going
#                2.5 minutes past it is killed (its backup/ resumes it; no JSON). Default 6.
#   NAME=EPOCHS  overrides an entry's epochs (default: the recipe's, below).
#
# What comes back under $OUT: summary.txt and one <name>.tar per entry holding what
# --from_run publishes (<name>.entry.weights.h5, <name>.json) with the samples, progress
# grids, history and log; not backup/ or the full training state (<name>.weights.h5), which
# are 85 MB for a CIFAR-10 ResNet and could not travel back for a resume anyway. A tar over
# PART_BYTES (default 16000000, the device tool's limit per returned file) is cut into
# <name>.tar.partNN files (rejoin with `cat <name>.tar.part* | tar -x`). The tool returns at
# most 8 files and 64 MiB per call: a CIFAR-10 ResNet entry is 27 MB, the CIFAR-10 DCGAN 8,
# so no more than two ResNet entries fit. The whole script takes about MAX_MINUTES + 1
# minute (wheel install, final saves, packing). Other entries train the same way, e.g.
#   KGAN_ENTRIES="sngan_cifar10 dcgan_cifar10" EXTRA_FLAGS="--precision bfloat16" \
#       bash tools/train_zoo_gpu.sh 8
# (audio entries need `prepare spoken_digits`).
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
MAX_MINUTES=${1:-6}
shift || true
OUT=${OUT:-/tmp/kgan_out}
RUNS=/tmp/kgan_runs            # working folder; only the packed files go to $OUT
rm -rf "$RUNS"; mkdir -p "$OUT" "$RUNS"
T0=$(date +%s)

# Epochs per entry: the zoo recipes' own. Estimate for one H100 (how it was sized):
# XLA's cost analysis of one jitted training step gives ~18 GFLOP for dcgan/cgan at batch
# 128 (d + g update), ~3 GFLOP for the MLP vanilla GAN, and ~12 GFLOP per critic update
# (+GP double backprop) x 5 + the generator update for WGAN-GP at batch 64 (~50 GFLOP).
# Assuming ~40 TFLOP/s effective (TF32, small convs) plus ~0.5 ms of kernel launches per
# update: dcgan/cgan ~1 ms/step -> ~0.5 s per 468-step epoch; vanilla ~0.3 ms/step ->
# ~0.15 s/epoch; WGAN-GP ~4 ms/step -> ~4 s per 937-step epoch. Serial GPU work at the
# recipe epochs: 4 x (30|40) x 0.5 s + 60 x 0.15 s + 40 x 4 s ~ 240 s; six processes
# time-share the GPU (no MPS), and compilation (~30-60 s, in parallel on 16 cores) comes
# first, so the recipes should finish inside 6 minutes, WGAN-GP last (alone at the end).
# If the estimate is off, --max_minutes stops each run gracefully at an epoch end and its
# JSON records epochs_completed, so the cards state what was actually trained (rerunning
# with the same run folder resumes from runs' backup/ on the same machine; a lent machine
# starts bare and an 85 MB CIFAR-10 backup cannot travel to the next one).
# The CIFAR-10 entries, by XLA's cost analysis of G and D (forward: SNGAN/cGAN G 3.2 GFLOP
# per image, D 0.52; WGAN-GP's ResNet G 0.80, D 0.51; DCGAN 0.03 each): sngan_cifar10 and
# cgan_cifar10 take ~2.7 TFLOP per step (5 D updates + 1 G update, batch 64), 136 PFLOP for
# the recipe's 50k steps: ~15 minutes of an H200 at 150 TFLOP/s, so pass
# EXTRA_FLAGS="--precision bfloat16" and give the call one ResNet entry; dcgan_cifar10's
# 23k steps are ~1.2 PFLOP (a minute). On the 2-core CPU the same sngan_cifar10 step takes
# ~8 s in bfloat16 (110 hours for the recipe).
declare -A EPOCHS=(
  [wgan_gp_fashion_mnist]=50
  [dcgan_fashion_mnist]=60
  [cgan_fashion_mnist]=60
  [dcgan_mnist]=60
  [cgan_mnist]=50
  [vanilla_gan_mnist]=120
)
ORDER=${KGAN_ENTRIES:-"wgan_gp_fashion_mnist dcgan_fashion_mnist cgan_fashion_mnist dcgan_mnist cgan_mnist vanilla_gan_mnist"}
PY=${PY:-python3}   # the machine's python3 holds JAX
EXTRA_FLAGS=${EXTRA_FLAGS:-}   # e.g. "--steps_per_epoch 5" for a smoke test
for arg in "$@"; do
  EPOCHS[${arg%%=*}]=${arg##*=}
done

# keras, namex and optree are the only packages missing on the machine (absl-py, numpy,
# rich, h5py, ml-dtypes, packaging, typing-extensions, pillow and jax are there).
if [ -n "${SKIP_WHEELS:-}" ]; then
  echo "SKIP_WHEELS set: using $PY's own keras"
elif ! $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .dev/wheels/*.whl; then
  echo "pip failed; unzipping the wheels instead"
  $PY -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall("/tmp/site") for w in sys.argv[1:]]' .dev/wheels/*.whl
fi
export PYTHONPATH=/tmp/site:$REPO
export KERAS_BACKEND=jax
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # six processes share the GPU's memory
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=1

{
  echo "== $(date -u) host $(hostname) MAX_MINUTES=$MAX_MINUTES"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  $PY -c 'import sys, jax, keras, numpy, kgan.models; print("python", sys.version.split()[0], "jax", jax.__version__, "keras", keras.__version__, keras.backend.backend(), "numpy", numpy.__version__, jax.devices())' 2>&1
} | tee "$RUNS/env.txt"

LIMIT_S=$($PY -c "print(int(float('$MAX_MINUTES') * 60 + 150))")  # hard stop if hung
for name in $ORDER; do
  mkdir -p "$RUNS/$name"
  epochs_flag=${EPOCHS[$name]:+--epochs=${EPOCHS[$name]}}   # unset: the recipe's
  timeout -s TERM "$LIMIT_S" $PY tools/train_zoo.py "$name" --nopublish \
      $epochs_flag --data_dir .dev/data --out "$RUNS/$name" \
      --max_minutes "$MAX_MINUTES" $EXTRA_FLAGS \
      > "$RUNS/$name/$name.log" 2>&1 &
  echo "started $name (${EPOCHS[$name]:-recipe} epochs), pid $!"
done
# Progress every 30 s: the last epoch line of each run.
while [ -n "$(jobs -rp)" ]; do
  sleep 30
  echo "-- $(( $(date +%s) - T0 ))s"
  for name in $ORDER; do
    line=$(grep -E "Epoch [0-9]+/|Error|Traceback" "$RUNS/$name/$name.log" 2>/dev/null | tail -1)
    echo "   ${line:-$name: starting}"
  done
done
wait

{
  cat "$RUNS/env.txt"
  echo "== summary after $(( $(date +%s) - T0 ))s"
  $PY - "$RUNS" $ORDER <<'EOF'
import json, sys
from pathlib import Path
runs = Path(sys.argv[1])
print(f"{'entry':24} {'epochs':>11} {'steps':>6} {'wall_s':>7} {'s/epoch':>7}  "
      "last epoch metrics")
for name in sys.argv[2:]:
    path = runs / name / f"{name}.json"
    if not path.exists():
        print(f"{name:24} FAILED (no report); see its log")
        continue
    r = json.loads(path.read_text())
    last = {k: round(v[-1], 4) for k, v in r.get("history", {}).items() if v}
    per_epoch = r["wall_seconds"] / max(r["epochs_completed"], 1)
    print(f"{name:24} {r['epochs_completed']:>5}/{r.get('epochs_requested', '?'):<5} "
          f"{r['steps']:>6} {r['wall_seconds']:>7} {per_epoch:>7.2f}  {last}"
          + ("  (stopped early)" if r["stopped_early"] else ""))
    print(f"{'':24} backend={r['keras_backend']} hardware={r['hardware']} "
          f"sha256={r['sha256']}")
EOF
  for name in $ORDER; do
    echo "== $name.log (tail)"
    tail -n 4 "$RUNS/$name/$name.log"
  done
} 2>&1 | tee "$OUT/summary.txt"

PART_BYTES=${PART_BYTES:-16000000}
for name in $ORDER; do
  tar -cf "$OUT/$name.tar" -C "$RUNS" --exclude="$name/backup" --exclude="*.tmp.weights.h5" \
      --exclude="$name/$name.weights.h5" "$name"
  if [ "$(stat -c %s "$OUT/$name.tar")" -gt "$PART_BYTES" ]; then
    split -b "$PART_BYTES" -d "$OUT/$name.tar" "$OUT/$name.tar.part" && rm "$OUT/$name.tar"
  fi
done
ls -la "$OUT"
echo "total $(( $(date +%s) - T0 ))s"
