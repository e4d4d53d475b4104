"""The lean inference path (lm/lean.py, lm/text_tokenizer.py): a Llama-family LM read without
transformers gives the token ids, logits and generated tokens the transformers path gives, never
imports transformers, and where it does not apply the transformers path loads instead."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import needs_bundled_model
from motiongpt.errors import CheckpointError
from motiongpt.lm import llama_step
from motiongpt.lm.generation import GREEDY, Sampling, generate_motion_ids, generate_text
from motiongpt.lm.inference_cache import load_lean_for_inference
from motiongpt.lm.lean import LeanLlama, NotLean, load_lean
from motiongpt.lm.model import MotionLanguageModel, _HalfGemvLinear
from motiongpt.lm.text_tokenizer import LeanTokenizer
from test_lm_fixtures import save_tiny_bundle, tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.skipif(not llama_step._fp16_ops(), reason="needs torch's FBGEMM fp16 ops (x86)"),
]

TEXTS = [
    "a person walks forward",
    "  two  spaces\tand a tab\nnew line ",
    "Ünïcödé — ‘quotes’ 漢字 🙂",
    "<som><motion_id_3><motion_id_15><eom> then <motion_mask><motion_mask>",
    "</s><s><pad><unk> special strings in text",
    "",
]


def _lm_dirs(tmp_path, tiny_dirs, **changes):
    """A tiny full LM folder (no chat template: the lean path applies) with trained-looking rows."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(2)
    lm = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"], **changes))
    with torch.no_grad():
        for p in lm.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return lm.save_pretrained(tmp_path / "lm")


@pytest.fixture(scope="module")
def pair(tmp_path_factory, tiny_dirs):
    """(lean, transformers) loads of one tiny LM folder."""
    lm_dir = _lm_dirs(tmp_path_factory.mktemp("lean"), tiny_dirs)
    hf = MotionLanguageModel.from_pretrained(lm_dir).optimize_for_inference()
    return load_lean(lm_dir, hf.cfg), hf


def test_same_token_ids_for_every_prompt_layout(pair):
    lean, hf = pair
    assert isinstance(lean.backbone, LeanLlama) and isinstance(lean.tokenizer, LeanTokenizer)
    assert lean.vocab == hf.vocab
    for name in ("pad_token_id", "eos_token_id", "unk_token_id", "bos_token_id"):
        assert getattr(lean.tokenizer, name) == getattr(hf.tokenizer, name), name
    for text in TEXTS:
        for special in (True, False):
            assert lean.tokenizer(text, add_special_tokens=special).input_ids == hf.tokenizer(
                text, add_special_tokens=special
            ).input_ids, (text, special)
        if text.strip():
            history = [("hi", "<som><motion_id_1><eom>"), (text, "ok")]
            for model_args in ((text,), (text, "an answer"), (text, None, history)):
                assert lean.encode(*model_args) == hf.encode(*model_args), model_args
            assert lean.format_conversation(history, text) == hf.format_conversation(history, text)
            assert lean.encode_raw(text, "target") == hf.encode_raw(text, "target")
    batch = ["a person walks", "jump", "a man runs in a circle"]
    for key, value in hf.encode_prompts(batch).items():
        assert torch.equal(lean.encode_prompts(batch)[key], value), key
    ids = list(range(len(lean.tokenizer)))
    for skip in (True, False):
        assert lean.tokenizer.decode(ids, skip_special_tokens=skip) == hf.tokenizer.decode(
            ids, skip_special_tokens=skip
        )
    tokens = ["<eom>", "no such token"]
    assert lean.tokenizer.convert_tokens_to_ids(tokens) == hf.tokenizer.convert_tokens_to_ids(tokens)


@torch.no_grad()
def test_logits_match_the_transformers_forward(pair):
    lean, hf = pair
    batch = lean.encode_prompts(["a person walks forward", "jump"])  # left-padded: rows differ
    ids, mask = batch["input_ids"], batch["attention_mask"]
    new = torch.randint(0, 40, (2, 5), generator=torch.Generator().manual_seed(0))
    steps = {}
    for name, model in (("lean", lean), ("hf", hf)):
        step = llama_step.for_backbone(model.base_model)
        head = model.base_model.get_output_embeddings().weight
        state, last = step.prefill(ids, mask, new.shape[1])
        rows = [last] + [step.step(state, new[:, j]) for j in range(new.shape[1])]
        steps[name] = torch.stack(rows, 1) @ head.T  # (B, 1 + S, V)
    assert torch.equal(steps["lean"], steps["hf"])  # the same packed weights and rotary tables
    full = torch.cat([ids, new], 1)
    full_mask = torch.cat([mask, torch.ones_like(new)], 1)
    pos = (full_mask.cumsum(-1) - 1).clamp(min=0)
    out = hf.backbone(input_ids=full, attention_mask=full_mask, position_ids=pos)
    want = out.logits[:, ids.shape[1] - 1 :]
    scale = float(want.abs().max())
    assert torch.allclose(steps["lean"], want, atol=5e-3 * scale)  # float16 rounding of the weights


def test_answer_logprobs_of_the_step_match_the_transformers_forward(pair, monkeypatch):
    """lm/scoring.py reads the lean model through LlamaStep.hidden_states, a transformers model through
    its forward: the same log-probabilities within the float16 rounding of the weights."""
    from motiongpt.lm import scoring

    lean, hf = pair
    prompts, answers = ["describe <som><motion_id_2><motion_id_7><eom>", "jump"], ["a person walks", "hi"]
    stepped = scoring.answer_logprobs(lean, prompts, answers)
    monkeypatch.setattr(llama_step, "for_backbone", lambda backbone: None)  # the forward, not the step
    forward = scoring.answer_logprobs(hf, prompts, answers)
    assert stepped.shape == (2,) and torch.allclose(stepped, forward, rtol=1e-2, atol=1e-2)


def test_identical_generated_tokens(pair):
    lean, hf = pair
    prompts = ["a person walks", "jump", "a man runs in a circle"]
    for kw in (
        dict(sampling=GREEDY),
        dict(sampling=Sampling(top_k=5), seed=3),
        dict(sampling=Sampling(top_k=50), seed=11, guidance=3.0, uncond_prompt="random"),
    ):
        a = generate_motion_ids(lean, prompts, [1, 7, None], **kw)
        b = generate_motion_ids(hf, prompts, [1, 7, None], **kw)
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True)), kw
    for mode in ("text", "chat"):
        for seed in (None, 4):
            sampling = GREEDY if seed is None else Sampling(top_k=8)
            a = generate_text(lean, prompts, sampling=sampling, seed=seed, mode=mode)
            assert a == generate_text(hf, prompts, sampling=sampling, seed=seed, mode=mode), (mode, seed)
    # the transformers model decoded through its LlamaStep: no float16 copy of its block weights
    assert all(m._half is None for m in hf.modules() if isinstance(m, _HalfGemvLinear))


def test_inference_only(pair, tmp_path):
    lean, _ = pair
    with pytest.raises(TypeError, match="inference only"):
        lean(input_ids=torch.tensor([[5, 6]]))
    with pytest.raises(TypeError, match="cannot be trained"):
        lean.train()
    with pytest.raises(CheckpointError, match="inference only"):
        lean.save_pretrained(tmp_path / "x")
    assert lean.optimize_for_inference() is lean
    assert not any(p.requires_grad for p in lean.parameters())


def test_pipeline_reads_the_cache_lean_with_the_same_outputs(tmp_path, tiny_dirs, monkeypatch):
    """A blocks checkpoint: the first load writes the cache (transformers), later loads read it lean."""
    from motiongpt.lm.pipeline import MotionGPT

    monkeypatch.setenv("MOTIONGPT_CACHE", str(tmp_path / "cache"))
    bundle = save_tiny_bundle(tmp_path / "mg", tiny_dirs["causal"], finetune="blocks", keep_layers=1)
    assert load_lean_for_inference(bundle / "lm") is None  # no cache entry yet
    first = MotionGPT.from_pretrained(bundle)
    assert not first.lm.inference_only
    lean = MotionGPT.from_pretrained(bundle)
    hf = MotionGPT.from_pretrained(bundle, lean=False)
    assert lean.lm.inference_only and not hf.lm.inference_only
    for seed in (0, 1, 2):
        a = lean.generate_motion_batch(["walk", "a person jumps"], seconds=[1.2, None], seed=seed)
        b = hf.generate_motion_batch(["walk", "a person jumps"], seconds=[1.2, None], seed=seed)
        c = first.generate_motion_batch(["walk", "a person jumps"], seconds=[1.2, None], seed=seed)
        for x, y, z in zip(a, b, c, strict=True):
            assert np.array_equal(x.tokens, y.tokens) and np.array_equal(x.tokens, z.tokens)
            assert np.array_equal(x.joints, y.joints)
    assert lean.caption(a[0]) == hf.caption(a[0])
    messages = [{"role": "user", "content": "show me a walk"}]
    assert lean.chat(messages, seed=0).text == hf.chat(messages, seed=0).text


def test_falls_back_where_it_does_not_apply(tmp_path, tiny_dirs, caplog):
    chat = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal_chat_untied"]))
    chat = chat.save_pretrained(tmp_path / "c")
    t5 = MotionLanguageModel(tiny_lm_config(tiny_dirs["t5"])).save_pretrained(tmp_path / "t5")
    with caplog.at_level(logging.DEBUG, logger="motiongpt.lm.inference_cache"):
        assert load_lean_for_inference(chat) is None
        assert load_lean_for_inference(t5) is None
    reasons = [r.getMessage() for r in caplog.records if "not taken" in r.getMessage()]
    assert len(reasons) == 2 and "chat template" in reasons[0] and "LlamaForCausalLM" in reasons[1]
    # the untied backbone without its chat template: lean, and the same as transformers
    untied = _lm_dirs(tmp_path / "u", {"causal": tiny_dirs["causal_chat_untied"]}, chat_template=False)
    lean = load_lean_for_inference(untied)
    hf = MotionLanguageModel.from_pretrained(untied).optimize_for_inference()
    base = lean.base_model
    assert base.lm_head.weight.data_ptr() != base.embed_tokens.weight.data_ptr()  # untied
    for kw in (dict(sampling=GREEDY), dict(sampling=Sampling(top_k=5), seed=1)):
        a, b = (generate_motion_ids(m, ["walk", "run"], [3, None], **kw) for m in (lean, hf))
        assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    config = json.loads((untied / "tokenizer_config.json").read_text())
    (untied / "tokenizer_config.json").write_text(json.dumps(config | {"add_bos_token": True}))
    with pytest.raises(NotLean, match="add_bos_token"):
        LeanTokenizer.from_dir(untied)


def test_generating_imports_neither_transformers_nor_dynamo(tmp_path, tiny_dirs):
    bundle = save_tiny_bundle(tmp_path / "mg", tiny_dirs["causal"], chat_template=False)
    code = (
        "import sys\nfrom motiongpt.lm.pipeline import MotionGPT\n"
        f"mg = MotionGPT.from_pretrained({str(bundle)!r})\n"
        "assert mg.lm.inference_only\n"
        "mg.caption(mg.generate_motion('a person walks', seconds=1, seed=0))\n"
        "bad = ('transformers', 'torch._dynamo', 'torch.distributed.tensor')\n"
        "bad = [m for m in bad if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
@needs_bundled_model
def test_bundled_model_lean_is_the_transformers_path():
    from motiongpt import bundled_model
    from motiongpt.lm.pipeline import MotionGPT

    lean, hf = MotionGPT.from_pretrained(), MotionGPT.from_pretrained(lean=False)
    if not lean.lm.inference_only:  # the first load of this bundle wrote the cache entry
        lean = MotionGPT.from_pretrained()
    assert lean.lm.inference_only and not hf.lm.inference_only, bundled_model()
    for text in TEXTS + ["a person walks forward slowly\n", "<|im_start|>user\nhi<|im_end|>"]:
        for special in (True, False):
            a = lean.lm.tokenizer(text, add_special_tokens=special).input_ids
            assert a == hf.lm.tokenizer(text, add_special_tokens=special).input_ids, text
    for prompt in ("a person walks forward slowly", "someone jumps twice and waves"):
        for seed in (0, 1):
            a = lean.generate_motion(prompt, seconds=4, seed=seed)
            b = hf.generate_motion(prompt, seconds=4, seed=seed)
            assert np.array_equal(a.tokens, b.tokens), (prompt, seed)
    assert lean.caption(a) == hf.caption(a)
    messages = [{"role": "user", "content": "show me a person dancing"}]
    assert lean.chat(messages, seed=0).text == hf.chat(messages, seed=0).text
