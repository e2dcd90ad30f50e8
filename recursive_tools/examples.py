"""Example puzzles embedded in the package: `recursive-tools solve --example NAME`, MCP resources, tests.

Sources: the 4x4, 6x6, 16x16, hard 9x9 (magictour top1465 #1) and 30x30 maze are the first rows of the matching files
in the project's shared puzzle data (see tests/data/README.md); sudoku-easy is the first grid of Project Euler
problem 96; maze-small was drawn by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    kind: str
    text: str
    description: str


EXAMPLES: dict[str, Example] = {
    "sudoku-easy": Example("sudoku", (
        "..3.2.6..\n9..3.5..1\n..18.64..\n..81.29..\n7.......8\n..67.82..\n..26.95..\n8..2.3..9\n..5.1.3..\n"
    ), "9x9 Sudoku with 32 givens, solvable by singles alone"),
    "sudoku-hard": Example("sudoku", "4...3.......6..8..........1....5..9..8....6...7.2........1.27..5.3....4.9........",
                           "9x9 Sudoku with 17 givens from the magictour top1465 list; needs search"),
    "sudoku-4x4": Example("sudoku", ".1.2...42.......", "4x4 Sudoku (2x2 boxes)"),
    "sudoku-6x6": Example("sudoku", """3.2...
....4.
1.....
.3...5
...6.3
.5.2..
""", "6x6 Sudoku (boxes of 2 rows x 3 columns)"),
    "sudoku-16x16": Example("sudoku", """.....4.12GF.....
...3..C...7...GF
..96..AG1D......
.......B...A....
..3.8..6B..G...E
9...1.3A.C..DG..
E.6B.C..D1.....5
.F.......8....3.
....97..C.B..F..
.875.1.3E..D....
B.EA...D...28.6.
..F..B8.9.6..3..
..217.54.B...E..
.6.........CBA8.
G....ED.84...6..
...CB...7.53.21G
""", "16x16 Sudoku written with symbols 1-9 and A-G"),
    "maze-small": Example("maze", (
        "#########\n"
        "#S..#...#\n"
        "#.#.#.#.#\n"
        "#.#...#.#\n"
        "#.#####.#\n"
        "#...#...#\n"
        "###.#.#.#\n"
        "#.....#G#\n"
        "#########\n"
    ), "9x9 maze drawn with '#' walls and '.' open cells"),
    "maze-30": Example("maze", (
    "  ##  #   ## # ###      #     \n"
    "## # ##  # #  # #    ##       \n"
    "     # # #     # ## ##   #   #\n"
    "#   #   #   #    # # #   ##   \n"
    " #  #  #   #         # # ##   \n"
    "        # #   #             ##\n"
    " # #    #### ##  #    #  #  # \n"
    " #  #   #   # #  #  ## # #    \n"
    "### #  ## ###  #    ##    # # \n"
    "# ## # ## ##     # ##  # # ## \n"
    "#####   ### ### #   # ##   ## \n"
    "#   ##   #       # #   ## #   \n"
    "        #  #    ## ##  ##  ## \n"
    "##### #  #  #      #   ###### \n"
    "#  ##  #    ## ## #  ##   ## #\n"
    "    #      ##  ## # ## #    ##\n"
    "#      ##   #    ##  ###   # #\n"
    "# #  ## #  #   ##     # ##  # \n"
    " # # G    ##   # # #      S  #\n"
    "      # #  ### # # #          \n"
    " ##   #  #   #     #          \n"
    "     ##   ##  #  ## #  # ##  #\n"
    "#    # #   # # #      #  ## ##\n"
    " #          ####   ## #   #   \n"
    "# #  #### ##  #### # ###   #  \n"
    "    #######     ##### ##     #\n"
    " #            #  # #   ## ##  \n"
    "  # ###  ###  #  #   #     ## \n"
    "  ###    #   #     ###  ##    \n"
    "## # # ##  #   #  # ##   # # #\n"
    ), "30x30 maze in the reference character set (space = open), shortest path 41 moves"),
}


def get_example(name: str) -> Example:
    try:
        return EXAMPLES[name]
    except KeyError:
        raise KeyError(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}") from None
