"""Training: one progressive column with the others frozen; the paper's transfer setups."""

from pnn_jax.train.optim import make_optimizer
from pnn_jax.train.progressive import (
    TrainState,
    classification_loss,
    init_state,
    make_evaluate,
    make_train_loop,
    make_train_step,
    train_step,
)
from pnn_jax.train.transfer import Stage, TransferPlan, stage_state

__all__ = [
    "Stage",
    "TrainState",
    "TransferPlan",
    "classification_loss",
    "init_state",
    "make_evaluate",
    "make_optimizer",
    "make_train_loop",
    "make_train_step",
    "stage_state",
    "train_step",
]
