"""Library-wide refactoring (ReGAL / TroVE style), never breaking a stored test.

- `refactor_library` (run.py): clusters of modules sharing code by AST and near by embedding
  (cluster.py) -> one LLM proposal of a helper plus rewrites (propose.py) -> sandbox
  verification of every affected stored test and of tests derived for the helper (verify.py)
  -> an all-or-nothing commit (commit.py).
- `dedup` (dedup.py): behaviourally equal modules become aliases of one canonical module.
- `prune` (prune.py): superseded and long-unreused modules move to status `pruned`.
- `measure` (measure.py): lines, modules calling a helper, stored tests passing.
- `evolve_insights` (evolve.py): refine or retire the insights that mislead more than they
  help (AlphaOPT), checked by replaying retrieval on the tasks they were shown for.
"""

from agentlib.refactor.dedup import dedup
from agentlib.refactor.measure import measure
from agentlib.refactor.prune import prune
from agentlib.refactor.run import refactor_library

__all__ = ["dedup", "measure", "prune", "refactor_library"]
