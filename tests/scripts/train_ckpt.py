"""A training run for the fault-tolerance tests: python train_ckpt.py OUT CKPT_DIR [options].

Trains a small dropout network with Adam, shuffling and early stopping (every
source of state that a resume must restore), checkpointing into CKPT_DIR, and
saves the final weights to OUT (.npz). --resume continues from the newest
checkpoint; --lr and --flip change the settings/data (for the refusal tests);
--every sets the checkpoint interval. --stream DIR trains on the same data
written as Parquet files in DIR (written if missing), read as data sources
with a shuffle buffer; with --csv, as CSV files read by CsvSource.
--every-batches N also checkpoints every N batches inside an epoch.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import synnet

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("ckpt_dir")
parser.add_argument("--resume", action="store_true")
parser.add_argument("--epochs", type=int, default=60)
parser.add_argument("--every", type=int, default=1)
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--flip", action="store_true")
parser.add_argument("--stream", default=None)
parser.add_argument("--csv", action="store_true")
parser.add_argument("--every-batches", type=int, default=None)
args = parser.parse_args()

rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 20))
y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
if args.flip:
    y = 1 - y
net = synnet.Network([synnet.Dense(20, 64, "relu"), synnet.Dropout(0.2),
                      synnet.Dense(64, 64, "tanh"), synnet.Dense(64, 2, "softmax")], seed=7)
ckpt = synnet.Checkpoint(args.ckpt_dir, every=args.every, keep=3, resume=args.resume,
                         every_batches=args.every_batches)
stop = synnet.EarlyStopping("val_loss", patience=1000, restore_best_weights=True)
data: dict[str, object] = {"X": X, "y": y, "validation_split": 0.2}
if args.stream:
    from pathlib import Path

    import pandas as pd

    from synnet.data import CsvSource, ParquetSource

    names = [f"x{i}" for i in range(20)]
    folder = Path(args.stream)
    if not (folder / "valid.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(X, columns=names).assign(y=y)
        frame[:2400].to_parquet(folder / "train.parquet", row_group_size=300)
        frame[2400:].to_parquet(folder / "valid.parquet")
        frame[:2400].to_csv(folder / "train.csv", index=False, float_format="%.17g")
        frame[2400:].to_csv(folder / "valid.csv", index=False, float_format="%.17g")
    if args.csv:  # blocks of about 20 kB: several per epoch
        data = {"X": CsvSource(folder / "train.csv", names, "y", shuffle_buffer=500,
                               block_bytes=20_000),
                "validation_data": CsvSource(folder / "valid.csv", names, "y")}
    else:
        data = {"X": ParquetSource(folder / "train.parquet", names, "y", shuffle_buffer=500),
                "validation_data": ParquetSource(folder / "valid.parquet", names, "y")}
try:
    net.fit(**data, loss="categorical_crossentropy",  # type: ignore[arg-type]
            optimizer=synnet.Adam(lr=args.lr), epochs=args.epochs, batch_size=32,
            callbacks=[stop, ckpt])
except KeyboardInterrupt:
    print(f"interrupted; checkpoint {ckpt.last_path}", flush=True)
    sys.exit(130)
except synnet.SynnetError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
print(f"resumed_batches={ckpt.resumed_batches}", flush=True)
print(f"resumed_from={ckpt.resumed_from}", flush=True)
np.savez(args.out, **net.get_weights())
