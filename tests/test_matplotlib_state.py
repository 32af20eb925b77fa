"""Importing ctxrnn and drawing every figure kind leaves the user's matplotlib state alone."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import copy, os, sys, tempfile
    import matplotlib
    matplotlib.use("svg")  # the user's choice: not Agg, so a switch would show
    matplotlib.rcParams["font.size"] = 13.0
    before = copy.deepcopy(dict(matplotlib.rcParams))

    import numpy as np
    import ctxrnn
    from ctxrnn import perturb, tasks
    from ctxrnn.analysis import eigenvalues, figures, statistics_and_eigenvalues
    from ctxrnn.molap import pipeline
    from ctxrnn.tasks import plotting

    rng = np.random.default_rng(0)
    initial = rng.normal(0.0, 0.3, size=(8, 8))
    final = initial + rng.normal(0.0, 0.1, size=(8, 8))
    records = []
    for epoch, w in enumerate((initial, final)):
        record, _ = statistics_and_eigenvalues(w)
        record.update(epoch=epoch, weight="recurrent_kernel")
        records.append(record)
    curves = {"accuracy": [1.0, 0.9, 0.5], "distance": [0.1, 0.2, 0.9]}
    pruning = {"fractions": [0.0, 0.1, 0.2], "families": {"magnitude": dict(curves)},
               "knee": {"family": "magnitude", "metric": "accuracy", "tolerance": 0.05,
                        "fraction": 0.1}}
    examples = {"inputs": rng.normal(size=(2, 10, 2)), "targets": np.zeros((2, 10, 1)),
                "outputs": rng.normal(size=(2, 10, 1)), "loss_mask": np.ones((2, 10, 1)),
                "task_ids": np.array([0, 1]), "task_names": ["AND", "OR"],
                "input_names": ["a", "b"], "output_names": ["out"], "dt": 10.0}
    task = tasks.make("delay_pro")
    batch = task.generate(2, seed=0)
    drawn = [
        figures.histogram_before_after(initial, final),
        figures.eigenvalue_plane(eigenvalues(initial), eigenvalues(final)),
        figures.statistics_over_training(records),
        figures.pruning_curves(pruning),
        figures.example_trials(examples),
        figures.accuracy_table({"per_task_accuracy": {"AND": 0.9}, "accuracy": 0.9}),
        plotting.plot_trial(batch, batch.targets, suite=task),
    ]
    from ctxrnn.analysis import clusters, lesions, motif_figures, motifs
    variance = clusters.TaskVariance(rng.uniform(0.1, 1, (9, 4)),
                                     tuple((f"t{i}", "stim") for i in range(4)))
    found = clusters.cluster_units(variance, k_range=(2, 5))
    damage = lesions.LesionResult(("t0", "t1"), ("cluster 0",), (3,), np.ones(2),
                                  np.array([[0.5, 1.0]]), False)
    path = motifs.Interpolation(np.linspace(0, 1, 3), (), np.array([2, 2, 1]),
                                np.array([True, False]), 1.0)
    drawn += [motif_figures.atlas_figure(found), motif_figures.silhouette_figure({"a": found}),
              motif_figures.lesion_figure(damage),
              motif_figures.reuse_figure([("t0", "stim"), ("t1", "stim")], np.eye(2)),
              motif_figures.interpolation_figure({"t0->t1": path})]
    for figure in drawn:
        figures.figure_to_png(figure, dpi=40)
    out = tempfile.mkdtemp()
    pipeline.plot_accuracy({"molap": {"delay_pro": 0.8}}, os.path.join(out, "bars.png"))
    rows = [{"kind": "noise", "level": 0.0, "draw": 0, "task": "delay_pro", "accuracy": 0.8}]
    perturb.plot_sweeps({"molap": rows}, os.path.join(out, "sweep.png"))
    assert os.path.getsize(os.path.join(out, "bars.png")) > 1000
    assert os.path.getsize(os.path.join(out, "sweep.png")) > 1000

    problems = []
    if matplotlib.get_backend() != "svg":
        problems.append(f"backend changed to {matplotlib.get_backend()!r}")
    after = dict(matplotlib.rcParams)
    changed = sorted(k for k in before if repr(before[k]) != repr(after[k]))
    if changed:
        problems.append(f"rcParams changed: {changed}")
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and pyplot.get_fignums():
        problems.append(f"pyplot figures left open: {pyplot.get_fignums()}")
    print("PROBLEMS:", problems)
    sys.exit(1 if problems else 0)
''')


def test_importing_and_drawing_keeps_backend_rcparams_and_pyplot_untouched():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
