"""`ctxrnn.molap.seeds`: runs of any approaches and seeds gathered into one table."""

import json

import pytest

from ctxrnn.molap import seeds

TASKS = ("delay_pro", "delay_anti", "mem_dm1")


def _run(path, seed, accuracy):
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"seed": seed}))
    (path / "results.json").write_text(json.dumps({"accuracy": accuracy}))
    return path


def test_runs_and_a_previous_file_merge_in_seed_order(tmp_path):
    run2 = _run(tmp_path / "s2", 2, {"molap": dict(zip(TASKS, (1.0, 1.0, 0.6))),
                                     "separate": dict(zip(TASKS, (1.0, 0.9, 0.8)))})
    run0 = _run(tmp_path / "s0", 0, {"separate": dict(zip(TASKS, (1.0, 1.0, 0.9)))})
    previous = {"seeds": [0, 2], "approaches": {
        "molap": {"seeds": [0, 2], "per_task": {t: [0.9, 0.1] for t in TASKS}}}}
    table = seeds.collect([run2, run0], previous)
    # molap: seed 0 from the file, seed 2 from its run (the run's value wins)
    assert table["molap"]["mem_dm1"]["seeds"] == [0, 2]
    assert table["molap"]["mem_dm1"]["values"] == [0.9, 0.6]
    assert table["separate"]["delay_anti"]["seeds"] == [0, 2]
    assert table["separate"]["delay_anti"]["mean"] == pytest.approx(0.95)
    data = seeds.seeds_json(table)
    assert data["seeds"] == [0, 2] and data["approaches"]["molap"]["seeds"] == [0, 2]
    text = seeds.markdown(table)
    assert "| seeds with >= 70 % on every task | 1 of 2 | 2 of 2 |" in text
    assert "90.0 (s0), 60.0 (s2)" in text  # T3-T9 mean per seed (here: mem_dm1 only)
    with pytest.raises(ValueError, match="appears twice for seed 2"):
        seeds.collect([run2, run2])


def test_committed_study_has_the_issue_schema_and_meets_its_bar():
    # experiments/results/molap_seeds.json backs the RESULTS tables: five seeds of the
    # five approaches, fractions in [0, 1], and the issue's bars.
    import pathlib

    from ctxrnn.molap import pipeline

    path = pathlib.Path(__file__).parents[2] / "experiments/results/molap_seeds.json"
    study = json.loads(path.read_text())
    assert study["seeds"] == [0, 1, 2, 3, 4]
    assert set(study["approaches"]) == set(pipeline.APPROACHES)
    for approach, entry in study["approaches"].items():
        assert sorted(entry["seeds"]) == study["seeds"]
        assert len(entry["per_task"]) == 9
        for task, values in entry["per_task"].items():
            assert len(values) == 5 and all(0 <= v <= 1 for v in values), (approach, task)
            if approach in ("separate", "dni"):
                assert min(values) >= 0.9, (approach, task, values)
            assert min(values) >= 0.7, (approach, task, values)
