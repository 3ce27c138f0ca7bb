"""Living documentation: a note's examples run as tests.

`examples` plans and judges a note's examples, `child` runs them inside the sandbox, `record`
writes the outcome back, `pytest_plugin` (the only module importing pytest) makes them items.
"""
