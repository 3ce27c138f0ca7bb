"""Probe calls from a stub's signature: each parameter is probed with values of the kind it holds
(its annotation, else what its name says), so that programs written for a list are told apart
by what they return on lists, not all lumped together by the TypeError numbers give them."""

from __future__ import annotations

import ast
import asyncio

import pytest

from vaultttc.engine.probes import probe_calls
from vaultttc.engine.tasks import Task
from vaultttc.strategies.shared.behaviour import vote_keys
from vaultttc.strategies.shared.common import Candidate


def _task(signature: str) -> Task:
    entry = signature.split("(")[0]
    stub = f'def {signature}:\n    """Do it."""\n'
    return Task(id="t", question="", kind="code", stub=stub, entry_point=entry)


def _arguments(signature: str) -> list[list[object]]:
    """The literal arguments of each probe call (they are Python source, as the judge runs it)."""
    calls = [ast.parse(c, mode="eval").body for c in probe_calls(_task(signature))]
    return [[ast.literal_eval(a) for a in c.args] for c in calls if isinstance(c, ast.Call)]


@pytest.mark.parametrize(
    ("signature", "kind"),
    [
        ("max_element(l: list)", list),  # a bare `list` annotation
        ("max_element(l)", list),  # no annotation: the name says a list
        ("sort_array(arr)", list),
        ("remove_vowels(text)", str),
        ("is_palindrome(string)", str),
        ("fib(n)", int),  # nothing says otherwise: numbers, as before
        ("fib(n: int)", int),
        ("pair(t: Tuple[int, int])", tuple),
        ("count(d: dict)", dict),
        ("count(d: Dict[str, int])", dict),
        ("longest(words)", list),
        ("area(a, b, c)", int),  # short names say nothing: numbers
        ("f(x: str, /)", str),  # positional-only
    ],
)
def test_each_parameter_is_probed_with_the_kind_it_holds(signature: str, kind: type) -> None:
    arguments = _arguments(signature)
    assert arguments, "no probe calls"
    assert all(type(args[0]) is kind for args in arguments), arguments


def test_two_parameters_each_get_their_own_kind() -> None:
    arguments = _arguments("add_elements(arr, k)")
    assert arguments and all(type(a) is list and type(k) is int for a, k in arguments)
    assert len({repr(args) for args in arguments}) == len(arguments) > 4


def test_programs_for_an_unannotated_list_vote_by_what_they_return() -> None:
    """Before, `max_element(l)` was probed with numbers only: every program raised on every
    call, so none voted and agreement could not pick the right one."""
    task = _task("max_element(l)")
    programs = [
        "def max_element(l):\n    return max(l)\n",
        "def max_element(l):\n    return max(x for x in l)\n",  # the same behaviour
        "def max_element(l):\n    return min(l)\n",  # a different one
    ]
    candidates = [Candidate(i, p, None, p, p) for i, p in enumerate(programs)]
    keys = asyncio.run(vote_keys(candidates, task, execute=True, timeout_s=5.0))
    assert None not in keys
    assert keys[0] == keys[1] != keys[2]


def test_a_parameter_with_a_default_keeps_it_and_a_keyword_only_one_is_passed_by_name() -> None:
    calls = [ast.parse(c, mode="eval").body for c in probe_calls(_task("f(s, sep=' ', *, n)"))]
    assert calls and all(isinstance(c, ast.Call) for c in calls)
    for call in calls:
        assert isinstance(call, ast.Call)
        assert len(call.args) == 1 and type(ast.literal_eval(call.args[0])) is str
        assert [k.arg for k in call.keywords] == ["n"]
        assert type(ast.literal_eval(call.keywords[0].value)) is int
