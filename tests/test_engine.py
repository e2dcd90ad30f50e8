"""The inference engine (halting, reference mode, verified early exit, PTRM, budgets), the neural bridge's
micro-batcher, and a tiny TRM that learns 4x4 Sudoku with the project's training loop."""

from __future__ import annotations

import itertools
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from recursive_tools.solvers.budget import Budget
from recursive_tools.solvers.neural.checkpoint import save_pretrained
from recursive_tools.solvers.neural.engine import InferenceEngine
from recursive_tools.solvers.neural.trm import TRM, TRMConfig

torch.set_num_threads(1)

# ---------------------------------------------------------------- 4x4 Sudoku as data (tokens: 0 pad, 1 blank, 2..5)

CELLS = np.arange(16)
ROW, COL = CELLS // 4, CELLS % 4
BOX = (ROW // 2) * 2 + COL // 2
UNITS = np.array([np.flatnonzero(a == u) for a in (ROW, COL, BOX) for u in range(4)])  # [12, 4]
PEERS = (ROW[:, None] == ROW) | (COL[:, None] == COL) | (BOX[:, None] == BOX)


def all_grids() -> np.ndarray:
    grids = []
    for cells in itertools.product(itertools.permutations(range(4)), repeat=4):
        grid = np.array(cells).reshape(16)
        if all(len(set(grid[u])) == 4 for u in UNITS):
            grids.append(grid)
    return np.array(grids)


GRIDS = all_grids()  # 288 solution grids, digits 0..3


def verify_4x4(inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    digits = predictions - 2
    in_range = ((digits >= 0) & (digits < 4)).all(1)
    givens_kept = ((inputs < 2) | (predictions == inputs)).all(1)
    one_hot = np.eye(4, dtype=np.int64)[np.clip(digits, 0, 3)]  # [N, 16, 4]
    units_complete = (one_hot[:, UNITS].sum(2) == 1).all((1, 2))
    return in_range & givens_kept & units_complete


def make_puzzles(rng: np.random.Generator, grids: np.ndarray, count: int, blanks=(4, 10)):
    solutions = grids[rng.integers(0, len(grids), count)] + 2
    inputs = solutions.copy()
    for row, blank in zip(inputs, rng.integers(blanks[0], blanks[1] + 1, count)):
        row[rng.choice(16, blank, replace=False)] = 1
    return inputs, solutions


def small_model(**overrides) -> TRM:
    config = dict(vocab_size=6, seq_len=16, hidden_size=32, num_heads=2, H_cycles=2, L_cycles=2, puzzle_emb_len=1,
                  halt_max_steps=6)
    config.update(overrides)
    return TRM(TRMConfig(**config)).eval()


class RowCounter:
    """Wraps a model and records how many rows each forward call received."""

    def __init__(self, model):
        self.model, self.rows = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def eval(self):
        return self

    def __call__(self, carry, tokens):
        self.rows.append(tokens.shape[0])
        return self.model(carry, tokens)


# ---------------------------------------------------------------- engine

def test_halting_and_reference_mode_agree_when_nothing_halts_early():
    torch.manual_seed(0)
    model = small_model()  # fresh q_head: q_halt = -5, never halts
    tokens, _ = make_puzzles(np.random.default_rng(0), GRIDS, 6)
    halting = InferenceEngine(model).run(tokens, mode="halting")
    reference = InferenceEngine(model).run(tokens, mode="reference")
    for h, r in zip(halting, reference):
        assert np.array_equal(h.prediction, r.prediction)
        assert h.steps == r.steps == 6 and h.stop_reason == r.stop_reason == "max_steps"
        assert h.halt_confidence == pytest.approx(r.halt_confidence)
        assert h.confidence == pytest.approx(1 / (1 + np.exp(5)), rel=1e-4)
        assert len(h.cells_changed) == 6 and h.verified is None


def test_halted_samples_leave_the_batch():
    torch.manual_seed(0)
    model = small_model()
    tokens, _ = make_puzzles(np.random.default_rng(1), GRIDS, 4)
    tokens[:, 0] = [5, 5, 1, 1]  # the toy verifier passes rows whose first input cell is 5 after step 2

    calls = {"n": 0}

    def toy_verifier(inputs, predictions):
        calls["n"] += 1
        return (inputs[:, 0] == 5) & (calls["n"] >= 2)

    counter = RowCounter(model)
    results = InferenceEngine(counter, verify_batch=toy_verifier).run(tokens, max_steps=5)
    assert counter.rows == [4, 4, 2, 2, 2]  # rows 0 and 1 verified at step 2, no compute spent on them after
    assert [r.stop_reason for r in results] == ["verified", "verified", "max_steps", "max_steps"]
    assert [r.steps for r in results] == [2, 2, 5, 5]

    with torch.no_grad():  # a q_head that always says halt stops everything after one step
        model.q_head.bias.fill_(5.0)
    counter.rows.clear()
    results = InferenceEngine(counter).run(tokens, max_steps=5)
    assert counter.rows == [4] and {r.stop_reason for r in results} == {"q_halt"}
    reference = InferenceEngine(counter).run(tokens, max_steps=5, mode="reference")
    assert {r.steps for r in reference} == {5}

    never = InferenceEngine(model, verify_batch=lambda inputs, predictions: np.zeros(len(inputs), dtype=bool))
    assert {r.steps for r in never.run(tokens, max_steps=5)} == {5}  # a halt on a grid known to be wrong is ignored
    assert {r.steps for r in never.run(tokens, max_steps=5, trust_q_halt=True)} == {1}


def test_ptrm_with_zero_sigma_equals_one_deterministic_trajectory():
    torch.manual_seed(0)
    model = small_model()
    tokens, _ = make_puzzles(np.random.default_rng(2), GRIDS, 3)
    engine = InferenceEngine(model, verify_batch=verify_4x4)
    single = engine.run(tokens, trajectories=1)
    for selection in ("verified", "q"):
        many = engine.run(tokens, trajectories=8, sigma=0.0, selection=selection)
        for s, m in zip(single, many):
            assert np.array_equal(s.prediction, m.prediction) and s.steps == m.steps
            assert s.halt_confidence == m.halt_confidence and m.trajectories == 8


def test_ptrm_noise_explores_and_q_selection_picks_the_highest_q():
    torch.manual_seed(0)
    model = small_model()
    with torch.no_grad():
        model.q_head.weight.normal_(0, 0.5)
    tokens, _ = make_puzzles(np.random.default_rng(3), GRIDS, 2)
    engine = InferenceEngine(model)
    noisy = engine.run(tokens, trajectories=16, sigma=1.0, selection="q", mode="reference", max_steps=3)
    rows = [engine.run(tokens[i:i + 1], trajectories=16, sigma=1.0, selection="q", mode="reference",
                       max_steps=3, seed=0) for i in range(2)]
    assert all(r.trajectories == 16 and r.steps == 3 for r in noisy)
    assert rows[0][0].confidence >= noisy[0].halt_confidence[-1] - 1e-6
    assert any(r.trajectory != 0 for r in noisy) or all(r.confidence > 0.5 for r in noisy)
    same_seed = engine.run(tokens, trajectories=16, sigma=1.0, selection="q", mode="reference", max_steps=3)
    assert [r.trajectory for r in same_seed] == [r.trajectory for r in noisy]  # seeded: reproducible


def test_budget_cancel_deadline_and_progress():
    model = small_model()
    tokens, _ = make_puzzles(np.random.default_rng(4), GRIDS, 2)
    reports = []
    budget = Budget.of(10.0, progress=lambda p, total, msg: reports.append((p, total)))
    InferenceEngine(model).run(tokens, max_steps=4, budget=budget)
    assert reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
    cancelled = Budget.of(10.0)
    cancelled.cancel.set()
    late = Budget.of(0.0)
    results = InferenceEngine(model).run(tokens, budget=[cancelled, late])
    assert [(r.steps, r.stop_reason) for r in results] == [(0, "cancelled"), (0, "time")]
    assert results[0].confidence is None and np.array_equal(results[0].prediction, tokens[0])


def test_bad_requests_fail_clearly():
    engine = InferenceEngine(small_model())
    with pytest.raises(ValueError, match="reads 16"):
        engine.run(np.ones((1, 9), dtype=np.int64))
    with pytest.raises(ValueError, match="token ids"):
        engine.run(np.full((1, 16), 9))
    with pytest.raises(ValueError, match="trajectories"):
        engine.run(np.ones((1, 16), dtype=np.int64), trajectories=0)


def test_rows_beyond_max_rows_run_in_groups():
    model = small_model()
    tokens, _ = make_puzzles(np.random.default_rng(5), GRIDS, 5)
    counter = RowCounter(model)
    grouped = InferenceEngine(counter, max_rows=4).run(tokens, trajectories=2, max_steps=2)
    assert max(counter.rows) <= 4
    whole = InferenceEngine(model).run(tokens, trajectories=2, max_steps=2)
    assert all(np.array_equal(a.prediction, b.prediction) for a, b in zip(grouped, whole))


# ---------------------------------------------------------------- the bridge's micro-batcher

def fake_kind() -> SimpleNamespace:
    return SimpleNamespace(NAME="sudoku", encode=lambda puzzle: puzzle, decode=lambda puzzle, tokens: tokens - 2,
                           verify_batch=verify_4x4)


def test_micro_batcher_gathers_concurrent_calls_into_one_batch(tmp_path):
    from recursive_tools.neural import CheckpointSolver

    folder = save_pretrained(small_model(), tmp_path / "tiny", {"title": "tiny"}, kind="sudoku", size_label="4x4")
    solver = CheckpointSolver(folder, kind_module=fake_kind(), window_s=0.5, max_batch=8)
    tokens, _ = make_puzzles(np.random.default_rng(6), GRIDS, 6)
    start = threading.Barrier(6)
    attempts = [None] * 6

    def call(i):
        start.wait()
        attempts[i] = solver.solve(tokens[i], trajectories=1 + i % 2, budget=Budget.of(30.0))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert solver.batcher.batch_sizes == [6]
    alone = InferenceEngine(solver.model, verify_batch=verify_4x4).run(tokens[:1])[0]
    assert np.array_equal(attempts[0].solution, alone.prediction - 2) and attempts[0].steps == alone.steps
    assert [a.trajectories for a in attempts] == [1, 2, 1, 2, 1, 2]
    assert solver.info.checkpoint == "tiny" and solver.info.family == "trm"


def test_registration_reads_checkpoint_metadata(tmp_path, monkeypatch):
    import recursive_tools.neural as neural
    from recursive_tools.solvers.neural.catalog import list_checkpoints

    registered = []
    monkeypatch.setattr(neural, "register_neural", lambda loader, kind, size, name, card=None:
                        registered.append((kind, size, name, card["family"], card["parameters"])))
    for name, preferred in (("a-model", False), ("b-model", True)):
        save_pretrained(small_model(), tmp_path / name, {"preferred": preferred}, kind="sudoku", size_label="4x4")
    save_pretrained(small_model(), tmp_path / "no-kind", {})
    assert neural.register_shipped_checkpoints(list_checkpoints(tmp_path)) == ["b-model"]
    parameters = sum(p.numel() for p in small_model().parameters())
    assert registered == [("sudoku", "4x4", "b-model", "trm", parameters)]


# ---------------------------------------------------------------- a tiny TRM learns 4x4 Sudoku

def test_tiny_trm_learns_4x4_sudoku(tmp_path, monkeypatch):
    from recursive_tools.solvers.training.loop import Trainer, TrainConfig
    from recursive_tools.solvers.training.tasks import TaskSpec

    rng = np.random.default_rng(0)
    order = rng.permutation(len(GRIDS))
    train_grids, test_grids = GRIDS[order[:240]], GRIDS[order[240:]]  # test puzzles come from unseen grids
    task = TaskSpec(name="sudoku-4x4", kind="sudoku", size_label="4x4", vocab_size=6, grid_shape=(4, 4),
                    generate=lambda g, n: make_puzzles(g, train_grids, n), verify_batch=verify_4x4,
                    default_model="trm", peer_mask=PEERS)
    torch.manual_seed(0)
    model = TRM(TRMConfig(vocab_size=6, seq_len=16, hidden_size=64, num_heads=4, H_cycles=2, L_cycles=2,
                          puzzle_emb_len=1, halt_max_steps=4, attention_mask=True), peer_mask=torch.from_numpy(PEERS))
    config = TrainConfig(steps=200, batch_size=64, lr=2e-3, warmup_steps=20, weight_decay=0.1, ema_decay=0.99,
                         halt_exploration_prob=0.1, eval_every=10_000, checkpoint_every=10_000, log_every=10_000)
    trainer = Trainer(model, task, config, tmp_path)
    started = time.perf_counter()
    for _ in range(config.steps):
        trainer.train_step()
    model.load_state_dict(trainer.ema_state_dict())
    inputs, _ = make_puzzles(np.random.default_rng(1), test_grids, 200)
    engine = InferenceEngine(model, verify_batch=verify_4x4)
    solved = np.mean([r.verified for r in engine.run(inputs, max_steps=8)])
    assert solved >= 0.9, f"solved {solved:.1%} of held-out 4x4 puzzles after {time.perf_counter() - started:.0f}s"
    with_trajectories = np.mean([r.verified for r in engine.run(inputs, max_steps=8, trajectories=8, sigma=0.3)])
    assert with_trajectories >= solved

    # The same model as a shipped checkpoint, through the real Sudoku kind and the solve pipeline.
    from recursive_tools import pipeline
    from recursive_tools.kinds import sudoku
    from recursive_tools.neural import CheckpointSolver

    folder = save_pretrained(model, tmp_path / "trm-sudoku-4x4-tiny", {"title": "tiny"}, kind="sudoku",
                             size_label="4x4")
    solver = CheckpointSolver(folder)
    monkeypatch.setattr(pipeline, "_registry", {})
    monkeypatch.setattr(pipeline, "_discovered", True)
    pipeline.register_neural(lambda: solver, "sudoku", "4x4", solver.info.name)
    puzzle_text = "\n".join("".join(str(v - 1) if v > 1 else "." for v in row) for row in inputs[0].reshape(4, 4))
    answer = pipeline.solve("sudoku", puzzle_text, solver="neural", trajectories=8)
    assert answer.status == "solved" and answer.verified, answer
    assert answer.solver.name == "trm-sudoku-4x4-tiny" and answer.recursion_steps >= 1
    assert sudoku.verify_batch(inputs[:1], sudoku.encode_solution(sudoku.parse(puzzle_text),
                                                                  answer.solution)[None]).all()


@pytest.mark.parametrize("output", ["path", "arrows"])
def test_size_agnostic_maze_net_runs_through_the_bridge(tmp_path, output):
    from recursive_tools.kinds import maze
    from recursive_tools.neural import CheckpointSolver
    from recursive_tools.solvers.neural.maze_net import MazeNet, MazeNetConfig

    torch.manual_seed(0)
    net = MazeNet(MazeNetConfig(width=8, blocks=1, iterations_per_step=2, grad_iterations=1, halt_max_steps=3,
                                head_width=8, output=output))
    folder = save_pretrained(net, tmp_path / "maze-tiny", {"title": "tiny maze net"}, kind="maze", size_label="any",
                             tokens={"labels": output})
    solver = CheckpointSolver(folder, window_s=0.2)
    assert solver.info.family == "conv-recurrent"
    rectangular = maze.parse([list("S...#.."), list("###.#.#"), list("......G")])  # 3 x 7: the shape must reach
    square = maze.parse([list("S.."), list("##."), list("G..")])                  # the net and the verifier
    attempts = {}

    def call(name, puzzle):
        attempts[name] = solver.solve(puzzle, trajectories=2, budget=Budget.of(30.0))

    threads = [threading.Thread(target=call, args=item) for item in (("rect", rectangular), ("square", square))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert set(attempts) == {"rect", "square"} and all(a.trajectories == 2 and a.steps >= 1 for a in attempts.values())
    trace = solver.trace(rectangular)
    assert len(trace.prediction) == 21 and len(trace.cells_changed) == trace.steps
