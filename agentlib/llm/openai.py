"""Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, hosted APIs).

One ``POST {base_url}/chat/completions`` per completion, with the standard library only.
Server errors (5xx), rate limits (429), timeouts and dropped connections are retried a
bounded number of times with exponential back-off; other 4xx answers, a refused connection
and an unreadable answer fail at once with an :class:`LLMError` that says what to check.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from agentlib.errors import LLMError
from agentlib.llm import Completion, Message

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 8.0


class ModelServerUnavailable(LLMError):
    """The model server did not answer usefully, even after the configured retries."""


class OpenAILLM:
    """POST /chat/completions to `base_url` (e.g. http://127.0.0.1:8080/v1).

    The API key, if any, is read from the environment variable `api_key_env`. Each try
    waits at most `timeout_s`; `retries` more tries follow a retryable failure, after
    `backoff_s`, doubled each time (the built-in backend takes them from the settings
    server_timeout_s, server_retries and server_backoff_s).
    """

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 120.0, retries: int = 2, backoff_s: float = 1.0,
                 max_tokens: int = 768) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(f"base URL {base_url!r} must start with http:// or https://, "
                           "e.g. http://127.0.0.1:8080/v1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = os.environ.get(api_key_env, "")
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": options.get("max_tokens", self.max_tokens),
            "temperature": options.get("temperature", 0.0),
        }
        if options.get("stop"):
            body["stop"] = options["stop"]
        if "seed" in options:
            body["seed"] = options["seed"]
        start = time.monotonic()
        data = self._post(json.dumps(body).encode())
        try:
            text = data["choices"][0]["message"]["content"] or ""
            usage = data.get("usage") or {}
            prompt_tokens = int(usage.get("prompt_tokens", 0))
            completion_tokens = int(usage.get("completion_tokens", 0))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise LLMError(f"{self.url} returned a body that is not a chat completion: "
                           f"{str(data)[:300]}") from exc
        return Completion(text=text, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens,
                          latency_s=time.monotonic() - start)

    def _post(self, payload: bytes) -> Any:
        """Send the request, retrying what may pass on a second try; return the parsed JSON."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        failures: list[str] = []
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))
            request = urllib.request.Request(self.url, payload, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                detail = _body(exc)
                overflow = context_error(detail, self.url)
                if overflow is not None:
                    raise overflow from exc
                detail = detail[:300]
                if exc.code not in RETRYABLE_STATUS:
                    raise LLMError(f"{self.url} answered HTTP {exc.code}: {detail}. "
                                   f"{_hint(exc.code)}") from exc
                failures.append(f"HTTP {exc.code} {detail}")
                continue
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    failures.append(f"no answer within {self.timeout_s:g} s")
                    continue
                if isinstance(exc.reason, ConnectionRefusedError):
                    raise LLMError(f"cannot connect to {self.url}: connection refused. Is the "
                                   "server running, and is --base-url (AGENTLIB_BASE_URL) "
                                   "right?") from exc
                raise LLMError(f"cannot reach {self.url}: {exc.reason}. Check --base-url "
                               "(AGENTLIB_BASE_URL) and that the server is up.") from exc
            except TimeoutError:
                failures.append(f"no answer within {self.timeout_s:g} s")
                continue
            except (ConnectionError, http.client.HTTPException) as exc:
                failures.append(f"connection dropped ({type(exc).__name__})")
                continue
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise LLMError(f"{self.url} answered with something that is not JSON: "
                               f"{raw[:200]!r}") from exc
        raise ModelServerUnavailable(
            f"{self.url} failed {len(failures)} time(s): {'; '.join(failures)}. The server may "
            "be down, overloaded or the timeout too short (settings server_timeout_s, "
            "server_retries, server_backoff_s).")


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read()[:20000].decode(errors="replace").strip() or exc.reason
    except OSError:
        return str(exc.reason)


def context_error(body: str, url: str) -> LLMError | None:
    """The LLMError for a server's refusal of a prompt longer than the model's context.

    Read from the answer's structured fields (llama.cpp: `type` exceed_context_size_error
    with `n_prompt_tokens` and `n_ctx`; OpenAI: `code` context_length_exceeded); None when
    the answer is something else.
    """
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return None
    if not isinstance(error, dict) or not (error.get("type") == "exceed_context_size_error"
                                           or error.get("code") == "context_length_exceeded"):
        return None
    prompt, n_ctx = error.get("n_prompt_tokens"), error.get("n_ctx")
    counts = (f"the prompt is {prompt} tokens but the model's context holds {n_ctx}"
              if prompt and n_ctx else f"the prompt does not fit the model's context "
                                       f"({str(error.get('message', ''))[:200]})")
    return LLMError(f"{url} refused the request: {counts}; shorten the task's text")


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check the API key in OPENAI_API_KEY."
    if status == 404:
        return "Check --base-url: it should end where /chat/completions is served, e.g. …/v1."
    return "The request was refused; check --model and the server's logs."
