"""Imports TensorFlow without its start-up chatter on stderr.

TensorFlow's C++ runtime writes informational lines at import (oneDNN, CPU
features, "All log messages before absl::InitializeLog() ...") straight to
file descriptor 2, before `TF_CPP_MIN_LOG_LEVEL` takes effect, and twice (two
shared libraries). While that level is >= 1 (ctxrnn's default is 2), the
descriptor is captured during the import and everything except those known
informational lines is written back, so a real warning or error (a CUDA
library that fails to load) still shows.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_INFO_LINES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|^[I]\d{4} .*\] "  # absl INFO lines: I0000 00:00:... file.cc:123] ...
    r"|^To enable the following instructions:.*rebuild TensorFlow"
)


def import_tensorflow():
    """Imports and returns `tensorflow`, filtering its start-up info lines from stderr."""
    if "tensorflow" in sys.modules or int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") or 0) < 1:
        import tensorflow

        return tensorflow
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines()
                    if line.strip() and not _INFO_LINES.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)
    return tensorflow
