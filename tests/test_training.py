"""Training pipeline: generators, augmentations, readers, the deep-supervision loop, exact resume, torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from recursive_tools.solvers.exact.sudoku import count_solutions
from recursive_tools.solvers.neural.maze_net import MazeNet, MazeNetConfig
from recursive_tools.solvers.training import mazes
from recursive_tools.solvers.training.augment import dihedral_batch
from recursive_tools.solvers.training.cli import build_training_model
from recursive_tools.solvers.training.data import read_reference_dataset
from recursive_tools.solvers.training.loop import Trainer, TrainConfig, sequence_losses
from recursive_tools.tasks import get_task, maze_csv_examples, sudoku_csv_examples

DATA = Path(__file__).parent / "data"
TINY_TRM = {"hidden_size": 32, "num_heads": 2, "H_cycles": 2, "L_cycles": 2, "puzzle_emb_len": 1,
            "halt_max_steps": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(("size", "givens"), [(4, (4, 8)), (6, (9, 14)), (9, (30, 36))])
def test_generated_sudokus_have_unique_solutions(size, givens):
    task = get_task(f"sudoku-{size}x{size}", givens=givens)
    inputs, labels = task.generate(np.random.default_rng(size), 6)
    assert task.verify_batch(inputs, labels).all()
    for puzzle, solution in zip(inputs, labels, strict=True):
        clues = puzzle > 1
        assert givens[0] <= clues.sum() <= givens[1]
        assert (puzzle[clues] == solution[clues]).all()
        digits = np.where(clues, puzzle - 1, 0).tolist()
        assert count_solutions(digits, task.units, size, limit=2) == 1


@pytest.mark.parametrize("size", [4, 6, 9])
def test_sudoku_augmentation_keeps_puzzles_valid(size):
    task = get_task(f"sudoku-{size}x{size}")
    inputs, labels = task.generate(np.random.default_rng(0), 4)
    rng = np.random.default_rng(1)
    for _ in range(5):
        new_inputs, new_labels = task.augment(rng, inputs, labels)
        assert task.verify_batch(new_inputs, new_labels).all()
        clues = new_inputs > 1
        assert (new_inputs[clues] == new_labels[clues]).all()
        assert (clues.sum(1) == (inputs > 1).sum(1)).all()
    assert not np.array_equal(new_labels, labels)


def test_maze_labels_are_shortest_paths_and_dihedral_keeps_them():
    task = get_task("maze", min_side=5, max_side=9)
    inputs, labels = task.generate(np.random.default_rng(0), 16)
    assert task.verify_batch(inputs, labels).all()
    rotated_inputs, rotated_labels = dihedral_batch(np.random.default_rng(2), inputs, labels)
    assert task.verify_batch(rotated_inputs, rotated_labels).all()
    wrong = labels.copy()
    wrong[0][np.flatnonzero(wrong[0] == mazes.PATH)[0]] = mazes.OPEN
    assert not task.verify_batch(inputs[:1], wrong[:1])[0]


def test_arrow_labels_lead_along_the_canonical_shortest_path():
    from recursive_tools.kinds import maze

    task = get_task("maze", min_side=5, max_side=11, labels="arrows")
    inputs, arrows = task.generate(np.random.default_rng(4), 32)
    assert task.verify_batch(inputs, arrows).all()
    side = 11
    for grid, field in zip(inputs[:8], arrows[:8]):
        path_tokens = maze.follow_arrows(grid[None], field[None])[0]
        assert np.array_equal(path_tokens, mazes.labels_of(grid.reshape(side, side), "path").reshape(-1))
        assert (field[(grid == mazes.WALL) | (grid == mazes.PAD)] == 0).all()  # walls and pad are not supervised
        assert field[grid == mazes.GOAL][0] == mazes.STAY
    turned_inputs, turned_arrows = task.augment(np.random.default_rng(1), inputs, arrows)
    assert task.verify_batch(turned_inputs, turned_arrows).all()  # directions turn with the grid
    csv_inputs, csv_arrows = maze_csv_examples(DATA / "maze30_sample.csv", labels="arrows")
    assert task.verify_batch(csv_inputs, csv_arrows).all()


def test_maze_filters_long_and_unique_paths():
    rng = np.random.default_rng(3)
    spec = mazes.MazeSpec(7, 9, 9, min_path=10, unique_path=True)
    for _ in range(5):
        grid, label = mazes.generate_maze(rng, spec)
        assert (label == mazes.PATH).sum() + 1 >= 10
        assert mazes.count_shortest_paths(grid) == 1
    perfect = mazes.MazeSpec(9, 9, 9, style="perfect")
    grid, _ = mazes.generate_maze(rng, perfect)
    assert mazes.count_shortest_paths(grid) == 1


def test_readers_csv_and_reference_layout(tmp_path):
    task = get_task("sudoku-4x4")
    inputs, labels = sudoku_csv_examples(task, DATA / "sudoku4x4_sample.csv")
    assert inputs.shape == (5, 16) and task.verify_batch(inputs, labels).all()
    maze_inputs, maze_labels = maze_csv_examples(DATA / "maze30_sample.csv")
    assert maze_inputs.shape == (5, 900) and get_task("maze").verify_batch(maze_inputs, maze_labels).all()

    split = tmp_path / "test"
    split.mkdir()
    np.save(split / "all__inputs.npy", inputs.astype(np.int32))
    np.save(split / "all__labels.npy", labels.astype(np.int32))
    np.save(split / "all__puzzle_identifiers.npy", np.zeros(5, dtype=np.int32))
    np.save(split / "all__puzzle_indices.npy", np.arange(6, dtype=np.int32))
    np.save(split / "all__group_indices.npy", np.arange(6, dtype=np.int32))
    (split / "dataset.json").write_text(json.dumps({"pad_id": 0, "ignore_label_id": 0, "vocab_size": 6,
                                                    "seq_len": 16, "sets": ["all"]}))
    dataset = read_reference_dataset(tmp_path, "test")
    assert np.array_equal(dataset.inputs, inputs) and np.array_equal(dataset.labels, labels)
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        read_reference_dataset(tmp_path, "train")


def test_stablemax_loss_prefers_the_label():
    labels = torch.tensor([[2, 3]])
    good = torch.tensor([[[0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 0.0, 5.0]]])
    bad = good.flip(-1)
    assert sequence_losses(good, labels, "stablemax") < sequence_losses(bad, labels, "stablemax")


def _trainer(tmp_path: Path, task, model, steps: int, **config) -> Trainer:
    settings = {"steps": steps, "batch_size": 16, "lr": 3e-3, "warmup_steps": 5, "eval_every": 0,
                "checkpoint_every": 1000, "log_every": 5, "seed": 1} | config
    return Trainer(model, task, TrainConfig(**settings), tmp_path)


def _sudoku_examples():
    task = get_task("sudoku-4x4")
    return task, task.generate(np.random.default_rng(7), 64)


def test_training_steps_reduce_the_loss(tmp_path):
    task, examples = _sudoku_examples()
    torch.manual_seed(0)
    model = build_training_model("trm", task, dict(TINY_TRM))
    trainer = Trainer(model, task, TrainConfig(steps=40, batch_size=32, lr=3e-3, warmup_steps=5, eval_every=0,
                                               checkpoint_every=1000), tmp_path, train_examples=examples)
    losses = [trainer.train_step().lm_loss for _ in range(40)]
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])


def test_maze_net_trains_and_runs_on_bigger_mazes(tmp_path):
    task = get_task("maze", min_side=5, max_side=7)
    torch.manual_seed(0)
    model = MazeNet(MazeNetConfig(width=8, blocks=1, iterations_per_step=3, grad_iterations=2, halt_max_steps=2))
    examples = task.generate(np.random.default_rng(5), 8)
    trainer = Trainer(model, task, TrainConfig(steps=40, batch_size=8, lr=1e-2, warmup_steps=2, eval_every=0,
                                               loss="softmax", checkpoint_every=1000), tmp_path,
                      train_examples=examples)
    losses = [trainer.train_step().lm_loss for _ in range(40)]
    assert np.mean(losses[-6:]) < 0.9 * np.mean(losses[:6])
    big = mazes.generate_mazes(np.random.default_rng(0), mazes.MazeSpec(12, 12, 12), 2)[0]
    out = model(model.initial_carry(2), torch.as_tensor(big))
    assert out.logits.shape == (2, 144, mazes.VOCAB_SIZE)
    walls = torch.as_tensor(big) == mazes.WALL
    assert (out.logits.argmax(-1)[walls] == mazes.WALL).all()  # fixed cells copy the input


def test_arrow_maze_net_learns_the_wave_from_the_goal(tmp_path):
    task = get_task("maze", min_side=5, max_side=7, labels="arrows")
    torch.manual_seed(0)
    model = build_training_model("maze-net", task, {"width": 8, "blocks": 1, "iterations_per_step": 3,
                                                    "grad_iterations": 2, "halt_max_steps": 2})
    assert model.config.output == "arrows"
    trainer = Trainer(model, task, TrainConfig(steps=40, batch_size=8, lr=1e-2, warmup_steps=2, eval_every=0,
                                               loss="softmax", checkpoint_every=1000), tmp_path,
                      train_examples=task.generate(np.random.default_rng(5), 8))
    losses = [trainer.train_step().lm_loss for _ in range(40)]
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])
    out = model(model.initial_carry(2), torch.as_tensor(task.generate(np.random.default_rng(6), 2)[0]))
    assert out.logits.shape == (2, 49, mazes.VOCAB_SIZE) and (out.logits.argmax(-1) != 0).all()


def test_wave_horizon_hides_the_arrows_a_wave_from_the_goal_has_not_reached():
    task = get_task("maze", min_side=7, max_side=11, labels="arrows", wave=3)
    inputs, labels = task.generate(np.random.default_rng(8), 16)
    steps_done = torch.arange(16) % 5
    supervised = task.step_labels(torch.as_tensor(inputs), torch.as_tensor(labels), steps_done).numpy()
    for grid, full, shown, step in zip(inputs, labels, supervised, steps_done.tolist()):
        grid = grid.reshape(11, 11)
        to_goal = mazes.distances(grid, tuple(np.argwhere(grid == mazes.GOAL)[0])).reshape(-1)
        hidden = (to_goal > 3 * (step + 1)) & (full >= mazes.ARROW_OFFSET)
        assert (shown[hidden] == 0).all() and (shown[~hidden] == full[~hidden]).all()
    assert (supervised == 0).sum() > (labels == 0).sum()  # early steps do hide some arrows
    cut_off = (labels == mazes.STAY) & (inputs != mazes.GOAL)
    assert (supervised[cut_off] == mazes.STAY).all()  # never reached reads "stay" at every step
    clock = get_task("maze", min_side=7, max_side=11, labels="arrows", wave=3, wave_beyond="stay")
    staying = clock.step_labels(torch.as_tensor(inputs), torch.as_tensor(labels), steps_done).numpy()
    hidden = (supervised == 0) & (labels != 0)
    assert (staying[hidden] == mazes.STAY).all() and (staying[~hidden] == labels[~hidden]).all()
    with pytest.raises(SystemExit, match="arrows"):
        get_task("maze", labels="path", wave=3)


def test_training_supervises_the_task_step_labels(tmp_path):
    task = get_task("maze", min_side=5, max_side=7, labels="arrows", wave=1)
    seen: list[torch.Tensor] = []

    def recording(inputs, labels, steps_done):
        seen.append(steps_done.clone())
        return task.step_labels(inputs, labels, steps_done)

    recorded = dataclasses.replace(task, step_labels=recording)
    model = build_training_model("maze-net", task, {"width": 8, "blocks": 1, "iterations_per_step": 1,
                                                    "grad_iterations": 1, "halt_max_steps": 3})
    trainer = Trainer(model, recorded, TrainConfig(steps=4, batch_size=4, eval_every=0, loss="softmax",
                                                   halt_in_training=False, checkpoint_every=1000), tmp_path,
                      train_examples=task.generate(np.random.default_rng(5), 8))
    for _ in range(4):
        trainer.train_step()
    assert [int(s[0]) for s in seen] == [0, 1, 2, 0]  # the steps each slot has run, reset on refill


def test_pointwise_blocks_move_information_one_cell_per_iteration():
    torch.manual_seed(0)
    iterations = 4
    model = MazeNet(MazeNetConfig(width=8, blocks=2, iterations_per_step=iterations, grad_iterations=1,
                                  block_kernel=1, output="arrows")).eval()
    grid = torch.full((1, 20, 20), mazes.OPEN)
    grid[0, 0, 0], grid[0, 19, 19] = mazes.START, mazes.GOAL
    changed = grid.clone()
    changed[0, 10, 0] = mazes.WALL
    with torch.no_grad():
        before = model(model.initial_carry(1), grid).logits.view(20, 20, -1)
        after = model(model.initial_carry(1), changed).logits.view(20, 20, -1)
    differs = (before - after).abs().amax(-1) > 1e-6
    reach = iterations + 3  # the recall conv moves one cell per iteration; the read-out head sees 3 more
    rows, cols = torch.nonzero(differs, as_tuple=True)
    assert differs.any() and int(((rows - 10).abs() + cols).max()) <= 2 * reach  # city-block bound
    assert int((rows - 10).abs().max()) <= reach and int(cols.max()) <= reach


def test_resume_is_exact(tmp_path):
    task, examples = _sudoku_examples()

    def fresh(folder: Path) -> Trainer:
        torch.manual_seed(0)
        model = build_training_model("trm", task, dict(TINY_TRM))
        return Trainer(model, task, TrainConfig(steps=6, batch_size=8, warmup_steps=2, eval_every=0,
                                                checkpoint_every=1000, seed=3), folder)

    straight = fresh(tmp_path / "a")
    for _ in range(6):
        straight.train_step()
    first = fresh(tmp_path / "b")
    for _ in range(3):
        first.train_step()
    path = first.save()
    torch.manual_seed(123)  # the resumed run must not depend on the global RNG state before loading
    second = fresh(tmp_path / "b")
    second.load(path)
    for _ in range(3):
        second.train_step()
    for (name, a), b in zip(straight.model.state_dict().items(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    for a, b in zip(straight.ema, second.ema, strict=True):
        assert torch.equal(a, b)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(120)
def test_torchrun_two_processes_train_in_step(tmp_path):
    out = tmp_path / "run"
    overrides = [arg for key, value in TINY_TRM.items() for arg in ("--set", f"{key}={value}")]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
               "-m", "recursive_tools.cli", "train", "--task", "sudoku-4x4", "--out", str(out), "--steps", "4",
               "--batch-size", "4", "--eval-every", "0", "--threads", "1", "--no-progress", *overrides]
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    result = subprocess.run(command, capture_output=True, text=True, timeout=110, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    states = [torch.load(out / f"train_state_rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert states[0]["step"] == states[1]["step"] == 4
    assert not torch.equal(states[0]["inputs"], states[1]["inputs"])  # each rank draws its own examples
    for name, value in states[0]["model"].items():
        assert torch.equal(value, states[1]["model"][name]), name
