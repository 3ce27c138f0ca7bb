"""Verifiers: judge one candidate against a task's reference, tests or a grader model.

`choose` picks one for a task; `reference` (numeric, exact, regex), `python` (code in the
sandbox, through `harness`) and `judge` (an LLM grades: weak evidence) judge; `strength` says
what a pass proves. Verifiers never evaluate candidate text in-process.
"""
