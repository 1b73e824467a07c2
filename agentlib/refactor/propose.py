"""Ask the LLM for a helper plus rewritten cluster modules, and parse what it answers."""

from __future__ import annotations

import builtins

from agentlib.code import ExtractionError, extract, reply_functions
from agentlib.llm import LLM, Message
from agentlib.model import Module
from agentlib.refactor.records import Cluster, Proposal

SYSTEM = ("You refactor Python code. You answer with one ```python code block and nothing "
          "else.")

USER = """These functions repeat the same code:

```python
{sources}
```

The repeated part:

```python
{fragment}
```

Write ONE new helper function that does the repeated part and returns what the functions \
need from it. Then rewrite each of the functions {names} so that it calls the helper instead \
of repeating that code. Keep every function's name, parameters and results exactly the same. \
Give the helper a short descriptive name that is not one of {names}. Put the helper first, \
then the rewritten functions, all in one python code block."""


class ProposalError(ValueError):
    """The reply holds no usable helper or rewrite; the message says why."""


def proposal_messages(cluster: Cluster, modules: list[Module]) -> list[Message]:
    """Return the conversation that asks for a helper for `cluster`."""
    sources = "\n\n".join(m.source.strip() for m in modules)
    names = ", ".join(m.name for m in modules)
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": USER.format(sources=sources, fragment=cluster.fragment,
                                                    names=names)}]


def parse_proposal(text: str, modules: list[Module], library_names: set[str]) -> Proposal:
    """Return the helper and the rewrites that call it from a model reply.

    The helper is the function the reply defines, other than the cluster's, that most of the
    rewritten functions call. Rewrites that do not call it are left out (nothing to gain).
    """
    cluster_names = {m.name for m in modules}
    others = [n for n in reply_functions(text)
              if n not in cluster_names and not hasattr(builtins, n)]
    if not others:
        raise ProposalError("the reply defines no helper function besides the rewritten ones")
    known = set(library_names) - cluster_names
    rewrites_by_helper: dict[str, dict[str, str]] = {}
    for helper in others:
        rewrites: dict[str, str] = {}
        for module in modules:
            try:
                candidate = extract(text, module.name, known | {helper})
            except ExtractionError:
                continue
            if candidate.renamed_from is None and helper in candidate.dependencies:
                rewrites[module.name] = candidate.source
        rewrites_by_helper[helper] = rewrites
    helper = max(others, key=lambda h: (len(rewrites_by_helper[h]), -others.index(h)))
    if not rewrites_by_helper[helper]:
        raise ProposalError(f"no rewritten function calls the helper {helper}")
    try:
        helper_source = extract(text, helper, known | cluster_names).source
    except ExtractionError as exc:
        raise ProposalError(f"the helper {helper} cannot be extracted: {exc}") from exc
    return Proposal(helper_name=helper, helper_source=helper_source,
                    rewrites=rewrites_by_helper[helper], reply=text)


def propose(llm: LLM, cluster: Cluster, modules: list[Module],
            library_names: set[str]) -> Proposal:
    """Ask `llm` for a helper for `cluster` and parse the answer (ProposalError if unusable)."""
    completion = llm.complete(proposal_messages(cluster, modules), max_tokens=1024,
                              temperature=0.0)
    return parse_proposal(completion.text, modules, library_names)
