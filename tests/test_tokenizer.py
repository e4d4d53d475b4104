"""MotionTokenizer (VQ-VAE) unit tests on a tiny config: shapes, losses, checkpoints, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from motiongpt.errors import CheckpointError, ConfigError, InvalidMotionError
from motiongpt.tokenizer.config import TrainConfig, VQConfig
from motiongpt.tokenizer.model import MotionTokenizer, count_parameters
from motiongpt.tokenizer.quantizer import perplexity
from motiongpt.tokenizer.tokenize import length_buckets, load_tokens, save_tokens

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs" / "tokenizer").glob("*.yaml"))
B, T, F = 2, 16, 263


def tiny_config(**changes) -> VQConfig:
    return VQConfig(**{"width": 32, "code_dim": 32, "codebook_size": 16, "depth": 2, **changes})


@pytest.fixture
def model() -> MotionTokenizer:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=F).astype(np.float32), rng.uniform(0.5, 2, size=F).astype(np.float32)
    return MotionTokenizer(tiny_config(), mean=mean, std=std)


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(B, T, F)


def test_forward_shapes_and_finite_losses(model: MotionTokenizer, x: torch.Tensor) -> None:
    out = model(x)
    assert out.recon.shape == (B, T, F)
    assert out.indices.shape == (B, T // 4) and out.indices.dtype == torch.int64
    for loss in (out.loss, out.recon_loss, out.vel_loss, out.commit_loss, out.perplexity):
        assert loss.ndim == 0 and torch.isfinite(loss)
    expected = out.recon_loss + 0.5 * out.vel_loss + 0.02 * out.commit_loss
    torch.testing.assert_close(out.loss, expected)


def test_encode_decode_round_trip_shapes(model: MotionTokenizer, x: torch.Tensor) -> None:
    model.eval()
    idx = model.encode(x)
    assert idx.shape == (B, T // 4)
    assert model.decode(idx).shape == x.shape
    # trailing frames beyond a multiple of 4 are dropped
    assert model.encode(torch.randn(B, 18, F)).shape == (B, 4)
    assert model.decode(model.encode(torch.randn(1, 7, F))).shape == (1, 4, F)


def test_encode_does_not_update_the_codebook(model: MotionTokenizer, x: torch.Tensor) -> None:
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.encode(x)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_eval_quantize_equals_lookup_from_indices(model: MotionTokenizer, x: torch.Tensor) -> None:
    model.eval()
    z = model._encode_latent(x)
    q = model.quantizer(z)
    torch.testing.assert_close(q.quantized, model.quantizer.lookup(q.indices))
    torch.testing.assert_close(q.quantized, model.quantizer.codebook[q.indices])
    with torch.no_grad():
        torch.testing.assert_close(model(x).recon, model.decode(model.encode(x)))


def test_save_load_gives_identical_outputs(model: MotionTokenizer, x: torch.Tensor, tmp_path: Path) -> None:
    model.train()
    model(x)  # move the EMA codebook away from its initial state
    model.eval()
    model.save_pretrained(tmp_path / "tok")
    assert sorted(p.name for p in (tmp_path / "tok").iterdir()) == ["config.yaml", "model.safetensors"]
    loaded = MotionTokenizer.from_pretrained(tmp_path / "tok")
    assert loaded.cfg == model.cfg
    torch.testing.assert_close(loaded.mean, model.mean)
    torch.testing.assert_close(loaded.std, model.std)
    assert torch.equal(loaded.encode(x), model.encode(x))
    assert torch.equal(loaded.decode(model.encode(x)), model.decode(model.encode(x)))
    raw = torch.randn(B, T, F)
    torch.testing.assert_close(loaded.denormalize(loaded.normalize(raw)), raw)


def test_from_pretrained_rejects_mismatched_or_missing(model: MotionTokenizer, tmp_path: Path) -> None:
    model.save_pretrained(tmp_path / "tok")
    tiny_config(width=48).to_yaml(tmp_path / "tok" / "config.yaml")
    with pytest.raises(CheckpointError, match=r"tensor 'decoder.0.bias' has shape \(32,\)"):
        MotionTokenizer.from_pretrained(tmp_path / "tok")
    with pytest.raises(CheckpointError, match="missing"):
        MotionTokenizer.from_pretrained(tmp_path / "nowhere")
    (tmp_path / "bad").mkdir()
    tiny_config().to_yaml(tmp_path / "bad" / "config.yaml")
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="safetensors"):
        MotionTokenizer.from_pretrained(tmp_path / "bad")


def test_one_optimizer_step_lowers_loss(model: MotionTokenizer, x: torch.Tensor) -> None:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(x)  # first batch moves the codebook; measure from here
    loss0 = model(x).loss
    opt.zero_grad()
    loss0.backward()
    opt.step()
    assert model(x).loss < loss0


def test_velocity_loss_modes() -> None:
    torch.manual_seed(0)
    target = torch.randn(1, 8, F)
    shifted = target + 1.0  # same frame differences, different values
    diff = MotionTokenizer(tiny_config(vel_mode="diff"))
    direct = MotionTokenizer(tiny_config(vel_mode="direct", vel_columns=(4, 67)))
    assert float(diff._velocity_loss(shifted, target)) == pytest.approx(0.0, abs=1e-6)
    assert float(direct._velocity_loss(shifted, target)) == pytest.approx(0.5)  # smooth-L1 of 1.0


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_parses(path: Path) -> None:
    cfg = TrainConfig.from_yaml(path)
    assert cfg.window % cfg.model.downsample_factor == 0
    assert isinstance(cfg.lr, float)


def test_base_preset_has_the_paper_parameter_count() -> None:
    cfg = TrainConfig.from_yaml(Path(CONFIGS[0]).with_name("base.yaml"))
    n = count_parameters(MotionTokenizer(cfg.model))
    assert n == 19_436_807  # MotionGPT/T2M-GPT: 19.4 M


def test_config_validation_and_overrides() -> None:
    cfg = TrainConfig(model=tiny_config(), window=16)
    assert cfg.with_overrides(["lr=1e-4", "model.width=64"]).lr == 1e-4
    assert cfg.with_overrides(["model.width=64"]).model.width == 64
    with pytest.raises(ConfigError, match="window"):
        TrainConfig(model=tiny_config(), window=18)
    with pytest.raises(ConfigError, match="vel_mode"):
        tiny_config(vel_mode="fast")
    with pytest.raises(ConfigError, match="vel_columns"):
        tiny_config(vel_columns=(4, 300))
    with pytest.raises(ConfigError, match="unknown keys"):
        VQConfig.from_dict({"widht": 3})
    with pytest.raises(ConfigError, match="lr"):
        cfg.with_overrides(["lr=fast"])


def test_bad_inputs_raise_clear_errors(model: MotionTokenizer) -> None:
    with pytest.raises(InvalidMotionError, match="at least 4"):
        model(torch.randn(1, 3, F))
    with pytest.raises(InvalidMotionError, match="at least 4"):
        model.encode(torch.randn(1, 3, F))
    x = torch.randn(1, 8, F)
    x[0, 2, 5] = float("nan")
    with pytest.raises(InvalidMotionError, match="NaN"):
        model.encode(x)
    with pytest.raises(InvalidMotionError, match=r"\(B, T, 263\)"):
        model.encode(torch.randn(8, F))
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.decode(torch.tensor([[0, 16]]))
    with pytest.raises(ValueError, match="integers"):
        model.decode(torch.zeros(1, 2))
    assert issubclass(InvalidMotionError, ValueError)


def test_perplexity() -> None:
    assert float(perplexity(torch.arange(8), 8)) == pytest.approx(8.0)
    assert float(perplexity(torch.zeros(5, dtype=torch.long), 8)) == pytest.approx(1.0)


def test_length_buckets_group_equal_token_lengths() -> None:
    batches = list(length_buckets([8, 9, 3, 16, 11, 8], unit=4, batch_size=2))
    assert batches == [[0, 1], [4, 5], [3]]  # 3 frames is too short; 8, 9, 11 -> 8 frames


def test_token_file_round_trip(tmp_path: Path) -> None:
    tokens = {"a": np.array([1, 2, 3]), "b#0#2": np.array([511]), "c": np.array([0, 0])}
    save_tokens(tmp_path / "train.npz", tokens, codebook_size=512)
    back = load_tokens(tmp_path / "train.npz")
    assert list(back) == list(tokens)
    for k in tokens:
        assert back[k].dtype == np.int16 and np.array_equal(back[k], tokens[k])


def test_token_file_records_frames_per_token(tmp_path: Path) -> None:
    """The LM reads a motion's length from its token file, so the file says how many frames a token is."""
    from motiongpt.tokenizer.tokenize import read_frames_per_token

    save_tokens(tmp_path / "eight.npz", {"a": np.array([1, 2])}, codebook_size=16, frames_per_token=8)
    assert read_frames_per_token(tmp_path / "eight.npz") == 8
    np.savez(tmp_path / "old.npz", names=np.array(["a"]), offsets=np.array([0, 1]),
             tokens=np.array([3], np.int16), codebook_size=np.int64(16))  # fmt: skip
    assert read_frames_per_token(tmp_path / "old.npz") == 4  # written before the field: 4-frame tokenizers


def test_each_token_sees_only_its_own_stretch_of_time(model: MotionTokenizer) -> None:
    """The layout is (B, T, F) at the boundary and time stays time inside: changing frames 192.. of a
    256-frame motion leaves the latents, tokens and reconstruction of the first half untouched (the conv
    stacks see about +-100 frames) and changes those of the end. A reshape where a transpose belongs
    mixes time and channels, and the change then shows up at the start."""
    model.eval()
    torch.manual_seed(2)
    t = torch.arange(256.0)[None, :, None]
    x = torch.sin(t / 7 + torch.linspace(0, 3, F)) * torch.linspace(0.5, 2, F)  # (1, 256, F) smooth
    y = x.clone()
    y[:, 192:] += torch.randn(1, 64, F)
    zx, zy = model._encode_latent(x), model._encode_latent(y)  # (1, 64, D)
    torch.testing.assert_close(zx[:, :32], zy[:, :32], rtol=0, atol=1e-6)
    assert (zx[:, 48:] - zy[:, 48:]).abs().amax(-1).min() > 1e-3  # every late token changed
    assert torch.equal(model.encode(x)[:, :32], model.encode(y)[:, :32])
    rx, ry = model(x).recon, model(y).recon  # (1, 256, F)
    torch.testing.assert_close(rx[:, :64], ry[:, :64], rtol=0, atol=1e-6)
    # the decoder alone: a different last token changes only the last frames
    idx = model.encode(x)
    other = idx.clone()
    other[0, -1] = (idx[0, -1] + 1) % model.cfg.codebook_size
    dx, do = model.decode(idx), model.decode(other)  # (1, 256, F)
    torch.testing.assert_close(dx[:, :128], do[:, :128], rtol=0, atol=1e-6)
    assert (dx[:, -4:] - do[:, -4:]).abs().amax() > 1e-4
