"""Loss and metrics of a network on validated data, in inference mode."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from synnet.core.batch import Batch, prepare
from synnet.core.losses import Loss, get_loss
from synnet.core.metrics import Metric, get_metric
from synnet.errors import ConfigError

if TYPE_CHECKING:
    from synnet.core.network import Network


def evaluate_batch(network: Network, data: Batch, loss: Loss, metrics: dict[str, Metric],
                   prefix: str = "") -> dict[str, float]:
    """{prefix + "loss": value, prefix + metric: value, ...} on prepared data."""
    fused = loss.fuses(network.output_layer.activation)
    raw = network.infer(data.X, logits=fused)
    with np.errstate(under="ignore"):
        value, _ = loss.evaluate(raw, data.y, data.w, logits=fused, grad=False)
        out = network.output_layer.activation(raw) if fused and metrics else raw
        logs = {f"{prefix}loss": value}
        logs.update({f"{prefix}{name}": fn(out, data.y) for name, fn in metrics.items()})
    return logs


def evaluate(network: Network, X: Any, y: Any, *, loss: str | Loss | None,
             metrics: Iterable[str]) -> dict[str, float]:
    """Loss and metrics of ``network`` on (X, y); see :meth:`Network.evaluate`."""
    loss_fn = get_loss(loss) if loss is not None else network.loss
    if loss_fn is None:
        raise ConfigError("no loss given and the network was never fitted: pass loss=...",
                          params=["loss"])
    loss_fn.check_output(network.n_outputs)
    metric_fns = {name: get_metric(name) for name in metrics}
    data = prepare(X, y, loss_fn, None, n_inputs=network.n_inputs,
                   n_outputs=network.n_outputs, dtype=network.param_dtype)
    return evaluate_batch(network, data, loss_fn, metric_fns)
