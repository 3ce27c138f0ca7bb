"""A question in, an outcome out: no files, no environment, no clock.

`tasks` (what is asked and returned), `runner` (a note's questions through a strategy),
`sampling` (budgets, cache and concurrency around a provider), `confidence`, `extract` and
`code` (answers and programs out of replies) and `report` (what a run did, as values).
"""
