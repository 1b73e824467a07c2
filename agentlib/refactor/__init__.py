"""Library-wide refactoring: shared helpers, behavioural dedup, pruning (see the [refactor] issue).

Nothing is implemented here yet; the package exists so the layout matches DESIGN.md.
"""
