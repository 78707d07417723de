"""PyTorch (CPU, 2 threads) on the workloads of `flint-bench models`: MLP 784→128→10 and the seed
CNN trained with Adam 1e-3 at batch 128, MLP inference at batch 1 and 256. Synthetic MNIST-shaped data."""
import argparse

import torch
import torch.nn as nn

from common import emit, median_seconds, note


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))


def training(name, model, shape, seconds, batch=128, steps=16):
    x = torch.rand((batch * steps,) + shape)
    y = torch.randint(0, 10, (batch * steps,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        for i in range(steps):
            xb, yb = x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()

    epoch()  # warm-up
    emit("pytorch-cpu", name, "train", batch * steps / median_seconds(epoch, seconds))


def inference(model, seconds):
    model.eval()
    with torch.no_grad():
        for batch, workload in [(1, "infer_b1"), (256, "infer_b256")]:
            x = torch.rand(batch, 28, 28)
            model(x)
            t = median_seconds(lambda: model(x), seconds)
            emit("pytorch-cpu", "mlp", workload, batch / t, latency_us=t * 1e6 if batch == 1 else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per measurement")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    note(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    wanted = args.models.split(",")
    if "mlp" in wanted:
        training("mlp", mlp(), (28, 28), args.seconds)
        inference(mlp(), args.seconds)
    if "cnn" in wanted:
        training("cnn", cnn(), (1, 28, 28), args.seconds, steps=4)


if __name__ == "__main__":
    main()
