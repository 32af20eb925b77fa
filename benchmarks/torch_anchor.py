"""The PyTorch anchor of `bench_ctrnn.py`: the same leaky tanh RNN trained by a plain,
well-written PyTorch loop (eager; `unbind` over time, `addmm`, `lerp`; Adam; MSE).

This is the loop a careful PyTorch user writes: indexing `drive[t]` instead of
`unbind` fills a full-size zero tensor per step in the backward pass (2-4x slower,
`shared/PERFORMANCE.md`). Noise as `ctxrnn.CTRNN` draws it: input noise on the
inputs and recurrent noise on the drive, both with std scaled by sqrt(2 / alpha).
Parameters as the JAX anchor's: orthogonal W_rec, Glorot-uniform W_in, zero bias,
PyTorch's default `Linear` readout.

Timed in its own process (`ms_per_step` starts it), so that PyTorch's and
TensorFlow's thread pools and OpenMP runtimes never share one process; PyTorch uses
its default threads (one per core), as TensorFlow does in the parent.

    python benchmarks/torch_anchor.py 100 200 100 0.05   # N, batch, T, noise: ms/step
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

N_INPUTS, N_OUTPUTS = 3, 3
DT, TAU = 20.0, 100.0


def available() -> bool:
    """Whether PyTorch is installed (checked without importing it here)."""
    return importlib.util.find_spec("torch") is not None


def train_step_fn(units: int, batch: int, steps: int, noise: float):
    """`(step, x, y)`: one Adam step of the leaky RNN on a fixed `(batch, steps)` batch."""
    import torch

    torch.manual_seed(0)
    alpha = DT / TAU
    recurrent_std = noise * (2.0 / alpha) ** 0.5
    input_std = noise / 5 * (2.0 / alpha) ** 0.5
    limit = (6.0 / (N_INPUTS + units)) ** 0.5
    w_in = torch.nn.Parameter(torch.empty(N_INPUTS, units).uniform_(-limit, limit))
    w_rec = torch.nn.Parameter(torch.nn.init.orthogonal_(torch.empty(units, units)))
    bias = torch.nn.Parameter(torch.zeros(units))
    readout = torch.nn.Linear(units, N_OUTPUTS)
    optimizer = torch.optim.Adam([w_in, w_rec, bias, *readout.parameters()], lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, steps, N_INPUTS, generator=generator)
    y = torch.randn(batch, steps, N_OUTPUTS, generator=generator)

    def step():
        x_t = x.transpose(0, 1)
        if input_std:
            x_t = x_t + input_std * torch.randn(x_t.shape)
        drive = torch.addmm(bias, x_t.reshape(-1, N_INPUTS), w_in).view(steps, batch, units)
        if recurrent_std:
            drive = drive + recurrent_std * torch.randn(drive.shape)
        h = torch.zeros(batch, units)
        states = []
        for u in drive.unbind(0):
            h = torch.lerp(h, torch.tanh(torch.addmm(u, h, w_rec)), alpha)
            states.append(h)
        loss = torch.nn.functional.mse_loss(readout(torch.stack(states, 1)), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _time(units: int, batch: int, steps: int, noise: float, repeats: int,
          steps_per_repeat: int) -> float:
    step = train_step_fn(units, batch, steps, noise)
    for _ in range(3):
        step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps_per_repeat):
            step()
        best = min(best, (time.perf_counter() - start) / steps_per_repeat * 1e3)
    return best


def ms_per_step(units: int, batch: int, steps: int, noise: float, *, repeats: int,
                steps_per_repeat: int) -> float:
    """Best-of-`repeats` ms per PyTorch training step, timed in a fresh process."""
    result = subprocess.run(
        [sys.executable, __file__, str(units), str(batch), str(steps), str(noise),
         "--repeats", str(repeats), "--steps-per-repeat", str(steps_per_repeat)],
        capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("units", type=int)
    parser.add_argument("batch", type=int)
    parser.add_argument("steps", type=int)
    parser.add_argument("noise", type=float, help="recurrent noise (input noise: a fifth)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps-per-repeat", type=int, default=10)
    args = parser.parse_args()
    print(_time(args.units, args.batch, args.steps, args.noise, args.repeats,
                args.steps_per_repeat))


if __name__ == "__main__":
    main()
