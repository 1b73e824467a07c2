"""Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp server, hosted APIs)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from agentlib.errors import LLMError
from agentlib.llm import Completion, Message


class OpenAILLM:
    """POST /chat/completions to `base_url`; the key comes from an environment variable."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout_s: float = 120.0, retries: int = 2, max_tokens: int = 768) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{model}"
        self.api_key = os.environ.get(api_key_env, "")
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_tokens = max_tokens

    def complete(self, messages: list[Message], **options: Any) -> Completion:
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": options.get("max_tokens", self.max_tokens),
            "temperature": options.get("temperature", 0.0),
        }
        if options.get("stop"):
            body["stop"] = options["stop"]
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        start = time.monotonic()
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, json.dumps(body).encode(), headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    data = json.loads(response.read())
                break
            except urllib.error.HTTPError as exc:
                last = exc
                if exc.code < 500:
                    raise LLMError(f"{url} answered {exc.code}: {exc.read()[:300]!r}") from exc
            except urllib.error.URLError as exc:
                raise LLMError(f"cannot reach {url}: {exc.reason}. Is the server running?") from exc
            except TimeoutError as exc:
                last = exc
            time.sleep(min(2.0 ** attempt, 8.0))
        else:
            raise LLMError(f"{url} failed after {self.retries + 1} tries: {last}")
        try:
            text = data["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{url} returned an unexpected body: {str(data)[:300]}") from exc
        usage = data.get("usage") or {}
        return Completion(text=text, prompt_tokens=int(usage.get("prompt_tokens", 0)),
                          completion_tokens=int(usage.get("completion_tokens", 0)),
                          latency_s=time.monotonic() - start)
