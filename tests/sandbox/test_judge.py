"""The judge runs a task's tests beside the candidate: what tests can do with its code.

Through the real python verifier and sandbox: classes, generators, callbacks, in-place
changes, stdlib value types, exceptions and docstring examples judged from the judge's own
process, and what it refuses (comparing the candidate's objects, handing it the tests'
objects).
"""

from __future__ import annotations

import asyncio

import pytest

from vaultttc.engine.tasks import Task, Verdict
from vaultttc.verifiers.python import PythonVerifier

CASES = {
    "a class and its methods": (
        "class Stack:\n    def push(self, x): ...\n    def pop(self): ...\n",
        "s = Stack()\ns.push(1)\ns.push(2)\nassert s.pop() == 2\nassert len(s) == 1\nassert s\n",
        "class Stack:\n    def __init__(self): self.items = []\n"
        "    def push(self, x): self.items.append(x)\n    def pop(self): return self.items.pop()\n"
        "    def __len__(self): return len(self.items)\n",
    ),
    "a generator": (
        "def evens(n):\n    ...\n",
        "assert list(evens(5)) == [0, 2, 4]\nassert sum(evens(7)) == 12\nassert 4 in evens(9)\n",
        "def evens(n):\n    yield from range(0, n, 2)\n",
    ),
    "a callback from the tests": (
        "def apply_twice(f, x):\n    ...\n",
        "assert apply_twice(lambda v: v * 3, 2) == 18\nassert apply_twice(str.upper, 'a') == 'A'\n",
        "def apply_twice(f, x):\n    return f(f(x))\n",
    ),
    "a list changed in place": (
        "def rotate(nums, k):\n    ...\n",
        "xs = [1, 2, 3, 4]\nrotate(xs, 1)\nassert xs == [4, 1, 2, 3]\n",
        "def rotate(nums, k):\n    nums[:] = nums[-k:] + nums[:-k]\n",
    ),
    "stdlib values": (
        "from fractions import Fraction\nfrom collections import namedtuple\n"
        "P = namedtuple('P', 'x y')\ndef f():\n    ...\n",
        "assert f() == (Fraction(1, 3), P(1, 2), {1: {2}}, b'x', 3+4j, float('inf'))\n"
        "assert f()[1].x == 1\n",
        "from fractions import Fraction\nfrom collections import namedtuple\n"
        "P = namedtuple('P', 'x y')\ndef f():\n"
        "    return (Fraction(1, 3), P(1, 2), {1: {2}}, b'x', 3+4j, float('inf'))\n",
    ),
    "an exception the tests expect": (
        "def f(x):\n    ...\n",
        "try:\n    f(-1)\n    raise AssertionError('no error')\nexcept ValueError:\n    pass\n",
        "def f(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x\n",
    ),
    "docstring examples, values and output": (
        'def shout(s):\n    """Up.\n\n    >>> shout("a")\n    \'A\'\n    >>> print(shout("b"))\n'
        '    B\n    >>> tell("c")\n    C!\n    """\n',
        None,
        "def shout(s):\n    return s.upper()\n\ndef tell(s):\n    print(shout(s) + '!')\n",
    ),
    "a module the tests use without importing it": (
        "import math\ndef root(x):\n    ...\n",
        "assert math.isclose(root(2) ** 2, 2)\nassert isinstance(root(4), float)\n",
        "import math\nmath.isclose = lambda *a, **k: True\ndef root(x):\n    return x ** 0.5\n",
    ),
}


def verdicts(stub: str, tests: str | None, programs: list[str]) -> list[Verdict]:
    entry = next(line.split()[1].split("(")[0].rstrip(":") for line in stub.splitlines()
                 if line.startswith(("def ", "class ")))  # fmt: skip
    task = Task(id="t", question="q", kind="code", stub=stub, tests=tests, entry_point=entry)
    fences = [f"```python\n{p}```" for p in programs]
    return asyncio.run(PythonVerifier(allow_exec=True).verify_many(fences, task))


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_what_tests_do_with_the_candidate_is_judged_right(case: str) -> None:
    stub, tests, good = CASES[case]
    [verdict] = verdicts(stub, tests, [good])
    assert verdict.passed is True, verdict.detail


def test_the_candidate_cannot_lend_the_tests_its_modules() -> None:
    stub, tests, _ = CASES["a module the tests use without importing it"]
    [verdict] = verdicts(stub, tests, ["import math\nmath.isclose = lambda *a, **k: True\n"
                                       "def root(x):\n    return 1.0\n"])  # fmt: skip
    assert verdict.passed is False


def test_the_candidates_objects_are_not_compared_by_the_candidate() -> None:
    stub = "class P:\n    pass\ndef make():\n    ...\n"
    program = "class P:\n    def __eq__(self, other): return True\ndef make():\n    return P()\n"
    [verdict] = verdicts(stub, "assert make() == P()\nassert make() == 3\n", [program])
    assert verdict.passed is False
    assert "not a plain value" in verdict.detail


def test_the_tests_own_objects_do_not_cross() -> None:
    stub = "def size(box):\n    ...\n"
    tests = "class Box:\n    n = 3\nassert size(Box()) == 3\n"
    [verdict] = verdicts(stub, tests, ["def size(box):\n    return box.n\n"])
    assert verdict.passed is False
    assert "cannot be handed to the candidate" in verdict.detail
