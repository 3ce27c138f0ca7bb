"""What the registered strategies share: candidates, prompts, voting, search, behaviour.

Not strategies themselves; the registered ones are the modules one folder up.
"""
