"""The `vaultttc` command: `main` (click commands that parse options and call one library
function), `console` (rich output) and `newnote` (`vaultttc new`).
"""
