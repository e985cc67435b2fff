"""cocotb proof of cell models against the Liberty they were written from (asicgen.cell_models).

The harness holds one instance of every modelled cell, each pin on its own port. The reference
is the Liberty read by `asicgen.liberty`, handed over as truth tables (`check_config`):
* combinational cells: every input combination, in order and then in a random order;
* flip-flops and latches: random steps, each either a change of the data, clear and preset
  inputs with the clocks held, or a toggle of one clock input with the rest held (so an edge
  never coincides with a data change: zero-delay models have no setup or hold), the expected
  state computed from the state group: clear and preset first (both: clear_preset_var1), then
  the rise of clocked_on (ff) or enable held (latch). The outputs are compared once the state
  is known (after the first clear, preset or clock event). Stimulus never releases one of clear
  and preset while the other holds: there the edge-triggered model and the level-sensitive
  Liberty differ, which asicgen.cell_models documents and checks netlists against.
An X or Z on an output is a failure.
"""

from __future__ import annotations

import random
from typing import Any

import cocotb
from cocotb.triggers import Timer

from verif.runner import load_config

STEP_NS = 1


def row_index(values: dict[str, int], inputs: list[str]) -> int:
    row = 0
    for name in inputs:
        row = (row << 1) | values[name]
    return row


class CellDriver:
    """Drives one cell's inputs and reads its outputs through the harness ports."""

    def __init__(self, dut: Any, cell: dict[str, Any]):
        self.cell = cell
        self.inputs: list[str] = cell["inputs"]
        self.handles = {pin: getattr(dut, port) for pin, port in cell["ports"].items()}
        self.values = {pin: 0 for pin in self.inputs}

    def drive(self, values: dict[str, int]) -> None:
        self.values = dict(values)
        for pin, value in values.items():
            self.handles[pin].value = value

    def read(self) -> dict[str, int]:
        out = {}
        for pin in self.cell["outputs"]:
            value = self.handles[pin].value
            assert value.is_resolvable, f"{self.cell['name']}.{pin} is {value} (X or Z)"
            out[pin] = int(value)
        return out

    @property
    def row(self) -> int:
        return row_index(self.values, self.inputs)


class StateModel:
    """The Liberty state group of one cell, stepped after every input change."""

    def __init__(self, cell: dict[str, Any]):
        self.cell = cell
        self.state: int | None = None
        self.clock_before: int | None = None

    def _table(self, key: str, row: int) -> int:
        table = self.cell[key]
        return 0 if table is None else table[row]

    def both_held(self, row: int) -> bool:
        return bool(self._table("clear", row) and self._table("preset", row))

    def step(self, row: int) -> None:
        clear, preset = self._table("clear", row), self._table("preset", row)
        clock = self._table("clock", row)
        if clear and preset:
            both = self.cell["both"]
            self.state = {"L": 0, "H": 1}.get(both, self.state)
        elif clear:
            self.state = 0
        elif preset:
            self.state = 1
        elif self.cell["kind"] == "ff":
            if clock and self.clock_before == 0:
                self.state = self.cell["data"][row]
        elif clock:
            self.state = self.cell["data"][row]
        self.clock_before = clock

    def expected(self) -> dict[str, int] | None:
        if self.state is None:
            return None
        row = (self.state << 1) | (1 - self.state)
        return {pin: table[row] for pin, table in self.cell["output_of_state"].items()}


class Checker:
    def __init__(self):
        self.compared = 0
        self.mismatches: list[str] = []

    def compare(self, cell: str, step: str, got: dict[str, int], want: dict[str, int]) -> None:
        self.compared += 1
        if got != want and len(self.mismatches) < 20:
            self.mismatches.append(f"{cell} {step}: model {got}, Liberty {want}")
        elif got != want:
            self.mismatches.append("...")

    def assert_clean(self) -> None:
        assert not self.mismatches, "cell models differ from the Liberty:\n" + "\n".join(self.mismatches)


@cocotb.test()
async def combinational_cells_equal_their_liberty_functions(dut):
    config = load_config()
    cells = [CellDriver(dut, c) for c in config["cells"] if "kind" not in c]
    checker = Checker()
    rng = random.Random(config["seed"])
    widest = max(len(c.inputs) for c in cells)
    orders = [list(range(2 ** widest)), rng.sample(range(2 ** widest), 2 ** widest)]
    for order in orders:
        for row in order:
            for cell in cells:
                n = len(cell.inputs)
                r = row % (2 ** n)
                cell.drive({pin: (r >> (n - 1 - i)) & 1 for i, pin in enumerate(cell.inputs)})
            await Timer(STEP_NS, "ns")
            for cell in cells:
                want = {pin: table[cell.row] for pin, table in cell.cell["tables"].items()}
                checker.compare(cell.cell["name"], f"inputs {cell.values}", cell.read(), want)
    checker.assert_clean()
    covered = sum(2 ** len(c.inputs) for c in cells)
    assert checker.compared == len(orders) * len(cells) * 2 ** widest
    dut._log.info("%d combinational cells, %d input combinations, every one equal", len(cells), covered)


def _next_values(rng: random.Random, driver: CellDriver, model: StateModel) -> dict[str, int]:
    cell = driver.cell
    values = dict(driver.values)
    clocks = cell["clock_inputs"]
    if rng.random() < 0.5:
        pin = rng.choice(clocks)
        values[pin] ^= 1
        return values
    others = [p for p in driver.inputs if p not in clocks]
    held = model.both_held(driver.row)
    while True:
        trial = dict(values)
        for pin in others:
            trial[pin] = rng.getrandbits(1)
        row = row_index(trial, driver.inputs)
        released = cell["clear"] and cell["preset"] and (cell["clear"][row] or cell["preset"][row])
        # the one sequence the models leave out: one of clear and preset released, the other held
        if not (held and released and not model.both_held(row)):
            return trial


@cocotb.test()
async def sequential_cells_follow_their_liberty_state_groups(dut):
    config = load_config()
    rng = random.Random(config["seed"] + 1)
    pairs = [(CellDriver(dut, c), StateModel(c)) for c in config["cells"] if "kind" in c]
    checker = Checker()
    for driver, model in pairs:
        driver.drive({pin: 1 for pin in driver.inputs})
        model.clock_before = model._table("clock", driver.row)
    await Timer(STEP_NS, "ns")
    events = {driver.cell["name"]: 0 for driver, _ in pairs}
    for step in range(config["sequential_steps"]):
        for driver, model in pairs:
            before = model.state
            driver.drive(_next_values(rng, driver, model))
            model.step(driver.row)
            events[driver.cell["name"]] += model.state is not None and before != model.state
        await Timer(STEP_NS, "ns")
        for driver, model in pairs:
            want = model.expected()
            if want is not None:
                checker.compare(driver.cell["name"], f"step {step}, inputs {driver.values}", driver.read(),
                                want)
    checker.assert_clean()
    assert all(events.values()), f"a cell never changed state: {events}"
    dut._log.info("%d sequential cells, %d steps, %d comparisons, every one equal; state changes %s",
                  len(pairs), config["sequential_steps"], checker.compared, events)


class ChainModel:
    """A chain of one flip-flop cell: each stage's data input is the previous stage's output."""

    def __init__(self, cell: dict[str, Any]):
        self.cell = cell
        self.chain = cell["chain"]
        self.stages = [StateModel(cell) for _ in self.chain["outputs"]]

    def step(self, values: dict[str, int]) -> None:
        before = [m.state for m in self.stages]
        for k, model in enumerate(self.stages):
            data = values[self.chain["data"]] if k == 0 else before[k - 1]
            outcomes = []
            for d in ((0, 1) if data is None else (data,)):
                trial = StateModel(self.cell)
                trial.state, trial.clock_before = model.state, model.clock_before
                trial.step(row_index({**values, self.chain["data"]: d}, self.cell["inputs"]))
                outcomes.append(trial)
            model.clock_before = outcomes[0].clock_before
            # an unknown data input leaves the stage unknown only if it mattered
            model.state = outcomes[0].state if len({o.state for o in outcomes}) == 1 else None

    def expected(self) -> list[int | None]:
        pin = self.chain["output"]
        return [None if m.expected() is None else m.expected()[pin] for m in self.stages]


@cocotb.test()
async def flip_flop_chains_shift_one_stage_per_edge(dut):
    """Q of one copy into D of the next, one clock: a model whose D is read after another
    copy's Q changed in the same edge (an ordering race) shifts two stages at once and fails."""
    config = load_config()
    rng = random.Random(config["seed"] + 2)
    cells = [c for c in config["cells"] if "chain" in c]
    assert cells, "no flip-flop cell to chain"
    drivers = []
    for cell in cells:
        chained = {**cell, "ports": {**cell["chain"]["inputs"]}, "outputs": []}
        drivers.append((CellDriver(dut, chained), ChainModel(cell),
                        [getattr(dut, port) for port in cell["chain"]["outputs"]]))
    for driver, chain, _ in drivers:
        driver.drive({pin: 1 for pin in driver.inputs})
        for m in chain.stages:
            m.clock_before = m._table("clock", driver.row)
    await Timer(STEP_NS, "ns")
    checker = Checker()
    for step in range(config["sequential_steps"]):
        for driver, chain, _ in drivers:
            driver.drive(_next_values(rng, driver, chain.stages[0]))
            chain.step(driver.values)
        await Timer(STEP_NS, "ns")
        for driver, chain, outputs in drivers:
            got, want = [], []
            for handle, expected in zip(outputs, chain.expected(), strict=True):
                assert handle.value.is_resolvable, f"{driver.cell['name']} chain: X or Z"
                if expected is not None:
                    got.append(int(handle.value))
                    want.append(expected)
            checker.compare(driver.cell["name"] + " chain", f"step {step}", {"Q": got}, {"Q": want})
    checker.assert_clean()
    dut._log.info("%d flip-flop chains of %d, %d steps, every stage equal", len(drivers),
                  len(cells[0]["chain"]["outputs"]), config["sequential_steps"])


@cocotb.test(expect_fail=True)
async def the_checker_fails_on_a_wrong_reference(dut):
    """A reference table with one row flipped must fail the comparison: the checker can fail."""
    config = load_config()
    cell = next(c for c in config["cells"] if "kind" not in c)
    driver = CellDriver(dut, cell)
    pin = cell["outputs"][0]
    wrong = list(cell["tables"][pin])
    wrong[0] ^= 1
    driver.drive({p: 0 for p in driver.inputs})
    await Timer(STEP_NS, "ns")
    checker = Checker()
    checker.compare(cell["name"], "row 0", driver.read(), {pin: wrong[0]})
    checker.assert_clean()
