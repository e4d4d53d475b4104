"""motiongpt.tokenizer: the motion VQ-VAE (stage 1) — features (B, T, 263) <-> tokens (B, T // 4).

Training: ``motiongpt.tokenizer.train.train_tokenizer``; corpus encoding: ``motiongpt.tokenizer.tokenize``.
"""

from motiongpt.tokenizer.config import TrainConfig, VQConfig
from motiongpt.tokenizer.model import MotionTokenizer, VQOutput

__all__ = ["MotionTokenizer", "TrainConfig", "VQConfig", "VQOutput"]
