"""Bounds on everything a caller controls. One place, so the tool schemas, parsers and servers agree."""

MAX_REQUEST_BYTES = 64_000  # puzzle text or JSON, as sent by the caller
MAX_SUDOKU_SIZE = 25
MAX_MAZE_SIDE = 64
MAX_TRAJECTORIES = 64
DEFAULT_TRAJECTORIES = 8
MIN_TIME_LIMIT_S = 0.1
MAX_TIME_LIMIT_S = 60.0
DEFAULT_TIME_LIMIT_S = 10.0
MAX_SEARCH_NODES = 2_000_000
MAX_EXPLANATION_STEPS = 60
