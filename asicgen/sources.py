"""Where a design and its weights come from: a training directory, a QKeras model, a file.

* a training output directory (`asicgen train --out DIR`): the architecture is
  read from the QKeras model `model/encoder.h5` and the weights from
  `weights.json`; the two must agree;
* a QKeras model file (`.h5`): architecture and weights from the model;
* a `weights.json` file: architecture and weights from the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asicgen.core.design import Design
from asicgen.core.raw import ConfigError
from asicgen.core.weights import WeightSet, load_weights_file
from training.qkeras_import import import_qkeras, load_qkeras_model


@dataclass(frozen=True)
class TrainedNetwork:
    weights: WeightSet
    region: str | None
    elinks: int | None
    source: Path

    @property
    def design(self) -> Design:
        return self.weights.design


def load_network(path: Path, ii: int = 1) -> TrainedNetwork:
    path = Path(path)
    if path.is_dir():
        return _from_training_dir(path, ii)
    if path.suffix == ".h5":
        return _from_model(path, ii)
    if path.suffix == ".json":
        wf = load_weights_file(path)
        weights = WeightSet.from_arrays(wf.weights.design.with_ii(ii), wf.weights.tensors, str(path))
        return TrainedNetwork(weights, wf.region, wf.elinks, path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    raise ConfigError(f"{path}: expected a training directory, a QKeras .h5 model or a weights .json file")


def _from_model(path: Path, ii: int) -> TrainedNetwork:

    imported = import_qkeras(load_qkeras_model(path), ii)
    return TrainedNetwork(imported.weights, None, None, path)


def _from_training_dir(path: Path, ii: int) -> TrainedNetwork:
    weights_path = path / "weights.json"
    model_path = path / "model" / "encoder.h5"
    if not weights_path.is_file():
        raise ConfigError(f"{path}: no weights.json here; is it the output directory of `asicgen train`?")
    if model_path.is_file():
        from_model = _from_model(model_path, ii)
        wf = load_weights_file(weights_path, from_model.design)
        if not wf.weights.equals(from_model.weights):
            raise ConfigError(f"{weights_path}: the weights differ from the QKeras model {model_path}")
        return TrainedNetwork(from_model.weights, wf.region, wf.elinks, path)
    wf = load_weights_file(weights_path)
    weights = WeightSet.from_arrays(wf.weights.design.with_ii(ii), wf.weights.tensors, str(weights_path))
    return TrainedNetwork(weights, wf.region, wf.elinks, path)
