"""The networks of "A Neural Network in 11 Lines of Python", written with synnet.

``python -m synnet.tutorial`` (and ``synnet demo``) prints synnet's numbers
beside the tutorial's published ones. The published figures are kept here as
constants; the tests compare against them to a relative 1e-10.
"""

from __future__ import annotations

import sys
from typing import TextIO

import numpy as np

from synnet.core.layers import Dense
from synnet.core.network import Network
from synnet.core.optimizers import SGD
from synnet.training.callbacks import LambdaCallback

#: The tutorial's inputs: the third column is a constant 1 that acts as a bias.
X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
Y_AND = np.array([[0, 0, 1, 1]]).T
Y_XOR = np.array([[0, 1, 1, 0]]).T

PUBLISHED_2LAYER_OUTPUT = [0.00966449, 0.00786506, 0.99358898, 0.99211957]
PUBLISHED_3LAYER_ERRORS = [0.4685343254580603, 0.005002426725395313, 0.00345440546153305,
                           0.002786557019672355, 0.0023941155055209216, 0.0021288852682254146]
PUBLISHED_XOR_ERRORS = [0.4964100319027255, 0.008584525653247157, 0.0057894598625078085,
                        0.004629176776769985, 0.0039587652802736475, 0.003510122567861678]


def network(*sizes: int, seed: int = 1) -> Network:
    """Sigmoid layers without bias, weights 2*U[0,1)-1 drawn as after np.random.seed(seed)."""
    layers = [Dense(a, b, activation="sigmoid", bias=False) for a, b in zip(sizes, sizes[1:])]
    return Network(layers, init="tutorial", seed=np.random.RandomState(seed))


def two_layer(steps: int = 10000) -> np.ndarray:
    """The first network (3 -> 1): its output as printed after training, shape (4, 1).

    The tutorial prints ``l1`` from the forward pass of its last step, i.e.
    before the last update: that is the prediction after ``steps - 1`` updates.
    """
    net = network(3, 1)
    net.fit(X, Y_AND, loss="sse", optimizer=SGD(lr=1.0), epochs=steps - 1,
            batch_size=None, shuffle=False)
    return net.predict(X)


def error_trace(y: np.ndarray, hidden: int = 4, lr: float = 1.0, steps: int = 60000,
                every: int = 10000) -> list[float]:
    """Train 3 -> hidden -> 1 and return mean |error| at steps 0, every, 2*every, ...

    The mean |error| of a full-batch step is measured on that step's forward
    pass, before its update, exactly where the tutorial prints it.
    """
    trace: list[float] = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: trace.append(logs["mae"])
                            if epoch % every == 0 else None)
    network(3, hidden, 1).fit(X, y, loss="sse", optimizer=SGD(lr=lr), epochs=steps,
                              batch_size=None, shuffle=False, metrics=["mae"],
                              callbacks=[record])
    return trace


def main(file: TextIO | None = None) -> None:
    """Print synnet's results next to the tutorial's published numbers."""
    out = file or sys.stdout

    def row(label: str, ours: float, published: float) -> None:
        print(f"  {label:<12} synnet {ours!r:<24} tutorial {published!r}", file=out)

    print("2-layer network (3 -> 1), 10,000 steps: output after training", file=out)
    for i, (ours, pub) in enumerate(zip(two_layer().ravel(), PUBLISHED_2LAYER_OUTPUT)):
        row(f"row {i}", round(float(ours), 8), pub)
    for title, y, published in (("3-layer network (3 -> 4 -> 1), y = [0,0,1,1]", Y_AND,
                                 PUBLISHED_3LAYER_ERRORS),
                                ("3-layer network on XOR, y = [0,1,1,0]", Y_XOR,
                                 PUBLISHED_XOR_ERRORS)):
        print(f"{title}: mean |error| every 10,000 steps", file=out)
        for step, ours, pub in zip(range(0, 60000, 10000), error_trace(y), published):
            row(f"step {step}", ours, pub)


if __name__ == "__main__":
    main()
