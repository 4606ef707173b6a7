"""Layer names in the core: suggestions, aliases, models that list a selection, the layers table."""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.console import Console

from dreamjax.ascent.objectives import build_objective
from dreamjax.cli.layers import layer_table
from dreamjax.errors import UnknownNameError, nearest
from dreamjax.model import LayerInfo, every_layer, find_layer
from tiny_model import tiny_model

# Value names as torch.onnx.export (TorchScript) writes them for torchvision's GoogLeNet.
GOOGLENET_VALUES = [
    f"/inception{block}/{part}"
    for block in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    for part in ("branch1/conv/Conv_output_0", "branch1/Relu_output_0", "branch2/branch2.0/Relu_output_0",
                 "branch4/branch4.1/conv/Conv_output_0", "Concat_output_0")
]


def test_a_scope_finds_its_values_before_its_neighbours():
    near = nearest("inception4c", GOOGLENET_VALUES)
    assert near[0] == "/inception4c/Concat_output_0"
    assert all(n.startswith("/inception4c/") for n in near)
    assert nearest("inception4c/branch4", GOOGLENET_VALUES)[0] == "/inception4c/branch4/branch4.1/conv/Conv_output_0"


def test_plain_names_rank_as_before():
    blocks = ["stem", *(f"blocks.{i}" for i in range(16)), "head", "logits"]
    assert nearest("blocks.16", blocks) == ["blocks.1", "blocks.6", "blocks.10"]
    assert nearest("block.5", blocks)[0] == "blocks.5"
    assert nearest("stroke", ["strokes", "ornaments", "eyes"]) == ["strokes"]
    assert nearest("zzz", blocks) == []


def test_listed_names_come_before_pooled_ones_unless_clearly_further():
    listed, values = ["pool1", "pool2"], ["inception_4b/pool", "inception_4c/pool"]
    assert nearest("pool", listed, pools=[values]) == ["pool1", "pool2", "inception_4b/pool"]
    assert nearest("inception_4c/poo", listed, pools=[values])[0] == "inception_4c/pool"


@dataclasses.dataclass(eq=False)
class SelectingModel:
    """The tiny model, listing two layers and resolving more (as an ONNX model does)."""

    base: object
    name: str = "selecting"
    layers: tuple = (LayerInfo("stage1", 16, (16, 16)), LayerInfo("stage2", 16, (8, 8)))
    all_layers: tuple = (
        LayerInfo("conv0", 8, (32, 32), "first conv", ("stage0", "stage0.conv")),
        LayerInfo("conv1", 16, (16, 16), "", ("stage1",)),
        LayerInfo("/very/long/exported/value/name/that/cannot/fit/in/one/column/conv2_output_0", 16, (8, 8), "", ("stage2",)),
        LayerInfo("logits", 4),
    )

    def __getattr__(self, attribute):
        return getattr(self.base, attribute)


def test_find_layer_looks_in_listed_layers_every_layer_and_aliases(tiny):
    model = SelectingModel(tiny)
    assert find_layer(model, "stage1") is model.layers[0]
    assert find_layer(model, "conv1") is model.all_layers[1]
    assert find_layer(model, "stage0.conv") is model.all_layers[0]
    assert every_layer(model) == model.all_layers and every_layer(tiny) == tiny.layers
    with pytest.raises(UnknownNameError) as err:
        find_layer(model, "stage")
    assert err.value.suggestions == ["stage1", "stage2", "stage0"]
    objective = build_objective(model, "stage0[7],conv1:0.5")
    assert objective.describe() == "stage0[7],conv1:0.5"
    with pytest.raises(UnknownNameError):
        find_layer(tiny_model(), "stage1")


def _names(text: str) -> list[str]:
    """The layer column of a rendered table, folded lines joined back."""
    names: list[str] = []
    for line in text.splitlines():
        cells = line.split("│")
        if len(cells) > 2:
            if cells[1].strip():
                names.append(cells[2].strip())
            else:
                names[-1] += cells[2].strip()
    return names


def _render(table, width: int) -> str:
    console = Console(width=width, record=True, file=io.StringIO())
    console.print(table)
    return console.export_text()


def test_the_table_folds_long_names_at_80_columns(tiny):
    model = SelectingModel(tiny)
    for everything in (False, True):
        text = _render(layer_table(model, everything), 80)
        assert max(map(len, text.splitlines())) <= 80 and "…" not in text
        assert _names(text) == [layer.name for layer in (every_layer(model) if everything else model.layers)]
    assert "--all lists all 4 layers" in _render(layer_table(model), 80)
    wide = _render(layer_table(model, everything=True), 200)
    assert "first conv (= stage0, stage0.conv)" in wide and "default (= stage2)" in wide
