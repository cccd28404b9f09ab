"""Training a progressive-family method's stages (the plans are :mod:`pnn_jax.methods`), and
moving one column's own weights between nets of different capacities."""

from __future__ import annotations

from pnn_jax.methods import Stage, TransferPlan
from pnn_jax.train.progressive import init_state

__all__ = ["Stage", "TransferPlan", "column_weights", "stage_state", "with_column_weights"]


def stage_state(net, params, tx, stage: Stage, key):
    """The :class:`~pnn_jax.train.progressive.TrainState` that trains ``stage``.

    Re-initialises the column's heads first if ``stage.reset_heads``; the trainable mask covers
    ``stage.column`` (all of it, or only its heads); the optimiser state is fresh.
    """
    if stage.reset_heads:
        params = net.reset_heads(params, key, stage.column)
    return init_state(net, params, tx, stage.column, stage.scope)


def column_weights(params, column: int) -> dict:
    """The own weights of ``column`` (kernels and biases of its hidden layers and heads, no
    laterals): ``{"hidden": [{"w", "b"}...], "heads": {name: {"w", "b"}}}`` without the column axis.
    Column 0 has no lateral inputs, so these are all of a first column's parameters."""
    own = lambda layer: {"w": layer["w"][column], "b": layer["b"][column]}  # noqa: E731
    return {
        "hidden": [own(layer) for layer in params["hidden"]],
        "heads": {name: own(layer) for name, layer in params["heads"].items()},
    }


def with_column_weights(params, column: int, weights: dict):
    """``params`` with ``column``'s own weights replaced by ``weights`` (as :func:`column_weights`
    returns them, e.g. from a net of another capacity); everything else unchanged."""

    def put(layer, own):
        return {
            **layer,
            "w": layer["w"].at[column].set(own["w"]),
            "b": layer["b"].at[column].set(own["b"]),
        }

    return {
        **params,
        "hidden": [put(layer, own) for layer, own in zip(params["hidden"], weights["hidden"], strict=True)],
        "heads": {name: put(layer, weights["heads"][name]) for name, layer in params["heads"].items()},
    }
