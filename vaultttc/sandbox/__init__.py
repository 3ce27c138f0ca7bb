"""Where untrusted code runs: `parent` starts and limits the child, `jail` is the child.

`jail.py` is run by path with the standard library only; nothing else of vaultttc is
imported inside the sandbox.
"""
