"""Per-epoch checkpoints that a crash cannot corrupt, and resuming from them.

A checkpoint is a folder `epoch-NNNN/` holding `model.keras` (weights, optimizer
state, and the models' random-generator state, which are variables) and
`state.json` (epoch, seed, data position). It is written into a temporary
folder and renamed into place when complete; then the one-line file `latest`
is replaced atomically to point at it. A crash at any moment leaves `latest`
naming a complete checkpoint.

Data position: training resumes at the start of the epoch after the last
checkpoint. Each epoch's data order and random draws are keyed by
(seed, epoch), so the resumed run sees exactly what an uninterrupted run would.
"""

import json
import os
import shutil
import tempfile

import keras

from tfvae import _compat
from tfvae._checks import check_positive_int
from tfvae._io import write_atomically

__all__ = ["CheckpointError", "EpochCheckpoint", "latest_checkpoint", "load_checkpoint"]

LATEST = "latest"


class CheckpointError(RuntimeError):
    """A checkpoint folder is missing, incomplete or unreadable."""


def _before_publish(path):
    """Called when a checkpoint is complete in its temporary folder (a seam for tests)."""


def write_checkpoint(directory, model, state, keep=2):
    """Writes `model` and `state` (a JSON-able dict with "epoch") as a new checkpoint; returns its folder."""
    os.makedirs(directory, exist_ok=True)
    name = f"epoch-{int(state['epoch']):04d}"
    tmp = tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=directory)
    try:
        model.save(os.path.join(tmp, "model.keras"))
        write_atomically(os.path.join(tmp, "state.json"), json.dumps(state, indent=2))
        _before_publish(tmp)
        target = os.path.join(directory, name)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_atomically(os.path.join(directory, LATEST), name + "\n")
    kept = sorted(d for d in os.listdir(directory) if d.startswith("epoch-"))
    for old in kept[:-keep]:
        shutil.rmtree(os.path.join(directory, old), ignore_errors=True)
    return target


def latest_checkpoint(directory):
    """The folder named by `directory/latest`, or None when there is no checkpoint yet."""
    pointer = os.path.join(directory, LATEST)
    if not os.path.isfile(pointer):
        return None
    with open(pointer) as f:
        name = f.read().strip()
    path = os.path.join(directory, name)
    if not name or not os.path.isdir(path):
        raise CheckpointError(f"{pointer} names {name!r}, which is not a checkpoint folder in {directory}.")
    return path


def load_checkpoint(path):
    """Loads `(model, state)` from a checkpoint folder, with a clear error if it is damaged."""
    model_file, state_file = os.path.join(path, "model.keras"), os.path.join(path, "state.json")
    for f in (model_file, state_file):
        if not os.path.isfile(f):
            raise CheckpointError(f"checkpoint {path} is incomplete: {os.path.basename(f)} is missing.")
    try:
        with open(state_file) as f:
            state = json.load(f)
        model = load_model(model_file)
    except (ValueError, OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {e}") from None
    return model, state


def load_model(path):
    """`keras.saving.load_model` in safe mode, with a clear error for a missing, truncated or foreign file."""
    import zipfile

    import tfvae  # noqa: F401  (registers the classes)

    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such model file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras model file (not a zip archive; truncated or corrupt?).")
    try:
        return keras.saving.load_model(path)  # safe_mode=True: never unpickles code
    except Exception as e:
        raise ValueError(f"{path} could not be loaded as a tfvae model: {type(e).__name__}: {str(e)[:300]}") from None


class EpochCheckpoint(keras.callbacks.Callback):
    """Writes a checkpoint at the end of every epoch (see module docstring).

    Keras' stateful callbacks (`EarlyStopping`, `ReduceLROnPlateau`) reset
    their counters when `fit` begins. Pass them as `callbacks` and put this
    callback after them: their state is saved with each checkpoint and, given
    `restore`, set back after their reset, so a resumed run stops, or lowers
    the learning rate, at the epoch an uninterrupted run would. Whether
    training was stopped (`model.stop_training`) is saved too.

    Args:
        directory: str. Checkpoint folder.
        state: dict. Extra JSON-able facts saved with each checkpoint (seed, ...).
        keep: int. Checkpoints kept (the newest).
        callbacks: the run's other callbacks, whose state is saved.
        restore: dict or None. A checkpoint's `state.json` to restore the
            callbacks' state from when training begins (resuming).

    `EarlyStopping(restore_best_weights=True)` keeps the best weights seen
    since the last resume only: its weights are not part of the checkpoint.
    """

    def __init__(self, directory, state=None, keep=2, callbacks=(), restore=None):
        super().__init__()
        keep = check_positive_int(keep, "keep")
        self.directory = directory
        self.state = dict(state or {})
        self.keep = keep
        self.callbacks = list(callbacks)
        self.restore = restore

    def on_train_begin(self, logs=None):
        if not self.restore:
            return
        saved = self.restore.get("callbacks", [])
        stateful = [c for c in self.callbacks if _compat.callback_state(c)]
        if [s["class"] for s in saved] != [type(c).__name__ for c in stateful]:
            raise CheckpointError(
                f"The checkpoint holds the state of callbacks {[s['class'] for s in saved]}; this run has "
                f"{[type(c).__name__ for c in stateful]}. Resume with the callbacks of the original run.")
        for callback, entry in zip(stateful, saved):
            _compat.restore_callback_state(callback, entry["state"])

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        states = [{"class": type(c).__name__, "state": _compat.callback_state(c)} for c in self.callbacks]
        write_checkpoint(self.directory, self.model,
                         {**self.state, "epoch": epoch, "next_epoch": epoch + 1, "logs": logs,
                          "stop_training": bool(self.model.stop_training),
                          "callbacks": [s for s in states if s["state"]]}, self.keep)
