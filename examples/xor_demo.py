"""Learn XOR by gradient descent from a random initialisation (L-XOR-1, L-XOR-4).

Run: ``make demo`` (or ``python examples/xor_demo.py``).
"""

import numpy as np

import feedforward as ff

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
y = np.array([[0], [1], [1], [0]], dtype=np.float32)

net = ff.nn.MLP([2, 8, 1], activation="tanh", output="gaussian", rng=0)
net.summary()
lr = 0.5
for epoch in range(1, 1001):
    net.zero_grad()
    loss = net.output.nll(net(X), y)  # 1/2 mean squared error: the Gaussian NLL
    loss.backward()
    for p in net.parameters():
        p.data -= lr * p.grad
    if epoch in (1, 10, 100, 1000):
        print(f"epoch {epoch:5d}  loss = {loss.item():.6f}")
pred = net.predict(X)
print("inputs     :", X.tolist())
print("predictions:", np.round(pred.ravel(), 3).tolist())
print("rounded    :", (pred.ravel() > 0.5).astype(int).tolist(), " target:", y.ravel().astype(int).tolist())
