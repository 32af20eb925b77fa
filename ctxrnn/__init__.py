"""ctxrnn: continuous-time RNNs for context multitasking, MoLaP and weight analysis.

ctxrnn runs on Keras 3 with the TensorFlow backend. Install TensorFlow through
an extra: ``pip install "ctxrnn[cpu]"`` (light CPU build) or
``pip install "ctxrnn[gpu]"`` (CUDA build).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ctxrnn._startup import configure_threads, import_tensorflow  # noqa: E402,F401

try:
    import_tensorflow()
except ImportError as error:  # pragma: no cover - depends on the install
    raise ImportError(
        "ctxrnn needs TensorFlow. Install it with `pip install \"ctxrnn[cpu]\"` "
        "(CPU) or `pip install \"ctxrnn[gpu]\"` (NVIDIA GPU)."
    ) from error

import keras

if keras.backend.backend() != "tensorflow":  # pragma: no cover - user config
    raise ImportError(
        "ctxrnn runs on the TensorFlow backend of Keras; the active backend is "
        f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before "
        "importing keras."
    )

__version__ = "0.1.0"

from ctxrnn import losses, masks, metrics, seeding  # noqa: E402,F401  (registers them for load_model)
from ctxrnn.callbacks import PruningSweep, TaskAccuracy, WeightStatistics  # noqa: E402
from ctxrnn.cells import CTRNNCell  # noqa: E402
from ctxrnn.initializers import GainNormal  # noqa: E402
from ctxrnn.layers import CTRNN, find_ctrnn, hidden_states  # noqa: E402
from ctxrnn.losses import MaskedMSE  # noqa: E402
from ctxrnn.metrics import DecisionAccuracy  # noqa: E402
from ctxrnn.models import compile_model, context_multitask  # noqa: E402
from ctxrnn.readout import find_readout, fit_readout  # noqa: E402
from ctxrnn.stacked import NetworkSum, StackedDense, StackedModel  # noqa: E402
from ctxrnn.tasks import TaskSuite  # noqa: E402
from ctxrnn.transfer import add_task_head, freeze, transfer_task  # noqa: E402
from ctxrnn.zoo import list_models, load  # noqa: E402

__all__ = ["CTRNN", "CTRNNCell", "DecisionAccuracy", "GainNormal", "MaskedMSE", "NetworkSum", "PruningSweep",
           "StackedDense", "StackedModel",
           "TaskAccuracy", "TaskSuite", "WeightStatistics", "add_task_head", "compile_model",
           "configure_threads", "context_multitask", "find_ctrnn", "find_readout",
           "fit_readout", "freeze", "hidden_states", "list_models", "load", "masks", "seeding",
           "transfer_task"]
