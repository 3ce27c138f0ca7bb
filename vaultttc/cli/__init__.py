"""The `vaultttc` command: `main` (the group, which imports a subcommand's module only when it
runs), one module per command (`scan`, `run`, `clean`, `living` for `test`, `providers`,
`newnote` for `new`, `batch`, `calibration`, `doctor`, `spend`), and `console` (rich output).
"""
