"""PyTorch (CPU, 2 threads; or a CUDA GPU with --device cuda) on the workloads of `flint-bench models` (defined alike in
Benchmarks/FlintBench/ModelKind.swift): the MLP 784→128 ReLU→10, the seed CNN (Conv2D 32 3×3 ReLU →
MaxPool 2×2 → Dense 128 ReLU → Dense 10), Keras' MNIST convnet (Conv 32 3×3 ReLU → Conv 64 3×3 ReLU →
MaxPool 2 → Dropout 0.25 → Dense 128 ReLU → Dense 10), the wide MLP 784→1024→1024→10 (batch 256) and an
LSTM (hidden 128) over the 28 rows of an image → Dense 10; each trained with Adam 1e-3 at batch 128 (wide:
256) on softmax cross-entropy, and run for inference at batch 1 (latency) and 256. Synthetic, seeded,
MNIST-shaped data. Prints one JSON line per measurement on stdout (device "pytorch-cpu" or "pytorch-cuda").
On CUDA every timed call ends with a synchronisation, so the time is the GPU's work and not its queueing."""
import argparse
import sys

from common import EXIT_UNAVAILABLE, WORKLOADS, add_common_arguments, emit, median_seconds, note, selected

try:
    import torch
    import torch.nn as nn
except Exception as error:  # ImportError, or a broken install (missing shared library)
    note(f"pytorch_bench: cannot import torch ({error}); install it with `pip install torch`")
    sys.exit(EXIT_UNAVAILABLE)

BATCH = 128
# Set by main(): the torch device and the label of its rows.
TORCH_DEVICE = torch.device("cpu")
DEVICE = "pytorch-cpu"


def synchronized(fn):
    """fn, followed by waiting for the GPU where the work runs on one."""
    if TORCH_DEVICE.type != "cuda":
        return fn

    def call():
        result = fn()
        torch.cuda.synchronize(TORCH_DEVICE)
        return result
    return call


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    # NCHW, PyTorch's native layout (Flint takes NHWC [28, 28, 1]); valid padding, as Flint's Conv2D.
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))


def convnet():
    # Keras' MNIST convnet; 64 channels of 12×12 after pooling = 9216 features.
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))


def wide():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 10))


class LastState(nn.Module):
    """An LSTM's final hidden state (Keras' return_sequences=False)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(28, 128, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[1][0][0]


def lstm():
    return nn.Sequential(LastState(), nn.Linear(128, 10))


# name: (constructor, sample shape, batch, steps per timed epoch), as flint-bench's ModelKind.
MODELS = {"mlp": (mlp, (28, 28), BATCH, 64), "cnn": (cnn, (1, 28, 28), BATCH, 8),
          "convnet": (convnet, (1, 28, 28), BATCH, 4), "wide": (wide, (28, 28), 256, 16),
          "lstm": (lstm, (28, 28), BATCH, 8)}


def training(name, seconds):
    """Samples/s of training epochs as flint-bench times `fit`: `steps` steps per timed epoch,
    reshuffled each epoch; one warm-up epoch; median of 3–20 epochs."""
    make, shape, batch, steps = MODELS[name]
    model = make().to(TORCH_DEVICE)
    count = batch * steps
    x = torch.rand((count,) + shape, device=TORCH_DEVICE)
    y = torch.randint(0, 10, (count,), device=TORCH_DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()  # softmax cross-entropy on logits, mean over the batch
    model.train()

    def epoch():
        order = torch.randperm(count, device=TORCH_DEVICE)
        for i in range(steps):
            index = order[i * batch:(i + 1) * batch]
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x[index]), y[index]).backward()
            optimizer.step()

    seconds_per_epoch = median_seconds(synchronized(epoch), seconds, maximum_runs=20)
    emit(DEVICE, name, "train", count / seconds_per_epoch)


def inference(name, workload, seconds):
    batch = 1 if workload == "infer_b1" else 256
    make, shape = MODELS[name][:2]
    model = make().to(TORCH_DEVICE).eval()
    x = torch.rand((batch,) + shape, device=TORCH_DEVICE)
    with torch.inference_mode():
        t = median_seconds(synchronized(lambda: model(x)), seconds)
    emit(DEVICE, name, workload, batch / t, latency_us=t * 1e6 if batch == 1 else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    add_common_arguments(parser)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (default 2)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                        help="where the models run (default cpu; cuda: the first CUDA GPU)")
    args = parser.parse_args()
    global TORCH_DEVICE, DEVICE
    if args.device == "cuda":
        if not torch.cuda.is_available():
            note("pytorch_bench: --device cuda, but this PyTorch sees no CUDA GPU")
            sys.exit(EXIT_UNAVAILABLE)
        TORCH_DEVICE, DEVICE = torch.device("cuda"), "pytorch-cuda"
        note(f"pytorch_bench: on {torch.cuda.get_device_name(TORCH_DEVICE)}")
    wanted = selected(args.workloads, WORKLOADS)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    note(f"pytorch_bench: PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    for model, workload in wanted:
        note(f"pytorch_bench: {model} {workload}")
        if workload == "train":
            training(model, args.seconds)
        else:
            inference(model, workload, args.seconds)


if __name__ == "__main__":
    main()
