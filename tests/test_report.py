"""Tests for ctxrnn.report.write_report on synthetic run directories."""

import base64
import html.parser
import io
import json

import matplotlib.image
import numpy as np
import pytest

from ctxrnn.analysis import statistics_and_eigenvalues
from ctxrnn.report import write_report
from ctxrnn.runs import RunDirectory

UNITS = 10
TASKS = ["AND", "OR"]
FRACTIONS = [0.0, 0.1, 0.2, 0.3]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def build_run(path, *, pruning=True, knee=True, examples=True):
    rng = np.random.default_rng(0)
    run = RunDirectory(path, create=True)
    run.write_config({"tasks": TASKS, "units": UNITS, "dt": 10.0, "tau": 100.0, "seed": 0})
    initial = rng.normal(0, 0.3, (UNITS, UNITS)).astype(np.float32)
    final = initial + rng.gamma(2.0, 0.05, (UNITS, UNITS)).astype(np.float32)
    connectivity = np.ones((UNITS, UNITS), np.float32)
    connectivity[0, 1] = 0
    for stage, kernel in (("initial", initial), ("final", final)):
        run.save_weights(stage, recurrent_kernel=kernel, recurrent_connectivity=connectivity)
    records = []
    for epoch, kernel in enumerate((initial, final)):
        record, eigs = statistics_and_eigenvalues(kernel, connectivity=connectivity)
        record.update(epoch=epoch, weight="recurrent_kernel")
        records.append(record)
        run.save_eigenvalues(epoch, "recurrent_kernel", eigs)
    run.write_statistics(records)
    run.write_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.9]})
    run.write_evaluation({"per_task_accuracy": {"AND": 0.95, "OR": 0.9}, "accuracy": 0.925,
                          "per_task_distance": {"AND": 0.2, "OR": 0.3}})
    if pruning:
        curves = {"distance": [0.2, 0.21, 0.9, 2.0], "accuracy": [0.92, 0.91, 0.6, 0.3],
                  "per_task_accuracy": {task: [0.9, 0.9, 0.5, 0.2] for task in TASKS}}
        content = {"fractions": FRACTIONS,
                   "families": {family: curves for family in
                                ("magnitude", "positive", "negative", "random")},
                   "baseline": {"distance": 0.2, "accuracy": 0.92}}
        if knee:
            content["knee"] = {"family": "magnitude", "metric": "accuracy",
                               "tolerance": 0.05, "fraction": 0.1}
        run.write_pruning(content)
    if examples:
        time = 20
        inputs = rng.normal(size=(2, time, 3))
        run.save_examples(inputs=inputs, targets=np.zeros((2, time, 1)),
                          outputs=rng.normal(size=(2, time, 1)), loss_mask=np.ones((2, time, 1)),
                          task_ids=np.array([0, 1]), task_names=TASKS,
                          input_names=["a", "b", "context"], output_names=["out"], dt=10.0)
    return run


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.tables, self.text = [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self.tables += tag == "table"

    def handle_data(self, data):
        self.text.append(data)


def parse(path):
    collector = _Collector()
    collector.feed(path.read_text(encoding="utf-8"))
    collector.close()
    return collector


def test_full_report(tmp_path):
    run = build_run(tmp_path / "run")
    path = write_report(run.path)
    assert path == run.path / "report.html"
    page = parse(path)
    names = {p.name for p in (run.path / "figures").iterdir()}
    assert names == {"accuracy.png", "weights_histogram.png", "eigenvalues.png",
                     "statistics_over_training.png", "pruning.png", "example_trials.png"}
    assert len(page.images) == len(names)
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1])
        assert png.startswith(PNG_MAGIC)
        assert matplotlib.image.imread(io.BytesIO(png)).ndim == 3
    assert page.tables >= 5  # config, accuracy, history, statistics, knees
    text = " ".join(page.text)
    assert "Knee: 10.0 %" in text and "95.0 %" in text and "Excess kurtosis" in text
    stats = json.loads((run.path / "stats.json").read_text())
    assert set(stats["sections"].values()) == {"ok"}
    assert stats["knee"]["fraction"] == 0.1
    assert stats["weights"]["final"]["n_connections"] == UNITS * UNITS - 1
    assert stats["config"]["units"] == UNITS
    assert stats["evaluation"]["accuracy"] == 0.925
    assert not [p for p in run.path.rglob("*.tmp")]


def test_minimal_run_says_what_is_missing(tmp_path):
    run = RunDirectory(tmp_path / "bare", create=True)
    run.write_config({"units": 4})
    out = tmp_path / "out"
    path = write_report(run.path, output=out)
    assert path == out / "report.html" and (out / "stats.json").exists()
    text = " ".join(parse(path).text)
    assert "Not available" in text and "pruning.json" in text
    stats = json.loads((out / "stats.json").read_text())
    assert stats["sections"]["config"] == "ok"
    assert stats["sections"]["pruning"].startswith("missing")
    assert not (run.path / "report.html").exists()


def test_knee_computed_when_not_stored(tmp_path):
    run = build_run(tmp_path / "run", knee=False, examples=False)
    write_report(run.path)
    stats = json.loads((run.path / "stats.json").read_text())
    # accuracy 0.92 -> 0.91 (within 0.05) -> 0.6: knee at 10 %.
    assert stats["knee"]["fraction"] == pytest.approx(0.1)
    assert stats["sections"]["examples"].startswith("missing")
    assert "computed by the report" in run.report_path.read_text()


def test_malformed_file_warns_and_reports(tmp_path):
    run = build_run(tmp_path / "run", examples=False)
    content = json.loads(run.pruning_path.read_text())
    content["families"]["magnitude"]["accuracy"] = [1.0]
    run.pruning_path.write_text(json.dumps(content))
    with pytest.warns(UserWarning, match="malformed"):
        path = write_report(run.path)
    assert "Could not build this section" in path.read_text()


def test_not_a_run_directory(tmp_path):
    with pytest.raises(ValueError, match="config.json"):
        write_report(tmp_path)
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing")
