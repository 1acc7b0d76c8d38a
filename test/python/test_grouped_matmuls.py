"""Grouped matrix products (wafer/grouped_matmuls.py), a mixture of experts' FFNs, against PyTorch.

torch-mlir lowers neither the grouped product nor the histc that counts the
rows of each expert, so Hugging Face's mixtures of experts were refused. The
routing is data: a program compiled for one routing must serve any other.
"""

import pytest
import torch

from wafer.torchvision_schemas import declare_torchvision_schemas

declare_torchvision_schemas()  # transformers imports torchvision when it is installed
import transformers  # noqa: E402
import transformers.integrations.moe  # noqa: E402,F401  (registers torch.ops.transformers.grouped_mm_fallback)

import wafer  # noqa: E402


class SortedExperts(torch.nn.Module):
    """Rows sorted by expert, counted per expert, each times its expert's matrix:
    Hugging Face's grouped path. An expert id past the last (a sentinel) falls
    outside histc's range: its rows, sorted to the end, come out zero."""

    def __init__(self, experts: int, depth: int = 16, width: int = 8):
        super().__init__()
        self.experts = experts
        self.weight = torch.nn.Parameter(torch.randn(experts, depth, width))

    def forward(self, x, ids):
        sorted_ids, order = torch.sort(ids, stable=True)
        counts = torch.histc(sorted_ids.float(), bins=self.experts, min=0, max=self.experts - 1)
        ends = torch.cumsum(counts, 0, dtype=torch.int32)
        return torch.ops.transformers.grouped_mm_fallback(x[order], self.weight, ends)


def _routings(rows: int, experts: int) -> list[torch.Tensor]:
    """Random routings, every row to the last expert, and one with rows past the last expert."""
    past = torch.randint(0, experts + 1, (rows,))
    past[0] = experts
    return [torch.randint(0, experts, (rows,)), torch.randint(0, experts, (rows,)),
            torch.full((rows,), experts - 1), past]


@pytest.mark.parametrize("rows,experts", [(10, 4), (7, 3), (32, 8), (3, 8), (64, 4), (9, 1), (40, 3)])
def test_any_routing_gives_each_row_its_experts_product(rows, experts):
    """One block and several (the last padded); more experts than rows; one expert."""
    torch.manual_seed(rows * experts)
    model = SortedExperts(experts).eval()
    x = torch.randn(rows, 16)
    routings = _routings(rows, experts)
    compiled = wafer.compile(model, (x, routings[0]), threads=1)
    with torch.no_grad():
        for ids in routings:
            torch.testing.assert_close(compiled(x, ids), model(x, ids), rtol=1e-4, atol=1e-4)


class LastHiddenState(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model(ids).last_hidden_state


@pytest.mark.parametrize("threads", [1, 2])
def test_mixtral_matches_eager_on_tokens_it_was_not_compiled_for(threads):
    """Top-2 of 4 experts routed by the tokens: other tokens, other routing."""
    torch.manual_seed(0)
    config = transformers.MixtralConfig(num_hidden_layers=1, hidden_size=32, intermediate_size=64,
                                        num_attention_heads=4, num_key_value_heads=2, vocab_size=100,
                                        num_local_experts=4, num_experts_per_tok=2, use_cache=False)
    model = transformers.MixtralModel(config).eval()
    tokens = [torch.randint(0, 100, (1, 16)) for _ in range(3)]
    compiled = wafer.compile(LastHiddenState(model).eval(), (tokens[0],), threads=threads)
    with torch.no_grad():
        for ids in tokens:
            torch.testing.assert_close(compiled(ids), model(ids).last_hidden_state, rtol=1e-4, atol=1e-4)
