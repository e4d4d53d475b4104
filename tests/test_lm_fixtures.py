"""Tiny randomly initialised backbones (T5 and Llama-like causal) with a char-level tokenizer, built in code.

A pytest plugin of the other ``test_lm_*`` modules (``pytest_plugins = ["test_lm_fixtures"]``) and a
helper module they import; nothing is downloaded.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
CHARS = sorted(set(string.printable) - set("\t\r\x0b\x0c"))
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


def tiny_tokenizer(t5_style: bool, chat_template: bool = False):
    """A char-level fast tokenizer: pad 0, eos 1, unk 2, bos 3; T5 style appends ``</s>``."""
    from tokenizers import Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIALS + CHARS)}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tk.decoder = decoders.Fuse()
    if t5_style:
        tk.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", bos_token="<s>"
    )
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_t5(vocab_size: int):
    from transformers import T5Config, T5ForConditionalGeneration

    cfg = T5Config(
        vocab_size=vocab_size,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
        dropout_rate=0.0,
    )
    torch.manual_seed(0)
    return T5ForConditionalGeneration(cfg)


def tiny_llama(vocab_size: int, tied: bool = True):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=3,
        tie_word_embeddings=tied,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(cfg)


def save_tiny_backbone(directory: Path, family: str, tied: bool = True, chat_template: bool = False) -> Path:
    """Write a tiny random ``family`` ("t5" or "causal") model + tokenizer to ``directory``."""
    tok = tiny_tokenizer(t5_style=family == "t5", chat_template=chat_template)
    model = tiny_t5(len(tok)) if family == "t5" else tiny_llama(len(tok), tied=tied)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def tiny_lm_config(backbone: Path, **changes):
    from motiongpt.lm.config import LMConfig

    base = dict(
        backbone=str(backbone),
        codebook_size=16,
        finetune="full",
        max_prompt_tokens=128,
        max_text_tokens=12,
        min_motion_tokens=2,
        max_motion_tokens=12,
        max_long_motion_tokens=40,
    )
    return LMConfig(**(base | changes))


@pytest.fixture
def one_thread():
    """Tiny models are fastest on one thread (2 busy threads spin on OpenMP barriers); restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("backbones")
    return {
        "t5": save_tiny_backbone(root / "t5", "t5"),
        "causal": save_tiny_backbone(root / "causal", "causal"),
        "causal_chat_untied": save_tiny_backbone(
            root / "causal_untied", "causal", tied=False, chat_template=True
        ),
    }


def test_tiny_tokenizer_round_trip():
    tok = tiny_tokenizer(t5_style=True)
    ids = tok("a person walks").input_ids
    assert ids[-1] == tok.eos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == "a person walks"


def tiny_motion_tokenizer(codebook_size: int = 16):
    from motiongpt.tokenizer.config import VQConfig
    from motiongpt.tokenizer.model import MotionTokenizer

    torch.manual_seed(0)
    cfg = VQConfig(width=32, code_dim=16, codebook_size=codebook_size, depth=1)
    return MotionTokenizer(cfg, mean=torch.zeros(263), std=torch.full((263,), 0.1)).eval()


def save_tiny_bundle(directory: Path, backbone: Path, **lm_changes) -> Path:
    """A complete tiny MotionGPT folder (random motion tokenizer + random LM) for end-to-end tests."""
    from motiongpt.lm.model import MotionLanguageModel
    from motiongpt.lm.pipeline import MotionGPT

    lm = MotionLanguageModel(tiny_lm_config(backbone, **lm_changes))
    return MotionGPT(lm, tiny_motion_tokenizer()).save_pretrained(directory)
