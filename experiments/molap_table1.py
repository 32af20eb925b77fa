"""MoLaP Table 1: parameter and update counts from the configuration, beside the paper's.

    python experiments/molap_table1.py OUT_DIR [--task-module ctxrnn.tasks]

Needs no training: the counts follow from the tasks' channel counts, the
network sizes and the iterations of the default configuration.
"""

import argparse
import json
import pathlib
import sys

from ctxrnn.molap import counts, network, pipeline


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--task-module", default="ctxrnn.tasks")
    args = parser.parse_args(argv)
    config = pipeline.PipelineConfig(task_module=args.task_module)
    tasks = pipeline.load_tasks(config.tasks, config.task_module, config.trials)
    layout = network.HeadLayout.from_tasks(tasks, config.tasks)
    measured = pipeline._layout_counts(layout, config, config.pretrain.total_iterations)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = counts.table1_markdown(measured)
    (out / "table1.md").write_text(table + "\n\n" + counts.EXPLANATION)
    (out / "table1.json").write_text(json.dumps(
        {"counts": {k: v.as_dict() for k, v in measured.items()},
         "paper_assumption": {k: v.as_dict() for k, v in counts.paper_assumption_counts().items()},
         "paper_table1": counts.PAPER_TABLE1, "ratios": counts.ratios(measured)}, indent=2))
    print(table)
    print(json.dumps(counts.ratios(measured), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
