"""Analysis of Python source, one rule per question (imports only `model`).

- `source`: normalised form, content id, signature, docstring of a source text.
- `names`: free names, the calls tests make, `dependencies` (which library modules a source
  uses) and `dependency_problems` (does a declared list agree with it).
- `calls`: `Call` (how a call passes its arguments) and `accepts` (the one arity rule).
- `rename`: renaming a function, unshadowing locals, dropping local copies of library code.
- `extract`: turning a model reply into one clean candidate function.
- `closure`: the dependency closure (topological, each module once) and program assembly.
"""

from agentlib.code.calls import Call, accepts, first_call
from agentlib.code.closure import (
    DependencyError,
    candidate_program,
    dependency_closure,
    module_closure,
    program_source,
)
from agentlib.code.extract import Candidate, ExtractionError, code_blocks, extract, reply_functions
from agentlib.code.names import (
    dependencies,
    dependency_problems,
    external_names,
    free_names,
    infer_entry_point,
    named_calls,
)
from agentlib.code.rename import drop_shadowing, rename, rename_source, unshadow_locals
from agentlib.code.source import (
    defined_functions,
    docstring,
    find_function,
    module_id,
    normalise,
    signature,
)

__all__ = ["Call", "Candidate", "DependencyError", "ExtractionError", "accepts",
           "candidate_program", "code_blocks", "defined_functions", "dependencies",
           "dependency_closure", "dependency_problems", "docstring",
           "external_names", "drop_shadowing",
           "extract", "find_function", "first_call", "free_names", "infer_entry_point",
           "module_closure", "module_id", "named_calls", "normalise", "program_source",
           "rename", "rename_source", "reply_functions", "signature", "unshadow_locals"]
