"""The daemon: `command` (lock, logs, signals), `daemon` (the loop), `schedule` (the pure
debounce core), `events` (watchdog in, rescans), `note` (one note's turn) and `lock`.
"""
