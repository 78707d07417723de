"""scikit-learn's MLPClassifier (784→128 ReLU→10, Adam 1e-3, batch 128, no L2 penalty) on synthetic,
seeded MNIST-shaped float32 data: training samples/s over whole `fit` epochs (60000 samples each, so the
figure includes sklearn's per-epoch bookkeeping: shuffling, loss curve, convergence checks), and
`predict_proba` at batch 1 (latency, including its input validation) and 256. MLP only: sklearn has
no convolutions. BLAS limited to 2 threads. Prints one JSON line per measurement (device "sklearn")."""
import os

# BLAS reads these when numpy loads, so set them before importing it (compare.py sets them too).
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "2")

import argparse  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from common import EXIT_UNAVAILABLE, add_common_arguments, emit, median_seconds, note, selected  # noqa: E402

try:
    import numpy as np
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits
except Exception as error:
    note(f"sklearn_bench: cannot import scikit-learn ({error}); install it with `pip install scikit-learn`")
    sys.exit(EXIT_UNAVAILABLE)

DEVICE = "sklearn"


def classifier(epochs):
    return MLPClassifier(hidden_layer_sizes=(128,), activation="relu", solver="adam", batch_size=128,
                         learning_rate_init=1e-3, alpha=0.0, max_iter=epochs, tol=0.0,
                         n_iter_no_change=10**9, early_stopping=False, shuffle=True, random_state=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--samples", type=int, default=60000, help="training set size (default 60000)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="timed epochs (default: as many as fit in --seconds by a warm-up epoch's time, 1–20)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    args = parser.parse_args()
    wanted = selected(args.workloads, [("mlp", "train"), ("mlp", "infer_b1"), ("mlp", "infer_b256")])
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    threadpool_limits(args.threads)
    note(f"sklearn_bench: scikit-learn {sklearn.__version__}, numpy {np.__version__}, {args.threads} BLAS threads")

    rng = np.random.default_rng(0)
    x = rng.random((args.samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.samples)
    if not wanted:
        note("sklearn_bench: nothing to measure (scikit-learn has the MLP workloads only)")
    model = None
    for name, workload in wanted:
        note(f"sklearn_bench: {name} {workload}")
        if workload == "train":
            # Warm-up epoch (also gauges one epoch's time), then one timed fit over `epochs` epochs.
            start = time.perf_counter()
            classifier(1).fit(x, y)
            epoch_seconds = time.perf_counter() - start
            epochs = args.epochs or min(20, max(1, math.ceil(args.seconds / epoch_seconds)))
            model = classifier(epochs)
            start = time.perf_counter()
            model.fit(x, y)
            elapsed = time.perf_counter() - start
            note(f"sklearn_bench: {epochs} epoch(s) of {args.samples} samples in {elapsed:.2f} s")
            emit(DEVICE, "mlp", "train", args.samples * epochs / elapsed)
        else:
            if model is None:  # inference alone: a briefly trained model (the weights do not change the cost)
                model = classifier(1).fit(x[:1280], y[:1280])
            batch = 1 if workload == "infer_b1" else 256
            xb = x[:batch]
            t = median_seconds(lambda: model.predict_proba(xb), args.seconds)
            emit(DEVICE, "mlp", workload, batch / t, latency_us=t * 1e6 if batch == 1 else None)


if __name__ == "__main__":
    main()
