"""The library: verified modules in Chroma, found by embedding, served with their dependencies.

Open one through the process's runtime (`agentlib.runtime.Runtime(settings).library`), which
builds the configured embedder; `agentlib.library.store.Library(location, embedder)` opens
one with an embedder you already have.
"""
