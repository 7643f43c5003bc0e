"""Part 2 of the series (gradient descent): sweep the learning rate alpha.

For each hidden size and alpha, the seed is reset (a fresh RandomState(1)) and
a 3 -> hidden -> 1 sigmoid network is trained on the XOR-style target, printing
the error every 10,000 steps as the blog post does.
"""

import numpy as np

import synnet

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = np.array([[0], [1], [1], [0]])

for hidden_size in (4, 32):
    for alpha in (0.001, 0.01, 0.1, 1, 10, 100, 1000):
        print(f"\nTraining With Alpha:{alpha} (hidden size {hidden_size})")
        net = synnet.Network(
            [synnet.Dense(3, hidden_size, activation="sigmoid", bias=False),
             synnet.Dense(hidden_size, 1, activation="sigmoid", bias=False)],
            init="tutorial",
            seed=np.random.RandomState(1),
        )
        net.fit(X, y, loss="sse", optimizer=synnet.SGD(lr=alpha), epochs=60000,
                batch_size=None, shuffle=False, metrics=["mae"],
                callbacks=[synnet.PrintEvery(
                    10000, key="mae", template="Error after {epoch} iterations:{value}")])
