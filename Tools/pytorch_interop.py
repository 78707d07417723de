#!/usr/bin/env python3
"""Checks that Flint's weights move to and from PyTorch exactly.

    pytorch_interop.py numpy  FLINT WORKDIR         needs numpy and safetensors only (CI)
    pytorch_interop.py torch  FLINT WORKDIR DATA    needs torch too, and MNIST under DATA/mnist

numpy: random weights in PyTorch's names and layouts are written with safetensors.numpy for
the MLP and the CNN of `flint train`, converted into Flint's layout with `flint convert`, and
Flint's logits on random images (`flint predict --logits`) must match a NumPy forward pass that
follows PyTorch's definitions (NCHW convolution, channels-first flatten) to 1e-4. Converting
back (`flint convert --to pytorch`) must give the original tensors bit for bit.

torch: Flint's MLP and CNN are trained one epoch (`flint train --save`), exported, loaded into
the nn.Sequential rebuilt from the module list in the file, and run on the MNIST test set: the
logits must match Flint's to 1e-4. Then a CNN trained in PyTorch is imported and `flint
evaluate` must reproduce its test accuracy.
"""
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def write_idx(path, images):
    """uint8 images [n, 28, 28] as an IDX file."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, 3))
        f.write(struct.pack(">III", *images.shape))
        f.write(images.astype(np.uint8).tobytes())


def flint_logits(flint, weights, idx):
    lines = run(flint, "predict", "--weights", weights, "--json", "--logits", "--device", "cpu", idx).splitlines()
    return np.array([json.loads(line)["logits"] for line in lines], dtype=np.float64)


# PyTorch's definitions, in NumPy (float64).
def linear(x, w, b):
    return x @ w.T + b


def conv2d(x, w, b):
    """x [n, c, h, w], w [o, c, kh, kw], stride 1, no padding."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    out = np.zeros((n, o, h - kh + 1, wd - kw + 1))
    for dy in range(kh):
        for dx in range(kw):
            patch = x[:, :, dy:dy + h - kh + 1, dx:dx + wd - kw + 1]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, dy, dx])
    return out + b[None, :, None, None]


def maxpool2(x):
    n, c, h, w = x.shape
    return x[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def relu(x):
    return np.maximum(x, 0)


def numpy_check(flint, work):
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    idx = os.path.join(work, "images.idx")
    write_idx(idx, images)
    x = images.astype(np.float64) / 255
    mean, std = 0.13, 0.31
    x = (x - mean) / std

    def weights(*shape):
        return (rng.standard_normal(shape) * 0.1).astype(np.float32)

    models = {
        "mlp": ({"1.weight": weights(128, 784), "1.bias": weights(128), "3.weight": weights(10, 128), "3.bias": weights(10)},
                lambda p, x: linear(relu(linear(x.reshape(len(x), -1), p["1.weight"], p["1.bias"])), p["3.weight"], p["3.bias"])),
        "cnn": ({"0.weight": weights(32, 1, 3, 3), "0.bias": weights(32), "4.weight": weights(128, 32 * 13 * 13),
                 "4.bias": weights(128), "6.weight": weights(10, 128), "6.bias": weights(10)},
                lambda p, x: linear(relu(linear(maxpool2(relu(conv2d(x[:, None], p["0.weight"], p["0.bias"]))).reshape(len(x), -1),
                                                p["4.weight"], p["4.bias"])), p["6.weight"], p["6.bias"])),
    }
    for name, (params, forward) in models.items():
        torch_file = os.path.join(work, f"{name}-torch.safetensors")
        save_file(params, torch_file)
        flint_file = os.path.join(work, f"{name}-flint.safetensors")
        run(flint, "convert", "--from", "pytorch", "--model", name, "--input-mean", mean, "--input-std", std, torch_file, flint_file)
        expected = forward({k: v.astype(np.float64) for k, v in params.items()}, x)
        got = flint_logits(flint, flint_file, idx)
        difference = np.abs(got - expected).max()
        print(f"{name}: PyTorch-layout weights → Flint: max |logit difference| {difference:.2e} over {len(x)} images")
        assert difference <= 1e-4, f"{name}: logits differ by {difference}"
        # Flint's own file is plain safetensors with Flint's layout (kernel = weight transposed).
        flint_tensors = load_file(flint_file)
        dense = "layers.2.kernel" if name == "mlp" else "layers.5.kernel"
        last = "3.weight" if name == "mlp" else "6.weight"
        assert np.array_equal(flint_tensors[dense], params[last].T), f"{name}: {dense} is not {last} transposed"
        back = os.path.join(work, f"{name}-back.safetensors")
        run(flint, "convert", "--to", "pytorch", flint_file, back)
        returned = load_file(back)
        for key, value in params.items():
            assert np.array_equal(returned[key], value), f"{name}: {key} changed in the round trip"
        print(f"{name}: Flint → PyTorch round trip returns every tensor bit for bit ({len(params)} tensors)")
    print("numpy interop check passed")


def torch_module(spec, torch):
    nn = torch.nn
    kind = spec["type"]
    if kind == "Flatten":
        return nn.Flatten()
    if kind == "Linear":
        return nn.Linear(spec["in"], spec["out"], bias=spec["bias"])
    if kind == "Conv2d":
        return nn.Conv2d(spec["in"], spec["out"], tuple(spec["kernel"]), stride=tuple(spec["stride"]),
                         padding=spec["padding"] if isinstance(spec["padding"], str) else tuple(spec["padding"]),
                         dilation=tuple(spec["dilation"]), bias=spec["bias"])
    if kind == "MaxPool2d":
        return nn.MaxPool2d(tuple(spec["kernel"]), stride=tuple(spec["stride"]))
    if kind == "AvgPool2d":
        return nn.AvgPool2d(tuple(spec["kernel"]), stride=tuple(spec["stride"]))
    if kind in ("BatchNorm1d", "BatchNorm2d"):
        return getattr(nn, kind)(spec["features"], eps=spec["eps"], momentum=spec["momentum"])
    if kind == "Dropout":
        return nn.Dropout(spec["p"])
    if kind == "LeakyReLU":
        return nn.LeakyReLU(spec["slope"])
    if kind == "Softmax":
        return nn.Softmax(dim=-1)
    if kind in ("ReLU", "Sigmoid", "Tanh", "GELU", "Softplus", "SiLU"):
        return getattr(nn, kind)()
    if kind in ("GRU", "LSTM"):
        base = getattr(nn, kind)

        class Recurrent(base):
            """Batch-first, returning the last step (or every step) as Keras does."""
            def forward(self, x):
                out, _ = super().forward(x)
                return out if spec["return_sequences"] else out[:, -1]

        return Recurrent(spec["in"], spec["hidden"], batch_first=True, bias=spec["bias"])
    raise SystemExit(f"the check does not rebuild {kind}")


def module_list_check(flint, work, torch):
    """Networks with BatchNorm, LeakyReLU, GELU, GRU and LSTM, random weights and running
    statistics, imported from their module list and exported back."""
    from safetensors.torch import save_file as torch_save
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(32, 28, 28), dtype=np.uint8)
    idx = os.path.join(work, "random-images.idx")
    write_idx(idx, images)
    cases = {
        "batchnorm-mlp": ("28,28", [{"type": "Flatten"}, {"type": "Linear", "in": 784, "out": 64, "bias": True},
                                    {"type": "BatchNorm1d", "features": 64, "eps": 1e-5, "momentum": 0.1}, {"type": "ReLU"},
                                    {"type": "Linear", "in": 64, "out": 10, "bias": True}]),
        "batchnorm-cnn": ("28,28,1", [{"type": "Conv2d", "in": 1, "out": 8, "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1],
                                       "dilation": [1, 1], "bias": False},
                                      {"type": "BatchNorm2d", "features": 8, "eps": 1e-3, "momentum": 0.01},
                                      {"type": "LeakyReLU", "slope": 0.2}, {"type": "MaxPool2d", "kernel": [2, 2], "stride": [2, 2]},
                                      {"type": "Flatten"}, {"type": "Linear", "in": 8 * 14 * 14, "out": 10, "bias": True}]),
        "gru": ("28,28", [{"type": "GRU", "in": 28, "hidden": 32, "return_sequences": False, "bias": True},
                          {"type": "Linear", "in": 32, "out": 10, "bias": True}]),
        "lstm": ("28,28", [{"type": "LSTM", "in": 28, "hidden": 32, "return_sequences": True, "bias": True}, {"type": "GELU"},
                           {"type": "Flatten"}, {"type": "Linear", "in": 28 * 32, "out": 10, "bias": True}]),
    }
    for name, (shape, specs) in cases.items():
        model = torch.nn.Sequential(*[torch_module(s, torch) for s in specs])
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                    module.running_mean.normal_()
                    module.running_var.uniform_(0.5, 2)
                    module.weight.uniform_(0.5, 1.5)
                    module.bias.normal_()
        model.eval()
        original = {k: v.contiguous() for k, v in model.state_dict().items()}
        source = os.path.join(work, f"{name}-torch.safetensors")
        torch_save(original, source, metadata={"pytorch_modules": json.dumps(specs), "input_shape": shape})
        converted = os.path.join(work, f"{name}-flint.safetensors")
        run(flint, "convert", "--from", "pytorch", source, converted)
        x = torch.from_numpy(images.copy()).float() / 255
        if shape == "28,28,1":
            x = x[:, None]
        with torch.no_grad():
            expected = model(x).double().numpy()
        got = flint_logits(flint, converted, idx)
        difference = np.abs(got - expected).max()
        print(f"{name}: PyTorch → Flint: max |output difference| {difference:.2e} over {len(images)} inputs")
        assert difference <= 1e-4, f"{name}: outputs differ by {difference}"
        back = os.path.join(work, f"{name}-back.safetensors")
        run(flint, "convert", "--to", "pytorch", converted, back)
        returned = load_file(back)
        for key, value in original.items():
            value = value.numpy()
            if key.endswith("bias_hh_l0") and "lstm" in name:
                # Flint keeps one LSTM bias: the two come back added, in bias_ih.
                ih = key.replace("bias_hh", "bias_ih")
                assert np.array_equal(returned[ih] + returned[key], original[ih].numpy() + value), key
            elif not (key.endswith("bias_ih_l0") and "lstm" in name):
                assert np.array_equal(returned[key], value), f"{name}: {key} changed in the round trip"
        print(f"{name}: Flint → PyTorch round trip returns every tensor ({len(original)})")


def torch_check(flint, work, data):
    import torch
    torch.manual_seed(0)
    os.makedirs(work, exist_ok=True)
    mnist = os.path.join(data, "mnist")

    def read_idx(name):
        with gzip.open(os.path.join(mnist, name + ".gz")) as f:
            raw = f.read()
        dims = raw[3]
        shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
        return np.frombuffer(raw[4 + 4 * dims:], dtype=np.uint8).reshape(shape)

    module_list_check(flint, work, torch)
    test_images, test_labels = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")
    test_idx = os.path.join(mnist, "t10k-images-idx3-ubyte.gz")
    for name in ["mlp", "cnn"]:
        weights = os.path.join(work, f"{name}.safetensors")
        run(flint, "train", "--model", name, "--epochs", "1", "--data-dir", data, "--device", "cpu", "--save", weights,
            "--output", os.path.join(work, "pictures"))
        exported = os.path.join(work, f"{name}-torch.safetensors")
        run(flint, "convert", "--to", "pytorch", weights, exported)
        from safetensors.torch import load_file as torch_load
        from safetensors import safe_open
        with safe_open(exported, "pt") as f:
            meta = f.metadata()
        model = torch.nn.Sequential(*[torch_module(s, torch) for s in json.loads(meta["pytorch_modules"])])
        model.load_state_dict(torch_load(exported), strict=True)
        model.eval()
        x = (torch.from_numpy(test_images.copy()).float() / 255 - float(meta["input_mean"])) / float(meta["input_std"])
        if meta.get("layout") == "NCHW":
            x = x[:, None]
        with torch.no_grad():
            torch_logits = model(x).double().numpy()
        logits = flint_logits(flint, weights, test_idx)
        difference = np.abs(logits - torch_logits).max()
        torch_accuracy = (torch_logits.argmax(1) == test_labels).mean()
        flint_accuracy = (logits.argmax(1) == test_labels).mean()
        print(f"{name}: Flint → PyTorch on the MNIST test set: max |logit difference| {difference:.2e}; "
              f"accuracy Flint {flint_accuracy:.4f}, PyTorch {torch_accuracy:.4f}")
        assert difference <= 1e-4 and flint_accuracy == torch_accuracy

    # A CNN trained by PyTorch, imported into Flint.
    train_images, train_labels = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")
    mean, std = float(train_images.mean() / 255), float((train_images / 255).std())
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 13 * 13, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_train = ((torch.from_numpy(train_images.copy()).float() / 255 - mean) / std)[:, None]
    y_train = torch.from_numpy(train_labels.astype(np.int64))
    model.train()
    order = torch.randperm(len(x_train))
    for start in range(0, len(x_train), 64):
        batch = order[start:start + 64]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x_train[batch]), y_train[batch]).backward()
        optimizer.step()
    model.eval()
    x_test = ((torch.from_numpy(test_images.copy()).float() / 255 - mean) / std)[:, None]
    with torch.no_grad():
        torch_accuracy = (model(x_test).argmax(1).numpy() == test_labels).mean()
    from safetensors.torch import save_file as torch_save
    trained = os.path.join(work, "torch-cnn.safetensors")
    torch_save({k: v.contiguous() for k, v in model.state_dict().items()}, trained)
    imported = os.path.join(work, "imported-cnn.safetensors")
    run(flint, "convert", "--from", "pytorch", "--model", "cnn", "--input-mean", mean, "--input-std", std, trained, imported)
    result = json.loads(run(flint, "evaluate", "--weights", imported, "--data-dir", data, "--device", "cpu", "--json").splitlines()[-1])
    print(f"cnn trained in PyTorch (1 epoch): PyTorch test accuracy {torch_accuracy:.4f}, Flint after import {result['test_accuracy']:.4f}")
    assert abs(result["test_accuracy"] - torch_accuracy) < 1e-4
    print("torch interop check passed")


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[1] not in ("numpy", "torch"):
        sys.exit(__doc__)
    if sys.argv[1] == "numpy":
        numpy_check(sys.argv[2], sys.argv[3])
    else:
        torch_check(sys.argv[2], sys.argv[3], sys.argv[4])
