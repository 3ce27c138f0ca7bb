"""A note in and out, pure: text <-> values.

`model` (the values), `blocks` and `parse` (text -> Note, exact line spans), `compose`
(outcomes -> a WriteBack), `edits` (a WriteBack -> line edits -> new text) and `render`
(the jinja2 templates). Nothing here touches a file, the clock or the environment.
"""
