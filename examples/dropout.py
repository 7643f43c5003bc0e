""""Dropout in 3 lines", the synnet way: inverted dropout on the hidden layer.

The tutorial multiplies the hidden activations by a Bernoulli mask scaled by
1/(1-p) during training only; synnet's Dropout layer does exactly that, drawing
its mask from the network's generator.
"""

import numpy as np

import synnet

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
y = np.array([[0], [1], [1], [0]])

net = synnet.Network(
    [synnet.Dense(3, 32, activation="sigmoid", bias=False),
     synnet.Dropout(0.2),
     synnet.Dense(32, 1, activation="sigmoid", bias=False)],
    init="tutorial",
    seed=np.random.RandomState(1),
)
net.fit(X, y, loss="sse", optimizer=synnet.SGD(lr=0.5), epochs=20000, batch_size=None,
        shuffle=False, metrics=["mae"],
        callbacks=[synnet.PrintEvery(5000, template="Error after {epoch} iterations:{value}")])
print("Output After Training (dropout is off at prediction):")
print(net.predict(X))
