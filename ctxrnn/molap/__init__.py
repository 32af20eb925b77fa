"""MoLaP: modular latent primitives (Márton, Gagnon, Rajan & Lajoie).

A recurrent network of `N = 100` tanh units in 2 modules of 50 learns nine
tasks with one frozen core and one input/readout head per task:

1. `LatentPrimitives` — CCA (or PCA) of the channel-stacked inputs and targets
   of the whole corpus gives one (input, target) primitive time series per module.
2. `pretrain_modules` — each module in turn learns its primitive with only its
   intra-module block plastic (the gradient flows through the whole network).
3. `train_heads` — W_rec is frozen; each task trains only its own input and
   readout weights (each head alone, again when it stalls; `copy_head` moves
   a head between multi-head models).

`baselines` holds the separate-network and DNI-style comparisons, `counts`
the parameter and update counts of Table 1, `ctxrnn.perturb` the lesion,
noise and silencing sweeps.
"""

from ctxrnn.molap.network import HeadLayout, build_network, core_weights, task_model
from ctxrnn.molap.primitives import LatentPrimitives, corpus_arrays
from ctxrnn.molap.training import (HeadConfig, PretrainConfig, copy_head, evaluate,
                                   pretrain_modules, train_heads, train_with_restarts)

__all__ = ["HeadConfig", "HeadLayout", "LatentPrimitives", "PretrainConfig", "build_network",
           "copy_head", "core_weights", "corpus_arrays", "evaluate", "pretrain_modules",
           "task_model", "train_heads", "train_with_restarts"]
