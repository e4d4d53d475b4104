"""The T2M text/motion evaluator (Guo et al., CVPR 2022): two encoders into one 512-d space.

* Text: word vectors + a linear embedding of the 15-way POS one-hot -> bidirectional GRU -> MLP.
* Motion: normalised features without the 4 foot-contact channels -> ``MovementConvEncoder`` (two
  stride-2 1-D convolutions, 4x shorter) -> bidirectional GRU over ``T // 4`` steps -> MLP.

Module and parameter names match the official code, so the official checkpoint
``text_mot_match/model/finest.tar`` (state dicts under ``text_encoder``, ``movement_encoder`` and
``motion_encoder``) loads unchanged through :meth:`T2MEvaluator.from_official`. The official model uses
300-d GloVe; ours (``configs/evaluator.yaml``) uses 50-d GloVe with otherwise the same layers.

Shapes: B batch, T frames, F features (263), L text length (22 with sos/eos), W word dim, D = 512.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from motiongpt.config import YamlConfig, check_choice, check_numbers, preset
from motiongpt.errors import CheckpointError, ConfigError
from motiongpt.eval.word_vectors import N_POS, WordVectors
from motiongpt.motion.normalizer import NormalizerBuffers
from motiongpt.motion.skeleton import MAX_FRAMES

logger = logging.getLogger(__name__)

__all__ = ["EVALUATOR_PRESET", "EvaluatorConfig", "EvaluatorTrainConfig", "T2MEvaluator"]

LossName = Literal["infonce", "t2m"]
#: The CPU-size preset ``motiongpt train evaluator`` uses by default: the repository's
#: ``configs/evaluator.yaml``, installed with the package (``motiongpt/configs/`` links to it).
EVALUATOR_PRESET = preset("evaluator.yaml")


@dataclass(frozen=True)
class EvaluatorTrainConfig(YamlConfig):
    """How ``train_evaluator`` optimises the encoders (see ``evaluator_train.py``)."""

    loss: LossName = "infonce"
    margin: float = 10.0  # "t2m" contrastive loss: negatives pushed beyond this distance
    temperature: float = 0.1  # "infonce": logits are -distance / temperature
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.0
    max_steps: int = 3000
    max_minutes: float = 25.0
    val_every: int = 250
    seed: int = 1234
    num_threads: int = 1

    def __post_init__(self) -> None:
        check_choice("train.loss", self.loss, LossName)
        positive = ("batch_size", "max_steps", "val_every", "num_threads")
        floats = ("lr", "temperature", "margin", "max_minutes")
        check_numbers(self, positive, floats, positive=positive + floats, prefix="train.")
        if self.batch_size < 2:
            raise ConfigError(f"train.batch_size must be >= 2 (contrastive), got {self.batch_size}")


@dataclass(frozen=True)
class EvaluatorConfig(YamlConfig):
    """Dimensions of the evaluator. Defaults are the official T2M evaluator's except ``dim_word``."""

    word_vectors: str = "glove-6b-50d"  # or "official:<folder with our_vab_* files>"
    dim_word: int = 50  # 300 for the official checkpoint
    dim_pos: int = N_POS
    dim_text_hidden: int = 512
    feature_dim: int = 263
    drop_last: int = 4  # the foot-contact channels are not seen by the evaluator
    dim_movement_hidden: int = 512
    dim_movement_latent: int = 512
    dim_motion_hidden: int = 1024
    dim_coemb: int = 512
    unit_length: int = 4
    max_text_len: int = 20
    max_motion_len: int = MAX_FRAMES
    train: EvaluatorTrainConfig = field(default_factory=EvaluatorTrainConfig)

    def __post_init__(self) -> None:
        positive = ("dim_word", "dim_text_hidden", "feature_dim", "dim_movement_hidden",
                    "dim_movement_latent", "dim_motion_hidden", "dim_coemb", "max_text_len",
                    "max_motion_len")  # fmt: skip
        check_numbers(self, (*positive, "dim_pos", "drop_last", "unit_length"), positive=positive)
        if self.dim_pos != N_POS:
            raise ConfigError(f"dim_pos must be {N_POS} (T2M's POS categories), got {self.dim_pos}")
        if self.unit_length != 4:
            raise ConfigError(
                f"unit_length must be 4 (the movement encoder downsamples 4x), got {self.unit_length}"
            )
        if not 0 <= self.drop_last < self.feature_dim:
            raise ConfigError(f"drop_last must be in [0, feature_dim), got {self.drop_last}")
        if self.max_motion_len % self.unit_length:
            raise ConfigError(f"max_motion_len must be a multiple of 4, got {self.max_motion_len}")

    @property
    def dim_motion_input(self) -> int:
        return self.feature_dim - self.drop_last

    @classmethod
    def official(cls, word_vectors: str = "glove-6b-50d") -> EvaluatorConfig:
        """The official HumanML3D evaluator's dimensions (300-d words)."""
        return cls(word_vectors=word_vectors, dim_word=300)


# --- blocks (official names) --------------------------------------------------------------------------


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Conv1d | nn.Linear | nn.ConvTranspose1d):
        nn.init.xavier_normal_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class MovementConvEncoder(nn.Module):
    """``(B, T, F) -> (B, T // 4, D)``: two stride-2 convolutions and a linear output layer."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv1d(input_size, hidden_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
            nn.Conv1d(hidden_size, output_size, 4, 2, 1),
            nn.Dropout(0.2),
            nn.LeakyReLU(0.2),
        )
        self.out_net = nn.Linear(output_size, output_size)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.main(rearrange(x, "b t f -> b f t"))
        return self.out_net(rearrange(h, "b d n -> b n d"))  # (B, T//4, D)


class _BiGRUCo(nn.Module):
    """Shared body of the two GRU encoders: linear in, bidirectional GRU, MLP on the last states."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.input_emb = nn.Linear(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(
            nn.Linear(hidden_size * 2, hidden_size),
            nn.LayerNorm(hidden_size),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden_size, output_size),
        )
        self.input_emb.apply(_init)
        self.output_net.apply(_init)
        self.hidden = nn.Parameter(torch.randn(2, 1, hidden_size))

    def _run(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        emb = self.input_emb(x)  # (B, S, H)
        h0 = self.hidden.repeat(1, x.shape[0], 1).contiguous()  # (2, B, H)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed, h0)  # (2, B, H), in the input order
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))  # (B, D)


class TextEncoderBiGRUCo(_BiGRUCo):
    """``words (B, L, W), pos (B, L, 15), lengths (B,) -> (B, D)``."""

    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__(word_size, hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.pos_emb.apply(_init)

    def forward(self, words: torch.Tensor, pos: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._run(words + self.pos_emb(pos), lengths)


class MotionEncoderBiGRUCo(_BiGRUCo):
    """``movements (B, N, D_m), lengths in units of 4 frames (B,) -> (B, D)``."""

    def forward(self, movements: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._run(movements, lengths)


# --- the evaluator ------------------------------------------------------------------------------------


class T2MEvaluator(NormalizerBuffers, nn.Module):
    """Text and motion encoders into a shared space; normalisation statistics are buffers.

    Args:
        cfg: dimensions.
        mean, std: ``(F,)`` feature statistics the motion encoder was trained with.
    """

    def __init__(self, cfg: EvaluatorConfig, mean: np.ndarray | None = None, std: np.ndarray | None = None):
        super().__init__()
        self.cfg = cfg
        self.text_encoder = TextEncoderBiGRUCo(cfg.dim_word, cfg.dim_pos, cfg.dim_text_hidden, cfg.dim_coemb)
        self.movement_encoder = MovementConvEncoder(
            cfg.dim_motion_input, cfg.dim_movement_hidden, cfg.dim_movement_latent
        )
        self.motion_encoder = MotionEncoderBiGRUCo(
            cfg.dim_movement_latent, cfg.dim_motion_hidden, cfg.dim_coemb
        )
        self.init_normalizer(cfg.feature_dim, mean, std)  # buffers mean, std (identity when not given)
        self._words: WordVectors | None = None

    # -- encoders on tensors --

    def encode_text(self, words: torch.Tensor, pos: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, L, W), (B, L, 15), (B,) -> (B, D)``."""
        return self.text_encoder(words, pos, lengths)

    def encode_motion(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Raw features ``(B, T, F)`` (zero-padded) and frame counts ``(B,)`` -> ``(B, D)``.

        Lengths must be multiples of 4 and at least 4. Features are normalised here with the buffers;
        frames past each length are set to 0 after normalisation, as T2M pads its normalised motions.
        """
        if torch.any(lengths % self.cfg.unit_length) or torch.any(lengths < self.cfg.unit_length):
            raise ValueError(f"lengths must be positive multiples of 4, got {lengths.tolist()}")
        x = self.normalize(features)  # (B, T, F)
        # as in T2M, frames past a motion's length are zeros *after* normalisation
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None].to(x.device)  # (B, T)
        x = x[..., : self.cfg.dim_motion_input] * valid[..., None]
        movements = self.movement_encoder(x)  # (B, T//4, D_m)
        return self.motion_encoder(movements, lengths // self.cfg.unit_length)

    # -- numpy conveniences used by the protocol --

    @property
    def words(self) -> WordVectors:
        if self._words is None:
            self._words = WordVectors.load(self.cfg.word_vectors)
            if self._words.dim != self.cfg.dim_word:
                raise ConfigError(
                    f"word vectors {self._words.name} have dim {self._words.dim}, "
                    f"config dim_word={self.cfg.dim_word}"
                )
        return self._words

    def set_word_vectors(self, words: WordVectors) -> None:
        if words.dim != self.cfg.dim_word:
            raise ConfigError(f"word vectors have dim {words.dim}, config dim_word={self.cfg.dim_word}")
        self._words = words

    @torch.no_grad()
    def embed_captions(self, captions: Sequence[Sequence[str]], batch_size: int = 256) -> np.ndarray:
        """Token lists (``"word/POS"``) -> ``(N, D)`` float32 text embeddings (eval mode)."""
        self.eval()
        out = []
        for i in range(0, len(captions), batch_size):
            w, p, n = self.words.encode_batch(captions[i : i + batch_size], self.cfg.max_text_len)
            out.append(self.encode_text(torch.from_numpy(w), torch.from_numpy(p), torch.from_numpy(n)))
        return torch.cat(out).numpy() if out else np.zeros((0, self.cfg.dim_coemb), np.float32)

    @torch.no_grad()
    def embed_motions(self, motions: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Raw feature arrays ``(T_i, F)`` -> ``(N, D)`` float32 (eval mode).

        Each motion is cut to ``min(T_i, max_motion_len) // 4 * 4`` frames from its start.
        """
        self.eval()
        out = []
        for i in range(0, len(motions), batch_size):
            x, lengths = pad_motions(motions[i : i + batch_size], self.cfg)
            out.append(self.encode_motion(torch.from_numpy(x), torch.from_numpy(lengths)))
        return torch.cat(out).numpy() if out else np.zeros((0, self.cfg.dim_coemb), np.float32)

    # -- checkpoints --

    def save_pretrained(self, folder: str | os.PathLike) -> None:
        """Write ``config.yaml`` and ``model.safetensors`` (weights and mean/std) to ``folder``."""
        from safetensors.torch import save_file

        from motiongpt._io import atomic_path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.cfg.to_yaml(folder / "config.yaml")
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        with atomic_path(folder / "model.safetensors") as tmp:
            save_file(state, str(tmp))

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> T2MEvaluator:
        """Load a folder written by :meth:`save_pretrained`."""
        from safetensors.torch import load_file

        folder = Path(folder)
        for name in ("config.yaml", "model.safetensors"):
            if not (folder / name).is_file():
                raise CheckpointError(f"evaluator folder {folder} has no {name}")
        cfg = EvaluatorConfig.from_yaml(folder / "config.yaml")
        model = cls(cfg)
        try:
            model.load_state_dict(load_file(str(folder / "model.safetensors")))
        except (RuntimeError, OSError) as e:
            raise CheckpointError(f"{folder}/model.safetensors does not match its config.yaml: {e}") from None
        return model.eval()

    @classmethod
    def from_official(
        cls,
        checkpoint: str | os.PathLike,
        glove_dir: str | os.PathLike,
        mean: np.ndarray,
        std: np.ndarray,
    ) -> T2MEvaluator:
        """Load the official T2M evaluator.

        Args:
            checkpoint: ``.../text_mot_match/model/finest.tar`` (a dict with the state dicts
                ``text_encoder``, ``movement_encoder``, ``motion_encoder``); read with
                ``torch.load(weights_only=True)``, so it cannot run code.
            glove_dir: the folder with ``our_vab_data.npy``, ``our_vab_words.pkl``, ``our_vab_idx.pkl``.
            mean, std: ``(263,)`` statistics the official evaluator expects (HumanML3D's
                ``Comp_v6_KLD01/meta/mean.npy`` and ``std.npy``).
        """
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise CheckpointError(f"official evaluator checkpoint not found: {checkpoint}")
        try:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - unpickling errors come in many types
            raise CheckpointError(f"{checkpoint}: cannot be read as a weights-only checkpoint: {e}") from None
        missing = [k for k in ("text_encoder", "movement_encoder", "motion_encoder") if k not in state]
        if missing:
            raise CheckpointError(f"{checkpoint}: missing {missing}; keys are {sorted(state)}")
        word_dim = state["text_encoder"]["pos_emb.weight"].shape[0]
        cfg = EvaluatorConfig(
            word_vectors=f"official:{Path(glove_dir)}",
            dim_word=int(word_dim),
            dim_text_hidden=int(state["text_encoder"]["input_emb.weight"].shape[0]),
            dim_movement_hidden=int(state["movement_encoder"]["main.0.weight"].shape[0]),
            dim_movement_latent=int(state["movement_encoder"]["out_net.weight"].shape[0]),
            dim_motion_hidden=int(state["motion_encoder"]["input_emb.weight"].shape[0]),
            dim_coemb=int(state["motion_encoder"]["output_net.3.weight"].shape[0]),
            feature_dim=int(state["movement_encoder"]["main.0.weight"].shape[1]) + 4,
        )
        model = cls(cfg, mean, std)
        for name in ("text_encoder", "movement_encoder", "motion_encoder"):
            try:
                getattr(model, name).load_state_dict(state[name])
            except RuntimeError as e:
                raise CheckpointError(f"{checkpoint}: {name} does not match the T2M layout: {e}") from None
        return model.eval()


def pad_motions(motions: Sequence[np.ndarray], cfg: EvaluatorConfig) -> tuple[np.ndarray, np.ndarray]:
    """Cut each ``(T_i, F)`` to ``min(T_i, max_motion_len) // 4 * 4`` frames and zero-pad to a batch.

    Returns ``(B, T_max, F)`` float32 and ``(B,)`` int64 frame counts.
    """
    if not motions:
        raise ValueError("motions is empty")
    lengths = []
    for i, m in enumerate(motions):
        if m.ndim != 2 or m.shape[1] != cfg.feature_dim:
            raise ValueError(f"motions[{i}] must be (T, {cfg.feature_dim}), got shape {m.shape}")
        n = min(m.shape[0], cfg.max_motion_len) // cfg.unit_length * cfg.unit_length
        if n < cfg.unit_length:
            raise ValueError(f"motions[{i}] has {m.shape[0]} frames; at least {cfg.unit_length} are needed")
        if not np.isfinite(m[:n]).all():
            raise ValueError(f"motions[{i}] contains NaN or inf")
        lengths.append(n)
    out = np.zeros((len(motions), max(lengths), cfg.feature_dim), np.float32)
    for i, (m, n) in enumerate(zip(motions, lengths, strict=True)):
        out[i, :n] = m[:n]
    return out, np.asarray(lengths, np.int64)


def contrastive_loss(
    text: torch.Tensor, motion: torch.Tensor, cfg: EvaluatorTrainConfig, same_text: torch.Tensor | None = None
) -> torch.Tensor:
    """Loss on paired embeddings ``(B, D)``.

    ``"t2m"``: T2M's margin loss: ``mean(d(t_i, m_i)^2) + mean(max(0, margin - d(t_i, m_j))^2)`` with
    ``m_j`` the batch rolled by a random shift. ``"infonce"``: symmetric cross-entropy over
    ``-distance / temperature`` logits. ``same_text (B, B)`` bool marks pairs whose captions are the
    same text (near-duplicate templated captions): those off-diagonal pairs are not used as negatives.
    """
    if cfg.loss == "t2m":
        pos = F.pairwise_distance(text, motion).pow(2).mean()
        shift = int(torch.randint(1, text.shape[0], ()).item())
        neg_d = F.pairwise_distance(text, motion.roll(shift, 0))
        valid = torch.ones_like(neg_d)
        if same_text is not None:
            valid = (
                ~same_text[torch.arange(text.shape[0]), (torch.arange(text.shape[0]) - shift) % text.shape[0]]
            ).float()
        neg = (F.relu(cfg.margin - neg_d).pow(2) * valid).sum() / valid.sum().clamp(min=1)
        return pos + neg
    logits = -torch.cdist(text, motion) / cfg.temperature  # (B, B)
    if same_text is not None:
        mask = same_text & ~torch.eye(text.shape[0], dtype=torch.bool, device=text.device)
        logits = logits.masked_fill(mask, float("-inf"))
    target = torch.arange(text.shape[0], device=text.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
