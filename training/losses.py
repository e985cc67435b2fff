"""Training objectives: the EMD-approximating telescope loss, and plain MSE.

Both compare unit-sum modules in CALQ order. The telescope loss sums, over
several spatial scales of the hexagonal geometry (single TCs, 2x2, 3x3 and
block groups, see geometry.telescope_scales), the squared error of the group
sums weighted by max(true, pred), so that misplacing charge by one cell costs
less than misplacing it far away, as in the EMD.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import tensorflow as tf

from asicgen.core.geometry import group_matrix, telescope_scales

#: default weight of each scale: small scales favoured (public code: 4:2:1)
DEFAULT_SCALE_WEIGHTS: dict[str, float] = {"tc": 4.0, "2x2": 2.0, "3x3": 1.0, "block": 1.0}
LOSS_NAMES = ("telescope", "mse")

LossFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def telescope_loss(weights: Mapping[str, float] | None = None) -> LossFn:
    weights = dict(DEFAULT_SCALE_WEIGHTS if weights is None else weights)
    scales = telescope_scales()
    unknown = set(weights) - set(scales)
    if unknown:
        raise ValueError(f"unknown telescope scale(s) {sorted(unknown)}; known: {list(scales)}")
    terms = [(tf.constant(group_matrix(scales[name])), float(w))
             for name, w in weights.items() if w != 0.0]

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)
        total = 0.0
        for matrix, weight in terms:
            t = tf.matmul(y_true, matrix)
            p = tf.matmul(y_pred, matrix)
            total += weight * tf.reduce_mean(tf.square(t - p) * tf.maximum(t, p), axis=-1)
        return total

    loss.__name__ = "telescope"
    return loss


def mse_loss() -> LossFn:
    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.square(tf.cast(y_true, tf.float32) - y_pred), axis=-1)

    loss.__name__ = "mse"
    return loss


def make_loss(name: str, weights: Mapping[str, float] | None = None) -> LossFn:
    """The named loss; `weights` are the telescope scale weights (default: DEFAULT_SCALE_WEIGHTS)."""
    if name == "telescope":
        return telescope_loss(weights)
    if name == "mse":
        return mse_loss()
    raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSS_NAMES)}")
