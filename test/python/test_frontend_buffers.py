"""The front end and a model's state: buffers, parameters and inputs.

Buffers registered with `persistent=False` (BERT's `position_ids`) import:
torch.export keeps them out of the state dict, in the program's constants,
where torch-mlir's frozen import did not look for buffers. A model that writes
its own state is refused: its exported function returns the new state ahead of
the model's output, and eager carries the state into the next call.
"""

import pytest
import torch
from torch_reference import compile_checked

import wafer


class NonPersistentScale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.linspace(-2.0, 2.0, 8), persistent=False)

    def forward(self, x):
        return x * self.scale


class PositionEmbedding(torch.nn.Module):
    """BERT's embeddings: int64 position ids sliced to the sequence, looked up in a table."""

    def __init__(self, vocab=50, max_positions=32, dim=16):
        super().__init__()
        self.words = torch.nn.Embedding(vocab, dim)
        self.positions = torch.nn.Embedding(max_positions, dim)
        self.register_buffer("position_ids", torch.arange(max_positions).expand(1, -1), persistent=False)
        self.register_buffer("gain", torch.linspace(0.5, 1.5, dim))

    def forward(self, ids):
        position_ids = self.position_ids[:, : ids.shape[1]]
        return (self.words(ids) + self.positions(position_ids)) * self.gain


class PositionEmbeddingWritesInPlace(PositionEmbedding):
    """The exported graph mutates, so torch decomposes and functionalizes it before import."""

    def forward(self, ids):
        y = super().forward(ids)
        y[:, 0] = 0.0
        return y


@pytest.mark.parametrize("model, inputs", [
    (NonPersistentScale(), (torch.randn(3, 8),)),
    (PositionEmbedding(), (torch.randint(0, 50, (2, 10)),)),
    (PositionEmbeddingWritesInPlace(), (torch.randint(0, 50, (2, 10)),)),
], ids=["non-persistent", "persistent-and-non-persistent", "torch-decompositions"])
def test_non_persistent_buffers_compile_and_match_pytorch(model, inputs):
    compile_checked(model.eval(), inputs)


class LinearThenDiff(torch.nn.Module):
    """torch.diff reaches linalg only through torch's decompositions: the second import."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(5, 6)

    def forward(self, x):
        return torch.diff(self.linear(x), dim=1)


def test_a_model_with_weights_imports_through_torch_decompositions():
    torch.manual_seed(0)
    compile_checked(LinearThenDiff(), (torch.randn(3, 5),))


class Accumulates(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(4))

    def forward(self, x):
        self.total.add_(x)
        return self.total * 2


class ScalesItsInput(torch.nn.Module):
    def forward(self, x):
        x.mul_(2)
        return x + 1


@pytest.mark.parametrize("model, written", [
    (Accumulates(), "buffer 'total'"),
    (torch.nn.Sequential(torch.nn.BatchNorm1d(4)).train(),
     "buffer '0.running_mean', buffer '0.running_var', buffer '0.num_batches_tracked'"),
    (ScalesItsInput(), "input 'x'"),
], ids=["buffer", "batch-norm-training", "input"])
def test_a_model_that_writes_its_state_is_refused(model, written):
    with pytest.raises(wafer.WaferError) as info:
        wafer.compile(model, (torch.randn(3, 4) if "running" in written else torch.ones(4),))
    assert str(info.value) == (f"error: the model writes its {written} in place; Wafer compiles a model without "
                               "state between calls (for batch norm, call model.eval() first)")


def test_batch_norm_in_eval_mode_matches_pytorch():
    torch.manual_seed(0)
    compile_checked(torch.nn.Sequential(torch.nn.BatchNorm1d(4)).eval(), (torch.randn(3, 4),))


class RelativePositionBias(torch.nn.Module):
    """Swin's attention bias: a parameter table indexed by a buffer of positions,
    `aten.index.Tensor(table, [index])`, whose list operand holds the buffer."""

    def __init__(self, window=3, heads=2, persistent=True):
        super().__init__()
        self.table = torch.nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
        self.register_buffer("index", relative[..., 0] * (2 * window - 1) + relative[..., 1], persistent=persistent)
        self.cls = torch.nn.Parameter(torch.randn(1, heads, window * window))

    def forward(self, scores):
        bias = self.table[self.index].permute(2, 0, 1)  # heads, tokens, tokens
        return torch.cat([self.cls.expand(scores.shape[0], -1, -1)[:, :, None], scores + bias], dim=2)


@pytest.mark.parametrize("persistent", [True, False])
def test_state_inside_a_list_operand_imports(persistent):
    """torch-mlir puts each state tensor itself where its placeholder was; in a
    list operand that was refused ("Heterogeneous lists are not supported")."""
    torch.manual_seed(0)
    compile_checked(RelativePositionBias(persistent=persistent).eval(), (torch.randn(2, 2, 9, 9),))


class ConcatParameter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.head = torch.nn.Parameter(torch.randn(1, 4))

    def forward(self, x):
        return torch.cat([self.head, x]) * 2.0


def test_a_parameter_concatenated_as_it_is_imports():
    torch.manual_seed(0)
    compile_checked(ConcatParameter(), (torch.randn(3, 4),))
