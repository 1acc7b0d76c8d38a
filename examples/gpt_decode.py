"""One decode step of a GPT-2-style decoder: the next token's hidden state
through every layer, attending over a KV cache that comes in as inputs.

    wafer run examples/gpt_decode.py --target wse --machine wse2 --mode pipelined

The step's matrix-vector products read each weight once per token: on the
wafer they stay where they were loaded (pipelined), and each is spread over
its rectangle with the reduction along the rows of PEs, as in WaferLLM's
MeshGEMV. One sequence decodes one token per step's latency; the pipeline's
rate is that of as many sequences as it has stages.
"""

import torch
from torch import nn

CALL_UNIT = "token"  # one call decodes one token: `wafer run` reports tokens/s


class DecoderLayer(nn.Module):
    """GPT-2's block for one new token: pre-norm attention over the cache plus
    the new key and value, then the tanh-GELU MLP, with residuals."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.up, self.down = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x, past_k, past_v):
        batch, tokens, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(width, 2)
        q, k, v = (t.reshape(batch, tokens, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        k, v = torch.cat([past_k, k], 2), torch.cat([past_v, v], 2)
        attended = nn.functional.scaled_dot_product_attention(q, k, v)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, tokens, width))
        return x + self.down(nn.functional.gelu(self.up(self.norm2(x)), approximate="tanh")), k, v


class GptDecoder(nn.Module):
    """`layers` decoder layers and the final norm; the caches are stacked per layer."""

    def __init__(self, layers: int = 4, width: int = 768, heads: int = 12):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(width, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, x, past_k, past_v):
        keys, values = [], []
        for layer, k, v in zip(self.layers, past_k, past_v):
            x, k, v = layer(x, k, v)
            keys.append(k)
            values.append(v)
        return self.norm(x), torch.stack(keys), torch.stack(values)


def decode_inputs(layers: int = 4, width: int = 768, heads: int = 12, context: int = 127, seed: int = 0):
    """A new token's hidden state and a KV cache of `context` earlier tokens."""
    generator = torch.Generator().manual_seed(seed)
    cache = (layers, 1, heads, context, width // heads)
    return (torch.randn(1, 1, width, generator=generator), torch.randn(*cache, generator=generator),
            torch.randn(*cache, generator=generator))


def make_model():
    torch.manual_seed(0)
    return GptDecoder().eval()


def example_inputs():
    return decode_inputs()
