"""The vault's own calibration: monotone maps fitted on its labelled outcomes, shrunk toward the
shipped priors, one per provider/model, task kind and evidence kind.

A *labelled outcome* is an answer's raw evidence (`tasks.Signal`) on a question that a
verifier then judged: its reference answer, tests or check accepted the answer or not. For an
unchecked answer the same evidence goes through the map fitted on the vault's own labelled
outcomes of that model and kind, once there are `MIN_OUTCOMES` of them; before that, through
the shipped prior (`prior_map`).

The fit is isotonic regression (pool-adjacent-violators) of the labels on the raw evidence,
in blocks of at least `MIN_BLOCK` outcomes, with each block's accuracy shrunk toward the prior
at that point as if the prior had been observed `PRIOR_WEIGHT` times there, then made
monotone again. With a few outcomes the map
stays near the prior; with many it is their isotonic fit. Why these numbers:

* `MIN_OUTCOMES` = 30. Below it, the vault's own estimate of an accuracy has a standard error
  above 0.09 (sqrt(0.25 / 30)) and its monotone fit is mostly noise, while a transferred prior
  is typically off by 0.1 to 0.3 on a model it was not fitted on; from 30 the vault's estimate
  is the better bet, and 30 outcomes leave 6 per fold for the held-out measure `vaultttc
  calibration` prints.
* `MIN_BLOCK` = 10 outcomes per block of the isotonic fit: an accuracy measured on fewer has a
  standard error above 0.15, and isotonic regression left alone makes a step of every run of
  lucky or unlucky outcomes (on 71 CodeT outcomes, steps of four answers at 0.0 and 1.0).
* `PRIOR_WEIGHT` = 5 pseudo-outcomes per block: a block of ten outcomes moves two thirds of the
  way from the prior to what they show, a block of forty nine tenths.

`fit_map` chooses between that stepped map and a flat one (the kind's shrunk accuracy) by
squared error on `FOLDS` held-out folds of the vault's own outcomes: steps the other folds do
not confirm are noise (evidence that does not rank its answers), and the flat map is kept.

Kinds without a map of their own fall back (`FALLBACK`): a weighted vote to the model's plain
vote map, a trace-confidence sample to its single-sample map (a flat map: the model's
single-sample accuracy), then to the prior. Code checked only by its stub's examples is
`examples` evidence whose raw value is already the shipped maps' confidence, so its prior is
the identity: until the vault has 30 such outcomes, the confidence stays what those maps say.
Pure; the outcomes are read and written by `vault.calibration_store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from vaultttc.engine.confidence import IDENTITY, VOTE_MAP, Knots, calibrate
from vaultttc.engine.tasks import Signal

__all__ = [
    "FALLBACK",
    "FOLDS",
    "MIN_BLOCK",
    "MIN_OUTCOMES",
    "PRIOR_WEIGHT",
    "SINGLE_PRIOR",
    "Book",
    "Fitting",
    "Labelled",
    "MapKey",
    "fit_map",
    "fit_shrunk",
    "folds",
    "group_outcomes",
    "prior_confidence",
    "prior_map",
    "stale_fit",
]

MIN_OUTCOMES = 30
PRIOR_WEIGHT = 5.0
MIN_BLOCK = 10
FOLDS = 5

Pair = tuple[float, bool]
FALLBACK = {"weighted-vote": "vote", "trace": "single"}

# The shipped priors, fitted like VOTE_MAP (`python bench/calibration.py --fit`: labelled
# outcomes of the even-numbered problems of the three pools, blocks of at least 20). A single
# unchecked sample is right as often as the pools' models' single samples were: 74% of date
# answers, 23% of CodeGen's programs that run.
SINGLE_PRIOR = {"question": 0.7425, "code": 0.2317}
# Code votes (by behaviour on probe inputs): settled agreement among programs is weaker
# evidence than among answers at the low end. Best-of-n's pick among programs nothing could
# check ranks right answers little better than chance on CodeT: a flat, low prior.
CODE_VOTE_MAP: Knots = ((0.0, 0.119), (0.1286, 0.2692), (0.9295, 0.8438))
CODE_SELECTION_MAP: Knots = ((0.3253, 0.0952), (0.8701, 0.3824))

MapKey = tuple[str, str, str, str]  # provider, model, task, kind


def prior_map(kind: str, task: str) -> Knots:
    """The shipped map for evidence of `kind` on a `task` ("question" or "code")."""
    if kind in ("single", "trace"):
        value = SINGLE_PRIOR.get(task, 0.5)
        return ((0.0, value), (1.0, value))
    if kind == "examples":  # its raw value is already the shipped maps' confidence
        return IDENTITY
    if task == "code":
        return CODE_SELECTION_MAP if kind == "selection" else CODE_VOTE_MAP
    return VOTE_MAP


def prior_confidence(signal: Signal) -> float:
    """The confidence an unchecked answer gets from the shipped prior alone."""
    return calibrate(signal.raw, prior_map(signal.kind, signal.task))


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled outcome as the vault keeps it. `key` identifies the question and strategy
    that produced it, so re-asking a question replaces its outcome instead of adding one."""

    provider: str
    model: str
    task: str
    kind: str
    raw: float
    label: bool
    key: str = ""

    @property
    def map_key(self) -> MapKey:
        return (self.provider, self.model, self.task, self.kind)


def _merge(blocks: list[list[float]]) -> None:
    last = blocks.pop()
    blocks[-1] = [a + b for a, b in zip(blocks[-1], last, strict=True)]


def _pav(
    points: Iterable[tuple[float, float, float, float]], *, block: int = 1
) -> list[list[float]]:
    """Pool adjacent violators over (raw sum, value sum, weight, count) blocks in raw order;
    a block of fewer than `block` outcomes is pooled with its neighbour too."""
    blocks: list[list[float]] = []
    for point in points:
        blocks.append(list(point))
        while len(blocks) > 1 and (
            blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2] or blocks[-2][3] < block
        ):
            _merge(blocks)
    if len(blocks) > 1 and blocks[-1][3] < block:
        _merge(blocks)
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            _merge(blocks)
    return blocks


def fit_shrunk(
    pairs: Sequence[tuple[float, bool]],
    prior: Knots,
    *,
    weight: float = PRIOR_WEIGHT,
    block: int = MIN_BLOCK,
) -> Knots:
    """The monotone map fitted on (raw, correct) pairs, shrunk toward `prior` (module docs).
    `weight=0` is plain isotonic regression with blocks of at least `block` outcomes."""
    if not pairs:
        return prior
    totals: dict[float, list[float]] = {}
    for raw, correct in pairs:
        entry = totals.setdefault(raw, [0.0, 0.0])
        entry[0] += 1.0 if correct else 0.0
        entry[1] += 1.0
    data = _pav(((raw * n, hits, n, n) for raw, (hits, n) in sorted(totals.items())), block=block)
    shrunk = []
    for raw_sum, hits, n, count in data:
        at = calibrate(raw_sum / count, prior)
        shrunk.append((raw_sum, hits + weight * at, n + weight, count))
    return tuple(
        (round(raw_sum / count, 6), round(value / w, 6))
        for raw_sum, value, w, count in _pav(shrunk)
    )


def folds(pairs: Sequence[Pair]) -> Iterator[tuple[list[Pair], list[Pair]]]:
    """(train, test) for each of `FOLDS` folds (fold = index mod FOLDS)."""
    for fold in range(min(FOLDS, len(pairs))):
        yield (
            [p for i, p in enumerate(pairs) if i % FOLDS != fold],
            [p for i, p in enumerate(pairs) if i % FOLDS == fold],
        )


def _squared_error(knots: Knots, pairs: Sequence[Pair]) -> float:
    return sum((calibrate(raw, knots) - (1.0 if y else 0.0)) ** 2 for raw, y in pairs)


def fit_map(pairs: Sequence[Pair], prior: Knots) -> Knots:
    """The vault's map for one kind: the shrunk isotonic fit, or the flat one (the kind's
    shrunk accuracy, one block) when that predicts held-out outcomes at least as well.

    Isotonic regression makes a step of every lucky run even when the evidence does not rank
    its answers (a model whose votes are unanimous whether right or wrong); a step the other
    folds do not confirm is noise, and the flat map is then the better-calibrated one."""
    if len(pairs) < 2 * MIN_BLOCK:
        return fit_shrunk(pairs, prior)
    stepped = flat = 0.0
    for train, test in folds(pairs):
        stepped += _squared_error(fit_shrunk(train, prior), test)
        flat += _squared_error(fit_shrunk(train, prior, block=len(train)), test)
    return fit_shrunk(pairs, prior, block=len(pairs) if flat <= stepped else MIN_BLOCK)


def group_outcomes(outcomes: Iterable[Labelled]) -> dict[MapKey, list[tuple[float, bool]]]:
    """(raw, label) pairs per map key; a later outcome of the same `key` replaces an earlier."""
    latest: dict[tuple[MapKey, str], Labelled] = {}
    for i, o in enumerate(outcomes):
        latest[(o.map_key, o.key or f"#{i}")] = o
    groups: dict[MapKey, list[tuple[float, bool]]] = {}
    for o in latest.values():
        groups.setdefault(o.map_key, []).append((o.raw, o.label))
    return groups


@dataclass(frozen=True, slots=True)
class Book:
    """The vault's fitted maps, with how many outcomes each was fitted on."""

    maps: Mapping[MapKey, Knots]
    counts: Mapping[MapKey, int]

    @classmethod
    def fit(cls, outcomes: Iterable[Labelled]) -> Book:
        groups = group_outcomes(outcomes)
        maps = {k: fit_map(pairs, prior_map(k[3], k[2])) for k, pairs in groups.items()}
        return cls(maps, {k: len(pairs) for k, pairs in groups.items()})

    def refitted(self, groups: Mapping[MapKey, list[tuple[float, bool]]]) -> Book:
        """This book with the maps of `groups` fitted anew on their pairs."""
        fresh = {k: fit_map(pairs, prior_map(k[3], k[2])) for k, pairs in groups.items()}
        counts = {k: len(pairs) for k, pairs in groups.items()}
        return Book({**self.maps, **fresh}, {**self.counts, **counts})

    def map_for(self, provider: str, model: str, signal: Signal) -> tuple[Knots, str]:
        """The map an unchecked answer's evidence goes through, and where it came from."""
        kind: str | None = signal.kind
        while kind is not None:
            key = (provider, model, signal.task, kind)
            if self.counts.get(key, 0) >= MIN_OUTCOMES:
                return self.maps[key], f"vault ({kind}, {self.counts[key]} outcomes)"
            kind = FALLBACK.get(kind)
        return prior_map(signal.kind, signal.task), "prior"

    def confidence(self, provider: str, model: str, signal: Signal) -> float:
        knots, _ = self.map_for(provider, model, signal)
        return calibrate(signal.raw, knots)


def stale_fit(fitted: int, added: int) -> bool:
    """Whether a map fitted on `fitted` outcomes is fitted again now that `added` more came in:
    at once while it has fewer than `MIN_OUTCOMES` (its count decides whether it is used), else
    once they are a tenth of it. A map in use is never more than a tenth behind its data, and
    the fits of a run that records an outcome per note cost O(n log n), not O(n²)."""
    return added > 0 and (fitted < MIN_OUTCOMES or added * 10 >= fitted)


@dataclass
class Fitting:
    """The book of maps as labelled outcomes come in: each map refitted when `stale_fit` says,
    on the pairs of its key (a later outcome of the same `key` replacing an earlier, as in
    `group_outcomes`)."""

    book: Book = field(default_factory=lambda: Book({}, {}))
    _latest: dict[tuple[MapKey, str], tuple[float, bool]] = field(default_factory=dict)
    _added: dict[MapKey, int] = field(default_factory=dict)
    _seen: int = 0

    def add(self, outcomes: Iterable[Labelled]) -> None:
        for o in outcomes:
            self._latest[(o.map_key, o.key or f"#{self._seen}")] = (o.raw, o.label)
            self._added[o.map_key] = self._added.get(o.map_key, 0) + 1
            self._seen += 1
        due = {k for k, n in self._added.items() if stale_fit(self.book.counts.get(k, 0), n)}
        if not due:
            return
        groups: dict[MapKey, list[tuple[float, bool]]] = {k: [] for k in due}
        for (k, _), pair in self._latest.items():
            if k in groups:
                groups[k].append(pair)
        self.book = self.book.refitted(groups)
        for k in due:
            del self._added[k]
