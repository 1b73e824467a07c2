"""The error tree: domain code raises these, only the CLI turns them into messages."""


class AgentlibError(Exception):
    """Base of every error agentlib raises on purpose."""


class SandboxError(AgentlibError):
    """The sandbox itself could not run (not: the candidate failed)."""


class StoreError(AgentlibError):
    """The library store is unusable or a write was refused."""


class LLMError(AgentlibError):
    """A language-model backend failed or is misconfigured."""


class ModelFetchError(LLMError):
    """A model file could not be assembled or failed its hash check."""


class PluginError(AgentlibError):
    """A plugin failed to load or misbehaved."""


class TaskFormatError(AgentlibError):
    """A task or task file is malformed; the message says where."""


class UsageError(AgentlibError):
    """A name or value the user gave is not one agentlib can use (an unknown backend, a
    library location of an unknown kind, an output that exists); the CLI exits 2."""
