"""Trial generators for the reference tasks, and `TaskSuite` for context mixing.

```python
from ctxrnn import tasks

tasks.list_tasks()                       # every registered name
xor = tasks.make("xor", dt=5.0)
batch = xor.generate(256, seed=0)        # TrialBatch: inputs, targets, loss_mask, ...
suite = tasks.TaskSuite(["and", "or", "xor"], dt=5.0)
figure = tasks.plot_trial(batch, trials=(0, 1))  # matplotlib Figure (imported on first use)
```
"""

from ctxrnn.tasks.base import Task, TrialBatch
from ctxrnn.tasks.jarne import JARNE_TASKS
from ctxrnn.tasks.molap import MOLAP_TASKS
from ctxrnn.tasks.populations import POPULATION_TASKS
from ctxrnn.tasks.registry import from_config, get_class, list_tasks, make, register
from ctxrnn.tasks.suite import CONTEXTS, TaskSuite
from ctxrnn.tasks.yang import YANG_RULES

__all__ = ["CONTEXTS", "JARNE_TASKS", "MOLAP_TASKS", "POPULATION_TASKS", "Task", "TaskSuite",
           "TrialBatch", "YANG_RULES", "from_config", "get_class", "list_tasks", "make", "plot_trial",
           "register"]


def __getattr__(name):
    # `plot_trial` needs matplotlib: import it on first use, not with the package.
    if name == "plot_trial":
        from ctxrnn.tasks.plotting import plot_trial

        return plot_trial
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
