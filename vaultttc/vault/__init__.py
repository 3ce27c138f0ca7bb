"""A vault's files: `files` (read, compare-and-swap save, the one rule for which files are
notes), `cache` (completions), `scan` (the read-only index) and `session` (`vaultttc run` as a
library call). The only place notes are written.
"""
