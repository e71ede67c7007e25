#!/usr/bin/env bash
# Distributed testing with torchrun (see dist_train.sh for the variables).
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
set -e
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(dirname "$0")/.."
. "$ROOT/tools/whole_number.sh"
need_whole_number GPUS "$GPUS" 1
need_whole_number NNODES "$NNODES" 1
need_whole_number NODE_RANK "$NODE_RANK" 0 $((NNODES - 1))
need_whole_number PORT "$PORT" 1 65535
if [ -z "$PYTHON" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python; fi
fi

PYTHONPATH="$ROOT":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/test.py \
    $CONFIG \
    $CHECKPOINT \
    --launcher pytorch \
    ${@:4}
