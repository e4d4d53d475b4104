"""The codebook lookup outside training is this project's own (``nearest_codes``), so inference does not
import vector-quantize-pytorch; these tests hold it to the library: same codes, same initial state, same
random draws, and the library's module taking over for training."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from motiongpt.tokenizer.config import VQConfig
from motiongpt.tokenizer.model import MotionTokenizer
from motiongpt.tokenizer.quantizer import Quantizer, _vector_quantize, nearest_codes


def tiny_config(**changes) -> VQConfig:
    return VQConfig(**{"width": 32, "code_dim": 32, "codebook_size": 16, "depth": 2, **changes})


@pytest.mark.parametrize("seed", range(5))
def test_nearest_codes_are_the_librarys_eval_codes(seed: int) -> None:
    torch.manual_seed(seed)
    cfg = VQConfig(width=64, code_dim=64, codebook_size=128, depth=1)
    vq = _vector_quantize(cfg).eval()
    codebook = vq.codebook
    codebook[3] = codebook[7]  # a tie: the first index wins, as in the library
    z = torch.randn(4, 50, 64) * codebook.std() + codebook[torch.randint(0, 128, (4, 50))]
    z[0, 0] = codebook[7]
    quantized, indices, _ = vq(z)
    assert torch.equal(nearest_codes(z, codebook), indices)
    assert int(indices[0, 0]) == 3
    q = Quantizer(cfg).eval()
    q.vq.load_state_dict(vq.state_dict())
    out = q(z)
    assert torch.equal(out.indices, indices) and torch.equal(out.quantized, quantized)
    assert torch.equal(q.lookup(indices), vq.get_output_from_indices(indices))


@pytest.mark.parametrize("kmeans_init", [False, True])
def test_fresh_codebook_is_the_librarys_and_draws_the_same_random_numbers(kmeans_init: bool) -> None:
    cfg = tiny_config(kmeans_init=kmeans_init)
    torch.manual_seed(0)
    ours, after_ours = Quantizer(cfg).vq.state_dict(), torch.rand(3)
    torch.manual_seed(0)
    lib, after_lib = _vector_quantize(cfg).state_dict(), torch.rand(3)
    assert torch.equal(after_ours, after_lib)  # the decoder built next gets the same weights as before
    assert list(ours) == list(lib) or sorted(ours) == sorted(lib)
    for key, value in lib.items():
        assert torch.equal(ours[key], value), key


def test_training_builds_the_library_module_from_the_current_codebook() -> None:
    torch.manual_seed(0)
    model = MotionTokenizer(tiny_config())
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    before = torch.random.get_rng_state()
    vq = model.quantizer.ema_quantizer()
    assert torch.equal(torch.random.get_rng_state(), before)  # building it draws nothing
    assert type(vq).__name__ == "VectorQuantize" and model.quantizer.ema_quantizer() is vq
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    model.train()
    model(torch.randn(2, 16, 263))
    assert not torch.equal(model.quantizer.usage_counts, saved["quantizer.vq._codebook.cluster_size"][0])


def test_inference_does_not_import_vector_quantize_pytorch(tmp_path) -> None:
    torch.manual_seed(0)
    MotionTokenizer(tiny_config()).save_pretrained(tmp_path / "tok")
    code = (
        "import sys, torch\n"
        "from motiongpt.tokenizer.model import MotionTokenizer\n"
        f"m = MotionTokenizer.from_pretrained({str(tmp_path / 'tok')!r})\n"
        "idx = m.encode(torch.randn(1, 16, 263)); m.decode(idx)\n"
        "print(sorted(n for n in ('vector_quantize_pytorch', 'einx', 'torch._dynamo') if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
