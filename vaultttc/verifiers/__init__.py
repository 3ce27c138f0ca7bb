"""Verifiers: judge one candidate against a task's reference, tests, check or a grader model.

`choose` picks one for a task; `reference` (numeric, exact, regex), `python` (code in the
sandbox, through `harness`), `check` (the question's own `python check` fence in the sandbox,
through `check_harness`, its calls coalesced into batches by `batching`) and `judge` (an LLM
grades: weak evidence) judge; `strength` says what a pass proves. Verifiers never evaluate
candidate text in-process.
"""
