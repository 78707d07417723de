"""PyTorch (CPU, 2 threads) on the workloads of `flint-bench models`: the MLP 784→128 ReLU→10 and the
seed CNN (Conv2D 32 3×3 ReLU → MaxPool 2×2 → Dense 128 ReLU → Dense 10) trained with Adam 1e-3 at batch
128 on softmax cross-entropy, and MLP inference at batch 1 (latency) and 256. Synthetic, seeded,
MNIST-shaped data. Prints one JSON line per measurement on stdout (device "pytorch-cpu")."""
import argparse
import sys

from common import EXIT_UNAVAILABLE, add_common_arguments, emit, median_seconds, note, selected

try:
    import torch
    import torch.nn as nn
except Exception as error:  # ImportError, or a broken install (missing shared library)
    note(f"pytorch_bench: cannot import torch ({error}); install it with `pip install torch`")
    sys.exit(EXIT_UNAVAILABLE)

DEVICE = "pytorch-cpu"
BATCH = 128


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    # NCHW, PyTorch's native layout (Flint takes NHWC [28, 28, 1]); valid padding, as Flint's Conv2D.
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))


def training(name, seconds):
    """Samples/s of training epochs as flint-bench times `fit`: 64 steps (MLP) or 8 steps (CNN) of
    batch 128 per timed epoch, reshuffled each epoch; one warm-up epoch; median of 3–20 epochs."""
    model, shape, steps = (mlp(), (28, 28), 64) if name == "mlp" else (cnn(), (1, 28, 28), 8)
    count = BATCH * steps
    x = torch.rand((count,) + shape)
    y = torch.randint(0, 10, (count,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()  # softmax cross-entropy on logits, mean over the batch
    model.train()

    def epoch():
        order = torch.randperm(count)
        for i in range(steps):
            index = order[i * BATCH:(i + 1) * BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[index]), y[index]).backward()
            optimizer.step()

    seconds_per_epoch = median_seconds(epoch, seconds, maximum_runs=20)
    emit(DEVICE, name, "train", count / seconds_per_epoch)


def inference(workload, seconds):
    batch = 1 if workload == "infer_b1" else 256
    model = mlp().eval()
    x = torch.rand(batch, 28, 28)
    with torch.inference_mode():
        t = median_seconds(lambda: model(x), seconds)
    emit(DEVICE, "mlp", workload, batch / t, latency_us=t * 1e6 if batch == 1 else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    args = parser.parse_args()
    wanted = selected(args.workloads, [("mlp", "train"), ("mlp", "infer_b1"), ("mlp", "infer_b256"), ("cnn", "train")])
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    note(f"pytorch_bench: PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    for model, workload in wanted:
        note(f"pytorch_bench: {model} {workload}")
        if workload == "train":
            training(model, args.seconds)
        else:
            inference(workload, args.seconds)


if __name__ == "__main__":
    main()
