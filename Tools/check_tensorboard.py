#!/usr/bin/env python3
"""Reads Flint's TensorBoard event files with the real `tensorboard` package and checks that
every scalar of a training log is there, with the same value.

    pip install tensorboard
    flint train --model mlp --epochs 2 --tensorboard tb --tensorboard-every 100 --log run.jsonl
    python3 Tools/check_tensorboard.py tb run.jsonl

For each epoch line of the JSON-lines log, `epoch_<key>` must be in the `train` run at step =
epoch and `epoch_<key without val_>` in the `validation` run for `val_` keys, equal as float32
(null in the log is NaN in TensorBoard). Every record must pass TensorBoard's own CRC checks,
TensorBoard's data-compatibility layer (what its server uses) must file the scalars under the
scalars plugin, and images must be PNGs of the size their events state. `make tensorboard-check`
runs this after a short training run.
"""
import glob
import json
import math
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors
from tensorboard import data_compat


def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or float32(a) == float32(b)


def strict_records(path):
    """Every record through TensorBoard's record reader, which raises on a bad CRC."""
    from tensorboard.compat.tensorflow_stub import pywrap_tensorflow

    reader = pywrap_tensorflow.PyRecordReader_New(path.encode() if isinstance(path, str) else path, 0, None, None)
    count = 0
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return count
        event_pb2.Event.FromString(reader.record())
        count += 1


def main():
    logdir, log = sys.argv[1], sys.argv[2]
    failures = []
    files = sorted(glob.glob(os.path.join(logdir, "*", "*tfevents*")))
    if not files:
        sys.exit(f"no event files under {logdir}")
    for path in files:
        try:
            records = strict_records(path)
        except errors.DataLossError as error:
            failures.append(f"{path}: {error}")
            continue
        print(f"{os.path.relpath(path, logdir)}: {records} records, CRCs good")

    runs = {}
    for run in ("train", "validation"):
        folder = os.path.join(logdir, run)
        if not os.path.isdir(folder):
            continue
        accumulator = event_accumulator.EventAccumulator(folder, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
        accumulator.Reload()
        runs[run] = accumulator
        tags = accumulator.Tags()
        print(f"{run}: {len(tags['scalars'])} scalar tags {sorted(tags['scalars'])}, images {sorted(tags['images'])}")
        # The server's path: events migrated by data_compat must land in the scalars plugin.
        migrated = set()
        for path in glob.glob(os.path.join(folder, "*tfevents*")):
            for event in event_file_loader.EventFileLoader(path).Load():
                for value in event.summary.value:
                    value = data_compat.migrate_value(value)
                    migrated.add((value.tag, value.metadata.plugin_data.plugin_name))
        for tag in tags["scalars"]:
            if (tag, "scalars") not in migrated:
                failures.append(f"{run}/{tag}: not filed under the scalars plugin by data_compat")
        for tag in tags["images"]:
            for image in accumulator.Images(tag):
                png = image.encoded_image_string
                if not png.startswith(b"\x89PNG\r\n\x1a\n"):
                    failures.append(f"{run}/{tag}: not a PNG")
                elif struct.unpack(">II", png[16:24]) != (image.width, image.height):
                    failures.append(f"{run}/{tag}: PNG size differs from the event's {image.width}x{image.height}")

    checked = 0
    for line in open(log):
        row = json.loads(line)
        epoch = row.pop("epoch")
        for key, expected in row.items():
            run, base = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            tag = "epoch_" + base
            expected = math.nan if expected is None else expected
            accumulator = runs.get(run)
            if accumulator is None or tag not in accumulator.Tags()["scalars"]:
                failures.append(f"{run}/{tag}: missing")
                continue
            found = [event.value for event in accumulator.Scalars(tag) if event.step == epoch]
            if len(found) != 1 or not same(found[0], expected):
                failures.append(f"{run}/{tag} at epoch {epoch}: TensorBoard has {found}, the log {expected}")
            checked += 1
    batch_points = sum(len(runs["train"].Scalars(tag)) for tag in runs["train"].Tags()["scalars"] if tag.startswith("batch_"))
    print(f"{checked} epoch scalars match {log}; {batch_points} per-step points")
    if failures:
        sys.exit("FAILED:\n  " + "\n  ".join(failures))
    print("TensorBoard reads every scalar")


if __name__ == "__main__":
    main()
