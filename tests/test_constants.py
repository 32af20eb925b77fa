"""Decision constants, MoLaP task names and the knee tolerance are defined once."""

import pathlib
import re

import pytest

from ctxrnn import metrics
from ctxrnn.analysis import knee, pruning
from ctxrnn.molap import pipeline
from ctxrnn.tasks import base, jarne, molap

PACKAGE = pathlib.Path(metrics.__file__).parent


def _definitions(pattern):
    """`(file, line)` of every assignment in ctxrnn/ whose right side matches `pattern`."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line in path.read_text().splitlines():
            if re.match(rf"\s*[A-Z_][A-Z0-9_]*\s*=\s*{pattern}", line):
                found.append((path.relative_to(PACKAGE).as_posix(), line.strip()))
    return found


@pytest.mark.parametrize("pattern", [
    r"0\.1\s*\*\s*np\.pi",   # angle tolerance
    r"0\.1\s+# .*(MoLaP|A\.3)",  # delta
    r'\("delay_pro"',        # the nine MoLaP task names
    r"0\.05\s*$",            # the knee tolerance
])
def test_each_literal_is_defined_in_one_module(pattern):
    assert len(_definitions(pattern)) == 1, _definitions(pattern)


def test_every_user_reads_the_one_definition():
    assert metrics.DEFAULT_DELTA is base.DELTA and molap.DELTA is base.DELTA
    assert metrics.ANGLE_TOLERANCE is base.ANGLE_TOLERANCE is molap.ANGLE_TOLERANCE
    assert metrics.DEFAULT_THRESHOLD is base.THRESHOLD and jarne.THRESHOLD is base.THRESHOLD
    assert pipeline.MOLAP_TASK_NAMES is molap.MOLAP_TASKS
    assert pruning.DEFAULT_TOLERANCE is knee.DEFAULT_TOLERANCE
