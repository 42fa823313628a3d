"""Atomic file writes: a complete file under its name, or none."""

import os
import tempfile


def write_atomically(path, data):
    """Writes `data` (bytes or str) to `path` through a temporary file in the same folder.

    The file is flushed to disk and renamed into place, so a crash leaves either
    the previous file or the new one, never a partial file under `path`.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
