"""`torch.compile(model, backend="wafer")`: Dynamo's graphs compiled by Wafer, checked against eager."""

import warnings

import pytest
import torch

from wafer import dynamo_backend, frontend
from wafer.examples.models import EXAMPLES
from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # transformers imports torchvision when it is installed


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.fixture
def compiles(monkeypatch):
    """(options, compiled model) of each graph Wafer compiles, in order."""
    calls, original = [], frontend.compile

    def recorded(model, inputs, **options):
        calls.append((options, original(model, inputs, **options)))
        return calls[-1][1]

    monkeypatch.setattr(frontend, "compile", recorded)
    return calls


def eager_warnings(run) -> list[str]:
    """The messages of the warnings Wafer gave while `run()` ran."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(w.message) for w in caught if str(w.message).startswith("wafer:")]


def test_registered_as_a_dynamo_backend():
    assert "wafer" in torch._dynamo.list_backends()
    assert torch._dynamo.lookup_backend("wafer") is dynamo_backend.backend


@pytest.mark.parametrize("name", ["mlp", "lenet", "resnet-block"])
def test_bundled_examples_match_eager(name, compiles):
    model, inputs = EXAMPLES[name].build(batch=2)
    with torch.no_grad():
        got = torch.compile(model, backend="wafer")(*inputs)
        torch.testing.assert_close(got, model(*inputs), rtol=1e-4, atol=1e-4)
    assert len(compiles) == 1


def test_transformer_example_without_the_fused_fast_path(compiles):
    """Under no_grad, nn.TransformerEncoderLayer's eval fast path is one fused op
    that Wafer cannot lower, and Dynamo traces what runs; without it, it compiles."""
    model, inputs = EXAMPLES["transformer"].build(batch=1)
    compiled = torch.compile(model, backend="wafer")
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-4)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    assert len(compiles) == 1


def test_hugging_face_gpt2_matches_eager(compiles):
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=64, n_head=2, vocab_size=100, n_positions=16,
                                     bos_token_id=0, eos_token_id=0)
    model = transformers.GPT2LMHeadModel(config).eval()
    ids = torch.randint(0, 100, (1, 16))
    with torch.no_grad():
        got = torch.compile(model, backend="wafer")(input_ids=ids).logits
        torch.testing.assert_close(got, model(input_ids=ids).logits, rtol=1e-4, atol=1e-4)
    assert len(compiles) == 1


class BreaksTwice(torch.nn.Module):
    """A print and a branch on data: Dynamo hands over three graphs."""

    def __init__(self):
        super().__init__()
        self.first, self.second = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)

    def forward(self, x):
        y = torch.relu(self.first(x))
        print("between graphs")
        if x.sum() > 0:
            y = y * 2
        return self.second(y)


def test_each_graph_of_a_graph_break_is_compiled(compiles, capsys):
    model, x = BreaksTwice(), torch.rand(4, 8)
    compiled = torch.compile(model, backend="wafer")
    with torch.no_grad():
        for inputs in (x, -x):  # -x takes the other branch: one more graph
            torch.testing.assert_close(compiled(inputs), model(inputs))
    assert capsys.readouterr().out.count("between graphs") == 4
    assert len(compiles) == 4


def linear_relu() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU()).eval()


def test_new_shape_recompiles_and_a_retraced_graph_reuses_its_executable(compiles):
    model = linear_relu()
    compiled = torch.compile(model, backend="wafer")
    with torch.no_grad():
        for batch in (2, 2, 3, 5, 3):  # 3 and 5 reach one dynamic Dynamo graph, specialized per size
            x = torch.randn(batch, 8)
            torch.testing.assert_close(compiled(x), model(x))
        assert len(compiles) == 3
        torch._dynamo.reset()  # Dynamo traces the same graph again
        torch.compile(model, backend="wafer")(torch.randn(2, 8))
        assert len(compiles) == 3
        other = linear_relu()  # the same graph and shapes, other weights
        torch.compile(other, backend="wafer")(torch.randn(2, 8))
        assert len(compiles) == 4


def test_weights_changed_in_place_recompile(compiles):
    model, x = linear_relu(), torch.randn(2, 8)
    compiled = torch.compile(model, backend="wafer")
    with torch.no_grad():
        compiled(x)
        model[0].weight.mul_(-1)
        torch.testing.assert_close(compiled(x), model(x))
    assert len(compiles) == 2


class BesselJ0(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)

    def forward(self, x):
        return torch.special.bessel_j0(self.linear(x))


def test_unlowerable_op_runs_eagerly_with_one_warning():
    model, x = BesselJ0(), torch.randn(4, 8)
    compiled = torch.compile(model, backend="wafer")

    def run_three_times():
        with torch.no_grad():
            for _ in range(3):
                torch.testing.assert_close(compiled(x), model(x))

    assert eager_warnings(run_three_times) == [
        "wafer: running a torch.compile graph eagerly: the model uses torch.aten.special_bessel_j0, "
        "which Wafer cannot lower"]


class LinearAndSize(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(8, 8)

    def forward(self, x):
        return self.linear(x), x.shape[0] * 3


def test_graph_returning_a_size_matches_eager_with_at_most_one_warning():
    """With dynamic shapes Dynamo's graph returns the size: compiled or eager, never an error."""
    model = LinearAndSize()
    compiled = torch.compile(model, backend="wafer")

    def run_three_sizes():
        with torch.no_grad():
            for batch in (2, 4, 5):
                x = torch.randn(batch, 8)
                torch.testing.assert_close(compiled(x), model(x))

    assert len(eager_warnings(run_three_sizes)) <= 1


def test_graph_needing_gradients_runs_eagerly(compiles):
    model, x = linear_relu(), torch.randn(2, 8)
    compiled = torch.compile(model, backend="wafer")
    outputs = []
    messages = eager_warnings(lambda: outputs.append(compiled(x)))
    assert len(messages) == 1 and "requires grad" in messages[0]
    outputs[0].sum().backward()
    assert model[0].weight.grad is not None and not compiles


def test_options_reach_the_cpu_pipeline(compiles):
    model, x = linear_relu(), torch.randn(8, 8)
    options = {"threads": 1, "register_tile": (4, 16)}
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model, backend="wafer", options=options)(x), model(x))
    [(passed, compiled)] = compiles
    assert passed == {"target": "cpu", **options}
    assert "register block 4x16" in compiled.compile_report.table()


def test_unknown_option_runs_eagerly_with_a_warning():
    model, x = linear_relu(), torch.randn(2, 8)
    compiled = torch.compile(model, backend="wafer", options={"bogus": 1})
    with torch.no_grad():
        messages = eager_warnings(lambda: torch.testing.assert_close(compiled(x), model(x)))
    assert len(messages) == 1
    assert messages[0].startswith("wafer: running a torch.compile graph eagerly: pipeline 'cpu' has no option 'bogus'")
