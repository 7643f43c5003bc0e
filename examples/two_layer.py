"""The tutorial's first network (3 inputs -> 1 sigmoid output), written with synnet.

Prints what the tutorial prints: "Output After Training:" and the outputs.
"""

import numpy as np

import synnet

# input dataset; the constant third column plays the role of a bias
X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
# output dataset
y = np.array([[0, 0, 1, 1]]).T

net = synnet.Network(
    [synnet.Dense(3, 1, activation="sigmoid", bias=False)],
    init="tutorial",  # 2*U[0,1)-1, as np.random.seed(1); 2*np.random.random((3,1)) - 1
    seed=np.random.RandomState(1),
)
# The tutorial prints l1 from the forward pass of its 10,000th step, before that
# step's update: the output after 9,999 updates.
net.fit(X, y, loss="sse", optimizer=synnet.SGD(lr=1.0), epochs=9999,
        batch_size=None, shuffle=False)
print("Output After Training:")
print(net.predict(X))
