"""Small stand-ins for the nine MoLaP tasks (tasks.md section 1), for MoLaP unit tests.

They follow the 110-step layout (10 blank, 25 fixation, 50 stimulus, 25
response) and the `generate` / `correct` interface of `ctxrnn.tasks`, so the
MoLaP code can be tested without depending on the task package's details.
"""

import dataclasses

import numpy as np

NAMES = ("delay_pro", "delay_anti", "mem_pro", "mem_anti", "mem_dm1", "mem_dm2",
         "context_mem_dm1", "context_mem_dm2", "multi_mem")
BLANK, FIX_END, STIM_END, STEPS = 10, 35, 85, 110


@dataclasses.dataclass
class Batch:
    inputs: np.ndarray
    targets: np.ndarray
    loss_mask: np.ndarray
    decision_mask: np.ndarray
    epochs: dict = dataclasses.field(default_factory=dict)


EPOCHS = {"blank": (0, BLANK), "fixation": (BLANK, FIX_END), "stimulus": (FIX_END, STIM_END),
          "response": (STIM_END, STEPS)}


class FakeTask:
    timing = dict.fromkeys(EPOCHS)  # epoch names in order, as `ctxrnn.tasks.Task.timing`

    def __init__(self, name, noise=0.002):
        self.name = name
        self.noise = noise
        self.n_inputs = 2 if name in ("mem_dm1", "mem_dm2") else 3
        self.n_outputs = 3 if name in NAMES[:4] else 2
        self.output_names = ("fixation", "cos", "sin")[:self.n_outputs]

    def window(self, epochs, *names):
        t = np.arange(STEPS)[None, :]
        return np.any([(t >= epochs[n][:, :1]) & (t < epochs[n][:, 1:]) for n in names], axis=0)

    def generate(self, batch_size, seed):
        rng = np.random.default_rng(seed)
        b = batch_size
        th1 = np.deg2rad(rng.integers(0, 36, b) * 10.0)
        th2 = np.deg2rad(rng.integers(0, 36, b) * 10.0)
        x = np.zeros((b, STEPS, self.n_inputs), np.float32)
        y = np.zeros((b, STEPS, self.n_outputs), np.float32)
        x[:, BLANK:STIM_END, 0] = 1.0
        y[:, BLANK:STIM_END, 0] = 1.0
        c1, s1, c2, s2 = np.cos(th1), np.sin(th1), np.cos(th2), np.sin(th2)
        name = self.name
        if name in NAMES[:4]:
            stop = np.full(b, STEPS) if name.startswith("delay") else 35 + rng.integers(10, 31, b)
            on = (np.arange(STEPS)[None] >= 35) & (np.arange(STEPS)[None] < stop[:, None])
            x[:, :, 1] = on * c1[:, None]
            x[:, :, 2] = on * s1[:, None]
            sign = -1.0 if name.endswith("anti") else 1.0
            y[:, STIM_END:, 1] = sign * c1[:, None]
            y[:, STIM_END:, 2] = sign * s1[:, None]
        else:
            if name == "mem_dm1":
                channels, value = [(c1, c2)], np.maximum(c1, c2)
            elif name == "mem_dm2":
                channels, value = [(s1, s2)], np.maximum(s1, s2)
            else:
                channels = [(c1, c2), (s1, s2)]
                value = {"context_mem_dm1": np.maximum(c1, c2),
                         "context_mem_dm2": np.maximum(s1, s2),
                         "multi_mem": np.maximum(c1 + s1, c2 + s2)}[name]
            for k, (first, second) in enumerate(channels):
                x[:, 35:45, 1 + k] = first[:, None]
                x[:, 65:75, 1 + k] = second[:, None]
            y[:, STIM_END:, 1] = value[:, None]
        x[:, BLANK:] += self.noise * rng.standard_normal(x[:, BLANK:].shape).astype(np.float32)
        mask = np.ones((b, STEPS, 1), np.float32)
        mask[:, :BLANK] = 0.0
        decision = np.zeros((b, STEPS, 1), np.float32)
        decision[:, -30:] = 1.0
        epochs = {name: np.tile(np.array(span)[None], (b, 1)) for name, span in EPOCHS.items()}
        return Batch(x, y, mask, decision, epochs)

    def correct(self, outputs, batch):
        out = np.asarray(outputs)[..., -30:, :].mean(axis=-2)
        tgt = np.asarray(batch.targets)[:, -30:, :].mean(axis=-2)
        return np.all(np.abs(out - tgt) <= 0.1, axis=-1)


def make_all(noise=0.002):
    return [FakeTask(name, noise) for name in NAMES]


def make(name, memory_delay=True, **options):
    """Registry-style constructor, like `ctxrnn.tasks.make` (`memory_delay` is accepted
    and ignored: the stand-in memory tasks have one layout)."""
    if name not in NAMES:
        raise ValueError(f"Unknown task {name!r}; expected one of {NAMES}.")
    return FakeTask(name, **options)
