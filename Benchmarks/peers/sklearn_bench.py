"""scikit-learn's MLPClassifier (784→128→10, Adam 1e-3, batch 128) on synthetic MNIST-shaped data:
training samples/s over whole epochs (including its per-epoch bookkeeping), and predict_proba at
batch 1 and 256. Run with OMP_NUM_THREADS/OPENBLAS_NUM_THREADS=2 (compare.py sets them)."""
import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from common import emit, median_seconds, note


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    parser.add_argument("--samples", type=int, default=60000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    model = MLPClassifier(hidden_layer_sizes=(128,), solver="adam", batch_size=128, learning_rate_init=1e-3,
                          alpha=0, max_iter=1, tol=0, n_iter_no_change=10**9, shuffle=True, random_state=0)
    model.fit(x[:1280], y[:1280])  # warm-up
    epochs, start = 0, time.perf_counter()
    model = MLPClassifier(hidden_layer_sizes=(128,), solver="adam", batch_size=128, learning_rate_init=1e-3,
                          alpha=0, max_iter=1, tol=0, n_iter_no_change=10**9, shuffle=True, random_state=0,
                          warm_start=True)
    while epochs < 1 or (time.perf_counter() - start < args.seconds and epochs < 20):
        model.fit(x, y)
        epochs += 1
    emit("sklearn", "mlp", "train", args.samples * epochs / (time.perf_counter() - start))
    for batch, workload in [(1, "infer_b1"), (256, "infer_b256")]:
        xb = x[:batch]
        t = median_seconds(lambda: model.predict_proba(xb), args.seconds)
        emit("sklearn", "mlp", workload, batch / t, latency_us=t * 1e6 if batch == 1 else None)
    note("scikit-learn measured")


if __name__ == "__main__":
    main()
