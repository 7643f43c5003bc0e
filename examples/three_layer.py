"""The tutorial's second network (3 -> 4 -> 1, sigmoid, no bias), written with synnet.

Prints "Error:<mean |error|>" every 10,000 steps, as the tutorial does.
Pass --xor to train on y = [0, 1, 1, 0] (the blog's own version).
"""

import sys

import numpy as np

import synnet

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = np.array([[0, 1, 1, 0]]).T if "--xor" in sys.argv else np.array([[0, 0, 1, 1]]).T

net = synnet.Network(
    [synnet.Dense(3, 4, activation="sigmoid", bias=False),
     synnet.Dense(4, 1, activation="sigmoid", bias=False)],
    init="tutorial",
    seed=np.random.RandomState(1),
)
history = net.fit(
    X, y, loss="sse", optimizer=synnet.SGD(lr=1.0), epochs=60000,
    batch_size=None, shuffle=False,
    metrics=["mae"],                                    # mean |error|, the tutorial's "Error"
    callbacks=[synnet.PrintEvery(10000, key="mae", template="Error:{value}")],
)
