"""The built-in backends, registered through the same hooks third-party plugins use."""

from __future__ import annotations

from agentlib.plugins.hookspecs import hookimpl


def _local(settings):
    from agentlib.llm.local import LocalLLM
    from agentlib.llm.provision import resolve_model

    return LocalLLM(resolve_model(settings.model))


def _openai(settings):
    from agentlib.errors import LLMError
    from agentlib.llm.openai import OpenAILLM

    if not settings.base_url:
        raise LLMError("the openai backend needs --base-url (or AGENTLIB_BASE_URL)")
    return OpenAILLM(settings.base_url, settings.model, timeout_s=settings.server_timeout_s,
                     retries=settings.server_retries, backoff_s=settings.server_backoff_s)


def _replay(settings):
    from agentlib.errors import LLMError
    from agentlib.llm.replay import ReplayLLM

    if not settings.recordings:
        raise LLMError("the replay backend needs a recording file (AGENTLIB_RECORDINGS)")
    return ReplayLLM(settings.recordings)


@hookimpl
def register_llms(register):
    register("local", _local)
    register("openai", _openai)
    register("replay", _replay)


def _minilm():
    from agentlib.library.embed import MiniLMEmbedder

    return MiniLMEmbedder()


def _minilm_st():
    from agentlib.library.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@hookimpl
def register_embedders(register):
    register("minilm", _minilm)
    register("minilm-st", _minilm_st)
