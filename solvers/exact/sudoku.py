"""Exact Sudoku solver: constraint propagation (naked and hidden singles, box/line locked candidates; on grids of
12x12 and up also probing of two-candidate cells) and minimum-remaining-values search.

The rules arrive as data: `units` is a tuple of cell-index tuples (rows, columns, boxes, in any order), each holding
`n_symbols` cells that must take the values 1..n_symbols once each. Any box shape works. Candidates are bitmasks
(bit v-1 set means value v is still possible). The search counts solutions up to `limit`, so with limit=2 the result
says unique / ambiguous / impossible, and a Budget (nodes, deadline, cancel) ends it with status "gave_up".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from recursive_tools.solvers.budget import Budget

SearchStatus = Literal["solved", "no_solution", "multiple_solutions", "gave_up"]
Reason = Literal["naked_single", "hidden_single", "forced", "guess"]  # forced: the other candidate fails

_PROGRESS_EVERY = 1024  # search nodes between progress reports
PROBE_FROM_SIZE = 12  # grids this large also probe two-candidate cells: costlier nodes, far fewer of them


@dataclass(frozen=True)
class Deduction:
    """One cell filled on the way to the first solution. `unit` is the unit index for hidden singles; a forced
    value without `via` is one whose other candidate led to a contradiction."""

    cell: int
    value: int
    reason: Reason
    unit: int | None = None
    via: int | None = None  # forced by probing this cell: the value holds whichever candidate it takes


@dataclass(frozen=True)
class Contradiction:
    """Why the puzzle has no solution, when propagation alone proves it (before any guess)."""

    cell: int | None = None  # a cell left with no candidate
    unit: int | None = None  # a unit in which `value` has no place
    value: int | None = None


@dataclass
class SearchResult:
    status: SearchStatus
    solutions: list[list[int]] = field(default_factory=list)  # at most `limit`, each a flat list of values
    nodes: int = 0  # guesses made (search nodes)
    reason: str = ""  # why the search gave up ('nodes', 'time', 'cancelled') or how no solution was proved
    trace: list[Deduction] = field(default_factory=list)  # deductions leading to the first solution (trace=True)
    unique: bool | None = None  # True: exactly one solution, certified; None: not established
    contradiction: Contradiction | None = None  # set when propagation alone proves there is no solution


@dataclass(frozen=True)
class Geometry:
    n_symbols: int
    n_cells: int
    units: tuple[tuple[int, ...], ...]
    peers: tuple[tuple[int, ...], ...]  # per cell: every other cell sharing a unit with it
    # Cell groups whose candidate unions locked-candidate reasoning reads: every overlap of two units in 2+ cells
    # (a box and a line), plus single cells where those do not tile a unit.
    segments: tuple[tuple[int, ...], ...]
    # Per overlap of units A and B: (its segment, segments tiling A minus it, segments tiling B minus it,
    # cells of A minus it, cells of B minus it).
    overlaps: tuple[tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]], ...]


class _OutOfBudget(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


class _Failure(Exception):
    """Propagation hit a contradiction (internal control flow)."""

    def __init__(self, contradiction: Contradiction) -> None:
        self.contradiction = contradiction


@lru_cache(maxsize=32)
def geometry(units: tuple[tuple[int, ...], ...], n_symbols: int) -> Geometry:
    """Validate the units once and derive the peers; cached per distinct geometry."""
    if not 1 <= n_symbols <= 64:
        raise ValueError(f"n_symbols must be 1..64, got {n_symbols}")
    if not units:
        raise ValueError("units must not be empty")
    n_cells = 1 + max(max(unit) for unit in units)
    peer_sets: list[set[int]] = [set() for _ in range(n_cells)]
    for index, unit in enumerate(units):
        if len(unit) != n_symbols or len(set(unit)) != n_symbols or min(unit) < 0:
            raise ValueError(f"unit {index} must hold {n_symbols} distinct non-negative cell indices")
        for cell in unit:
            peer_sets[cell].update(unit)
    for cell, peers in enumerate(peer_sets):
        peers.discard(cell)
    segments, overlaps = _overlaps([set(unit) for unit in units], n_symbols)
    return Geometry(n_symbols, n_cells, tuple(units), tuple(tuple(sorted(p)) for p in peer_sets), segments, overlaps)


def _overlaps(unit_sets: list[set[int]], n_symbols: int):
    """Segments and overlap records for Geometry (see there)."""
    pairs = []
    for i, first in enumerate(unit_sets):
        for second in unit_sets[i + 1:]:
            shared = first & second
            if 2 <= len(shared) < n_symbols:
                pairs.append((frozenset(shared), first, second))
    segments: list[frozenset[int]] = []
    index_of: dict[frozenset[int], int] = {}

    def segment_index(segment: frozenset[int]) -> int:
        if segment not in index_of:
            index_of[segment] = len(segments)
            segments.append(segment)
        return index_of[segment]

    for shared, _, _ in pairs:
        segment_index(shared)
    overlap_segments = list(segments)

    def tiling(rest: set[int]) -> tuple[int, ...]:
        """Disjoint overlap segments inside `rest`, completed with single cells, covering it exactly."""
        covered: set[int] = set()
        chosen = []
        for segment in overlap_segments:
            if segment <= rest and not segment & covered:
                covered |= segment
                chosen.append(index_of[segment])
        chosen.extend(segment_index(frozenset({cell})) for cell in sorted(rest - covered))
        return tuple(chosen)

    overlaps = tuple((index_of[shared], tiling(first - shared), tiling(second - shared),
                      tuple(sorted(first - shared)), tuple(sorted(second - shared)))
                     for shared, first, second in pairs)
    return tuple(tuple(sorted(segment)) for segment in segments), overlaps


def solve(givens: list[int], units: tuple[tuple[int, ...], ...], n_symbols: int, *, limit: int = 2,
          budget: Budget | None = None, trace: bool = False) -> SearchResult:
    """Search for up to `limit` solutions of the puzzle `givens` (flat, 0 = blank, values 1..n_symbols)."""
    geo = geometry(tuple(tuple(u) for u in units), n_symbols)
    if len(givens) != geo.n_cells:
        raise ValueError(f"expected {geo.n_cells} cells, got {len(givens)}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    full = (1 << n_symbols) - 1
    cand = [full] * geo.n_cells
    queue: list[int] = []
    for cell, value in enumerate(givens):
        if value:
            if not 1 <= value <= n_symbols:
                raise ValueError(f"cell {cell} holds {value}, outside 1..{n_symbols}")
            cand[cell] = 1 << (value - 1)
            queue.append(cell)
    return _Search(geo, limit, budget, trace).run(cand, queue)


def count_solutions(givens: list[int], units: tuple[tuple[int, ...], ...], n_symbols: int, *, limit: int = 2,
                    budget: Budget | None = None) -> int | None:
    """Number of solutions, counted up to `limit`; None when the budget ran out first."""
    result = solve(givens, units, n_symbols, limit=limit, budget=budget)
    return None if result.status == "gave_up" else len(result.solutions)


class _Search:
    def __init__(self, geo: Geometry, limit: int, budget: Budget | None, trace: bool) -> None:
        self.geo = geo
        self.full = (1 << geo.n_symbols) - 1
        self.limit = limit
        self.budget = budget
        self.trace: list[Deduction] | None = [] if trace else None
        self.nodes = 0
        self.solutions: list[list[int]] = []
        self.first_trace: list[Deduction] = []  # the trace when the first solution was reached
        self.probe = geo.n_symbols >= PROBE_FROM_SIZE

    def run(self, cand: list[int], queue: list[int]) -> SearchResult:
        try:
            return self._search(cand, queue)
        except _OutOfBudget as stop:
            return SearchResult("gave_up", self.solutions, self.nodes, stop.why, self.first_trace)

    def _check_budget(self) -> None:
        if self.budget is not None:
            why = self.budget.exhausted(self.nodes)
            if why is not None:
                raise _OutOfBudget(why)

    def _search(self, cand: list[int], queue: list[int]) -> SearchResult:
        solutions = self.solutions
        try:
            self._settle(cand, queue)
        except _Failure as failure:
            return SearchResult("no_solution", nodes=0, reason=_describe(failure.contradiction),
                                unique=False, contradiction=failure.contradiction)
        # Depth-first search with an explicit stack: (state, branches still to try, trace length).
        stack: list[tuple[list[int], list[tuple[int, int]], int]] = []
        state: list[int] | None = cand
        budget = self.budget
        while True:
            if state is not None:
                branches = self._branches(state)
                if not branches:
                    solutions.append([m.bit_length() for m in state])
                    if len(solutions) == 1 and self.trace is not None:
                        self.first_trace = list(self.trace)
                    if len(solutions) >= self.limit:
                        break
                else:
                    branches.reverse()  # popped from the end: try them in order
                    stack.append((state, branches, len(self.trace) if self.trace is not None else 0))
            if not stack:
                break
            parent, branches, trace_len = stack[-1]
            cell, bit = branches.pop()
            if not branches:
                stack.pop()
            self.nodes += 1
            self._check_budget()
            if budget is not None and self.nodes % _PROGRESS_EVERY == 0:
                budget.report(self.nodes, budget.max_nodes, f"{self.nodes} search nodes, "
                              f"{len(solutions)} solution(s) so far")
            if self.trace is not None:
                del self.trace[trace_len:]
                self.trace.append(Deduction(cell, bit.bit_length(), "guess"))
            state = parent.copy()
            state[cell] = bit
            try:
                self._settle(state, [cell])
            except _Failure:
                state = None
        if not solutions:
            return SearchResult("no_solution", [], self.nodes, "every branch of the search ends in a contradiction",
                                unique=False)
        if len(solutions) >= 2:
            return SearchResult("multiple_solutions", solutions, self.nodes, "", self.first_trace, unique=False)
        return SearchResult("solved", solutions, self.nodes, "", self.first_trace,
                            unique=True if self.limit >= 2 else None)

    def _branches(self, state: list[int]) -> list[tuple[int, int]]:
        """The (cell, bit) alternatives to try next; empty when every cell is solved.

        Minimum remaining values over cells; when no cell has just two candidates, a value with only two places
        left in some unit is branched on instead (its two places), which prunes far better on large grids.
        """
        best, best_count = -1, 1 << 30
        for cell, mask in enumerate(state):
            if mask & (mask - 1):
                count = mask.bit_count()
                if count < best_count:
                    best, best_count = cell, count
                    if count == 2:
                        break
        if best < 0:
            return []
        if best_count > 2:
            for unit in self.geo.units:
                once = twice = thrice = 0
                for cell in unit:
                    mask = state[cell]
                    if mask & (mask - 1):
                        thrice |= twice & mask
                        twice |= once & mask
                        once |= mask
                pair = twice & ~thrice
                if pair:
                    bit = pair & -pair
                    return [(cell, bit) for cell in unit if state[cell] & bit]
        mask = state[best]
        branches = []
        while mask:
            bit = mask & -mask
            branches.append((best, bit))
            mask ^= bit
        return branches

    def _settle(self, cand: list[int], queue: list[int]) -> None:
        """Propagate, then (when probing) probe every two-candidate cell until no probe changes anything."""
        self._propagate(cand, queue)
        if not self.probe:
            return
        trace, self.trace = self.trace, None  # probes are hypothetical: keep them out of the trace
        try:
            progress = True
            while progress:
                progress = False
                for cell, mask in enumerate(cand):
                    if mask.bit_count() == 2:
                        progress |= self._probe(cand, cell, mask, trace)
        finally:
            self.trace = trace

    def _probe(self, cand: list[int], cell: int, mask: int, trace: list[Deduction] | None) -> bool:
        """Propagate each value of a two-candidate cell on a copy. One fails: the other is forced. Both survive:
        a candidate left under neither is impossible (keep the union of the two states). Returns whether `cand`
        changed."""
        self._check_budget()
        first = mask & -mask
        trials = []
        for bit in (first, mask ^ first):
            trial = cand.copy()
            trial[cell] = bit
            try:
                self._propagate(trial, [cell], locked=False)
                trials.append(trial)
            except _Failure:
                pass
        if not trials:
            raise _Failure(Contradiction(cell=cell))
        if len(trials) == 1:
            cand[cell] = trials[0][cell]
            self._record(trace, Deduction(cell, cand[cell].bit_length(), "forced"))
            self._propagate_traced(cand, [cell], trace)
            return True
        queue, changed = [], False
        for other, (x, y) in enumerate(zip(*trials)):
            union = x | y
            if union != cand[other]:
                cand[other] = union
                changed = True
                if not union & (union - 1):
                    queue.append(other)
                    self._record(trace, Deduction(other, union.bit_length(), "forced", via=cell))
        if changed:
            self._propagate_traced(cand, queue, trace)
        return changed

    @staticmethod
    def _record(trace: list[Deduction] | None, deduction: Deduction) -> None:
        if trace is not None:
            trace.append(deduction)

    def _propagate_traced(self, cand: list[int], queue: list[int], trace: list[Deduction] | None) -> None:
        """Propagate a real (not hypothetical) deduction made while probing, recording its consequences."""
        self.trace = trace
        try:
            self._propagate(cand, queue)
        finally:
            self.trace = None

    def _propagate(self, cand: list[int], queue: list[int], locked: bool = True) -> None:
        """Eliminate solved values from peers (naked singles) and place hidden singles, to a fixed point."""
        peers = self.geo.peers
        units = self.geo.units
        full = self.full
        trace = self.trace
        while True:
            while queue:
                cell = queue.pop()
                bit = cand[cell]
                for peer in peers[cell]:
                    mask = cand[peer]
                    if mask & bit:
                        mask ^= bit
                        if not mask:
                            raise _Failure(Contradiction(cell=peer))
                        cand[peer] = mask
                        if not mask & (mask - 1):
                            queue.append(peer)
                            if trace is not None:
                                trace.append(Deduction(peer, mask.bit_length(), "naked_single"))
            for index, unit in enumerate(units):
                once = twice = 0
                for cell in unit:
                    mask = cand[cell]
                    twice |= once & mask
                    once |= mask
                if once != full:
                    missing = full & ~once
                    raise _Failure(Contradiction(unit=index, value=(missing & -missing).bit_length()))
                hidden = once & ~twice
                if not hidden:
                    continue
                for cell in unit:
                    mask = cand[cell]
                    single = mask & hidden
                    if single and single != mask:
                        if single & (single - 1):
                            raise _Failure(Contradiction(cell=cell))
                        cand[cell] = single
                        queue.append(cell)
                        if trace is not None:
                            trace.append(Deduction(cell, single.bit_length(), "hidden_single", index))
            if not queue and not (locked and self._locked_candidates(cand, queue)):
                return

    def _locked_candidates(self, cand: list[int], queue: list[int]) -> bool:
        """Where two units overlap (a box and a line), a value confined to the overlap within one of them cannot
        sit in the rest of the other. Returns whether any candidate was removed (new singles go to `queue`)."""
        changed = False
        trace = self.trace
        unions = []
        for segment in self.geo.segments:
            union = 0
            for cell in segment:
                union |= cand[cell]
            unions.append(union)
        for shared, parts_a, parts_b, rest_a, rest_b in self.geo.overlaps:
            inside = unions[shared]
            outside_a = outside_b = 0
            for part in parts_a:
                outside_a |= unions[part]
            for part in parts_b:
                outside_b |= unions[part]
            # Values of the overlap absent from one rest are locked there: remove them from the other rest.
            for locked, targets in ((inside & ~outside_a & outside_b, rest_b), (inside & ~outside_b & outside_a, rest_a)):
                if not locked:
                    continue
                for cell in targets:
                    mask = cand[cell]
                    if mask & locked:
                        mask &= ~locked
                        if not mask:
                            raise _Failure(Contradiction(cell=cell))
                        cand[cell] = mask
                        changed = True
                        if not mask & (mask - 1):
                            queue.append(cell)
                            if trace is not None:
                                trace.append(Deduction(cell, mask.bit_length(), "naked_single"))
            if changed:  # the unions are stale now: let the caller propagate, then look again
                return True
        return False


def _describe(contradiction: Contradiction) -> str:
    if contradiction.unit is not None:
        return f"value {contradiction.value} has no possible place in unit {contradiction.unit}"
    return f"cell {contradiction.cell} has no possible value"
