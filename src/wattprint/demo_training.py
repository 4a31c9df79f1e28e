"""The main-job demo: train a small real network on the CPU while tracked, and return its footprint.

A two-layer perceptron (tanh hidden layer, softmax output, cross-entropy, mini-batch SGD) learns to tell
apart the arms of a synthetic 2-D spiral (generated here: no download). It uses numpy when installed and
falls back to pure Python (a smaller network) otherwise; no torch. The number of epochs is chosen after a
first timed epoch so that training takes about ``seconds`` on this machine. It runs inside
``wattprint.track(project="demo")`` with phases ``train`` and ``eval`` and feeds ``run.progress`` each epoch.

    >>> from wattprint.demo_training import train_demo
    >>> fp = train_demo(seconds=6, persist=False)      # doctest: +SKIP
    >>> print(fp.table())                               # doctest: +SKIP
"""

from __future__ import annotations

import math
import random
import time
from typing import Any

from .footprint import Footprint

# demo workload shape (not physical data): points per class, classes, hidden units, batch, learning rate
POINTS_PER_CLASS = 1500
CLASSES = 3
HIDDEN_NUMPY = 256
HIDDEN_PURE = 24
POINTS_PER_CLASS_PURE = 200
BATCH = 64
LEARNING_RATE = 0.5
MAX_EPOCHS = 400


def spiral(points_per_class: int, classes: int, seed: int) -> tuple[list[list[float]], list[int]]:
    """Points on ``classes`` interleaved noisy spiral arms in 2-D, with their arm index."""
    rng = random.Random(seed)
    xs: list[list[float]] = []
    ys: list[int] = []
    for c in range(classes):
        for i in range(points_per_class):
            r = i / points_per_class
            t = c * 2 * math.pi / classes + 4.0 * r + rng.gauss(0.0, 0.2)
            xs.append([r * math.sin(t), r * math.cos(t)])
            ys.append(c)
    return xs, ys


class _NumpyNet:
    def __init__(self, hidden: int, classes: int, seed: int) -> None:
        import numpy as np

        self.np = np
        rng = np.random.default_rng(seed)
        self.w1 = rng.normal(0.0, 1.0, (2, hidden))
        self.b1 = np.zeros(hidden)
        self.w2 = rng.normal(0.0, 1.0 / math.sqrt(hidden), (hidden, classes))
        self.b2 = np.zeros(classes)

    def forward(self, x: Any) -> tuple[Any, Any]:
        np = self.np
        h = np.tanh(x @ self.w1 + self.b1)
        z = h @ self.w2 + self.b2
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return h, p / p.sum(axis=1, keepdims=True)

    def step(self, x: Any, y: Any, lr: float) -> float:
        np = self.np
        h, p = self.forward(x)
        n = x.shape[0]
        loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
        dz = p.copy()
        dz[np.arange(n), y] -= 1.0
        dz /= n
        dh = (dz @ self.w2.T) * (1.0 - h * h)
        self.w2 -= lr * (h.T @ dz)
        self.b2 -= lr * dz.sum(axis=0)
        self.w1 -= lr * (x.T @ dh)
        self.b1 -= lr * dh.sum(axis=0)
        return loss

    def accuracy(self, x: Any, y: Any) -> float:
        return float((self.forward(x)[1].argmax(axis=1) == y).mean())


class _PureNet:
    """The same network in pure Python lists (slow; used only without numpy)."""

    def __init__(self, hidden: int, classes: int, seed: int) -> None:
        rng = random.Random(seed)
        self.w1 = [[rng.gauss(0.0, 1.0) for _ in range(hidden)] for _ in range(2)]
        self.b1 = [0.0] * hidden
        self.w2 = [[rng.gauss(0.0, 1.0 / math.sqrt(hidden)) for _ in range(classes)] for _ in range(hidden)]
        self.b2 = [0.0] * classes
        self.hidden, self.classes = hidden, classes

    def _forward1(self, x: list[float]) -> tuple[list[float], list[float]]:
        h = [math.tanh(x[0] * self.w1[0][j] + x[1] * self.w1[1][j] + self.b1[j]) for j in range(self.hidden)]
        z = [sum(h[j] * self.w2[j][k] for j in range(self.hidden)) + self.b2[k] for k in range(self.classes)]
        m = max(z)
        e = [math.exp(v - m) for v in z]
        s = sum(e)
        return h, [v / s for v in e]

    def step(self, xs: list[list[float]], ys: list[int], lr: float) -> float:
        n = len(xs)
        gw1 = [[0.0] * self.hidden for _ in range(2)]
        gb1 = [0.0] * self.hidden
        gw2 = [[0.0] * self.classes for _ in range(self.hidden)]
        gb2 = [0.0] * self.classes
        loss = 0.0
        for x, y in zip(xs, ys, strict=True):
            h, p = self._forward1(x)
            loss -= math.log(p[y] + 1e-12)
            dz = [p[k] - (1.0 if k == y else 0.0) for k in range(self.classes)]
            for k in range(self.classes):
                gb2[k] += dz[k]
            for j in range(self.hidden):
                dh = sum(dz[k] * self.w2[j][k] for k in range(self.classes)) * (1.0 - h[j] * h[j])
                for k in range(self.classes):
                    gw2[j][k] += h[j] * dz[k]
                gb1[j] += dh
                gw1[0][j] += x[0] * dh
                gw1[1][j] += x[1] * dh
        f = lr / n
        for j in range(self.hidden):
            self.b1[j] -= f * gb1[j]
            self.w1[0][j] -= f * gw1[0][j]
            self.w1[1][j] -= f * gw1[1][j]
            for k in range(self.classes):
                self.w2[j][k] -= f * gw2[j][k]
        for k in range(self.classes):
            self.b2[k] -= f * gb2[k]
        return loss / n

    def accuracy(self, xs: list[list[float]], ys: list[int]) -> float:
        ok = 0
        for x, y in zip(xs, ys, strict=True):
            p = self._forward1(x)[1]
            ok += int(max(range(self.classes), key=p.__getitem__) == y)
        return ok / len(xs)


def _has_numpy() -> bool:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def train_demo(
    seconds: float = 6.0,
    *,
    project: str = "demo",
    db: str | None = None,
    persist: bool = True,
    location: str | None = None,
    seed: int = 0,
    use_numpy: bool | None = None,
    interval_s: float | None = None,
    **track_kw: Any,
) -> Footprint:
    """Train the demo network for about ``seconds`` while tracked; return the run's footprint.

    The footprint's ``details`` carry ``run_id``, ``epochs``, ``final_loss``, ``accuracy`` and ``backend``.
    """
    from .tracking import track

    numpy_ok = _has_numpy() if use_numpy is None else use_numpy
    per_class = POINTS_PER_CLASS if numpy_ok else POINTS_PER_CLASS_PURE
    xs, ys = spiral(per_class, CLASSES, seed)
    order = list(range(len(xs)))
    rng = random.Random(seed + 1)
    rng.shuffle(order)
    split = int(0.8 * len(order))
    train_idx, test_idx = order[:split], order[split:]

    net: Any
    test: tuple[Any, Any]
    if numpy_ok:
        import numpy as np

        x_all, y_all = np.asarray(xs, dtype=float), np.asarray(ys)
        net = _NumpyNet(HIDDEN_NUMPY, CLASSES, seed)

        def batches(epoch: int) -> list[tuple[Any, Any]]:
            idx = np.asarray(train_idx)
            np.random.default_rng(seed + epoch).shuffle(idx)
            return [(x_all[idx[i:i + BATCH]], y_all[idx[i:i + BATCH]]) for i in range(0, len(idx), BATCH)]

        test = (x_all[test_idx], y_all[test_idx])
    else:
        net = _PureNet(HIDDEN_PURE, CLASSES, seed)

        def batches(epoch: int) -> list[tuple[Any, Any]]:
            idx = list(train_idx)
            random.Random(seed + epoch).shuffle(idx)
            return [([xs[i] for i in idx[j:j + BATCH]], [ys[i] for i in idx[j:j + BATCH]])
                    for j in range(0, len(idx), BATCH)]

        test = ([xs[i] for i in test_idx], [ys[i] for i in test_idx])

    loss = float("nan")
    epochs = 0
    with track(project, db=db, persist=persist, location=location, interval_s=interval_s, **track_kw) as run:
        with run.phase("train"):
            # calibrate: time whole epochs for ~1/10 of the budget, then fix the total so progress is meaningful
            t0 = time.perf_counter()
            done = 0
            while done < 2 or (time.perf_counter() - t0 < seconds / 10 and done < MAX_EPOCHS):
                for x, y in batches(done):
                    loss = net.step(x, y, LEARNING_RATE)
                done += 1
            per_epoch = max((time.perf_counter() - t0) / done, 1e-6)
            epochs = int(min(MAX_EPOCHS, max(done, seconds / per_epoch)))
            run.progress(done, epochs)
            for epoch in range(done, epochs):
                for x, y in batches(epoch):
                    loss = net.step(x, y, LEARNING_RATE)
                run.progress(epoch + 1, epochs)
        with run.phase("eval"):
            acc = net.accuracy(*test)
    fp = run.footprint()
    fp.details.update({"run_id": run.id, "epochs": epochs, "final_loss": loss, "accuracy": acc,
                       "backend": "numpy" if numpy_ok else "pure Python"})
    return fp


if __name__ == "__main__":  # pragma: no cover
    result = train_demo()
    print(result.table(f"demo training ({result.details['backend']}, {result.details['epochs']} epochs, "
                       f"accuracy {result.details['accuracy']:.1%})"))
