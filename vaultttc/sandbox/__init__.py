"""Where untrusted code runs: the parent side starts and limits the jail, the jail is the child.

Parent side (imports vaultttc): `detect` (what isolation this machine gives, and the
unsandboxed gate), `parent` (starts the jail, limits and reads it), `sync` (blocking forms),
`cgroup` (a memory-bounded group per run, where usable), `marked` (nonce-line batches for
note-owned checks). Child side (stdlib only, loaded by path inside the jail): `jail` (the
program), `runs` (one run, and the batch without namespaces), `slots` (the batch in cells
that each make one run after another), `view` (namespaces, filesystem view, privileges),
`judge` (a task's tests, run beside the candidate), `wire` and `values` (the plain values that
cross between the two).
"""
