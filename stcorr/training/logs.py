"""The logs of a run: RUN/train_log.csv, RUN/val_log.csv, and TensorBoard when it is installed.

train_log.csv has a row every ``train.log_every`` steps with the mean loss since the last row.
Rows are appended and flushed as they come; a resumed run first drops the rows past its
checkpoint (written before a kill) and carries on with the losses the checkpoint held back, so
the log of a killed and resumed run equals an uninterrupted run's (but for ``elapsed_s``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stcorr.files import write_file

TRAIN_LOG_FIELDS = ("step", "epoch", "loss", "lr", "elapsed_s")


class RunLog:
    def __init__(self, run: Path, active: bool, resume_step: int | None = None, pending: list[float] | None = None):
        self.active, self.latest, self.pending = active, {}, list(pending or [])
        self.train_file, self.val_file = run / "train_log.csv", run / "val_log.csv"
        self.tensorboard = None
        if not active:
            return
        for f in (self.train_file, self.val_file):
            if resume_step is None:
                f.unlink(missing_ok=True)
            else:
                _drop_rows_after(f, resume_step)
        self.tensorboard = _tensorboard(run)

    def step(self, step: int, epoch: float, loss: float, lr: float, elapsed: float, every: int) -> None:
        self.pending.append(loss)
        if step % max(every, 1):
            return
        row = dict(zip(TRAIN_LOG_FIELDS, (step, round(epoch, 4), float(np.mean(self.pending)), lr, round(elapsed, 2))))
        self.pending = []
        self.latest = {**self.latest, "loss": row["loss"]}
        if not self.active:
            return
        _append_csv(self.train_file, row)
        if self.tensorboard:
            self.tensorboard.add_scalar("train/loss", row["loss"], step)
            self.tensorboard.add_scalar("train/lr", lr, step)

    def validation(self, step: int, metrics: dict) -> None:
        row = {"step": step, **{k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}}
        self.latest.update({f"val_{k}": v for k, v in row.items() if k != "step"})
        if not self.active:
            return
        _append_csv(self.val_file, row)
        if self.tensorboard:
            for k, v in row.items():
                if k != "step":
                    self.tensorboard.add_scalar(f"val/{k}", v, step)

    def close(self) -> None:
        if self.tensorboard:
            self.tensorboard.close()


def read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _drop_rows_after(path: Path, step: int) -> None:
    """Keeps the header and the rows of steps <= ``step`` (a killed run may have logged past its checkpoint)."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if _row_step(line) is not None and _row_step(line) <= step]
    if len(kept) != len(lines):
        write_file(path, "".join(kept))


def _row_step(line: str) -> int | None:
    try:
        return int(line.split(",", 1)[0])
    except ValueError:
        return None


def _append_csv(path: Path, row: dict) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()



def _tensorboard(run: Path):
    try:
        # TensorBoard is optional: loaded only when asked for
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run / "tensorboard"))
