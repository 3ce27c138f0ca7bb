"""`effort`: one sample at a reasoning effort (`low`/`medium`/`high`…) the provider offers.

The effort must be one of `Capabilities.efforts`; anything else is a `ConfigError` that says
what the provider does offer, before any sample is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaultttc.engine.sampling import Sampler
from vaultttc.engine.tasks import Outcome, Settings, Task, Verifier
from vaultttc.errors import ConfigError
from vaultttc.strategies.shared.prompts import answer_request
from vaultttc.strategies.shared.single import answer_once

__all__ = ["Effort"]


@dataclass(frozen=True, slots=True)
class Effort:
    name: str = "effort"

    async def run(
        self, task: Task, settings: Settings, *, sampler: Sampler, verifier: Verifier | None
    ) -> Outcome:
        caps = sampler.capabilities
        provider = sampler.lane.provider.name
        if not caps.efforts:
            raise ConfigError(
                f"strategy effort: provider {provider} has no reasoning effort; "
                "use strategy:: thinking or direct"
            )
        if settings.effort is None or settings.effort not in caps.efforts:
            offered = ", ".join(caps.efforts)
            raise ConfigError(
                f"strategy effort needs effort:: one of {offered} for {provider}"
                + (f", not {settings.effort!r}" if settings.effort else "")
            )
        request = answer_request(task, caps, max_tokens=settings.max_tokens, effort=settings.effort)
        return await answer_once(
            task,
            request,
            sampler,
            verifier=verifier,
            strategy=self.name,
            notes=[f"reasoning effort {settings.effort}"],
        )
