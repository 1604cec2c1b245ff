#!/usr/bin/env bash
# The benchmark suite on an accelerator, then the multi-process analysis (bench_distributed.py),
# as one command (about 15 minutes on an H100/H200).
#
#   benchmarks/gpu.sh ["DEVICE NAME"]
#
# Needs interjax installed with the benchmark peers (`pip install -e '.[bench]'`) and a JAX that
# sees the GPU (jax[cuda12]). Writes the JSON files and RESULTS.md into benchmarks/results/gpu
# (or $OUT_DIR), each JSON naming the device; the sweep goes up to n = 24, the scaling curve of
# the MLP to n = 24. Stops at once, with a message, when JAX sees only the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" - <<'PYEOF'
import sys, jax
if jax.default_backend() == "cpu":
    sys.exit("gpu.sh: JAX sees only the CPU (jax.devices() = %s); install jax[cuda12] "
             "or run benchmarks/suite.py on this machine instead" % jax.devices())
print("accelerator:", jax.devices())
PYEOF
# Every result names the commit it measured: from git, or on a copy without .git from
# INTERJAX_GIT_COMMIT (launch as `INTERJAX_GIT_COMMIT=<sha> benchmarks/gpu.sh` from a clean tree).
if ! git rev-parse HEAD >/dev/null 2>&1 && [ -z "${INTERJAX_GIT_COMMIT:-}" ]; then
  echo "gpu.sh: no git checkout here and INTERJAX_GIT_COMMIT is not set; run it as" \
    "INTERJAX_GIT_COMMIT=\$(git rev-parse HEAD) benchmarks/gpu.sh, the sha taken where the tree is" >&2
  exit 2
fi
NAME=${1:-$("$PY" -c "import jax; print(jax.devices()[0].device_kind)")}
export PYTHONUNBUFFERED=1
"$PY" benchmarks/suite.py --gpu --out "${OUT_DIR:-benchmarks/results/gpu}" \
  --device-name "$NAME" --timeout "${STEP_TIMEOUT:-240}"
# the multi-process path: one analysis on 1 process and on 2 (jax.distributed on 127.0.0.1,
# both processes sharing the device), arrays.npz compared bit for bit (about 5 minutes)
exec "$PY" benchmarks/bench_distributed.py --out "${OUT_DIR:-benchmarks/results/gpu}" \
  --device-name "$NAME"
