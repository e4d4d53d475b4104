"""The lean Llama decoding step computes what the transformers forward computes, and decoding uses it."""

from __future__ import annotations

import pytest
import torch

from motiongpt.lm import generation, llama_step
from motiongpt.lm.generation import GREEDY, Sampling, generate_motion_ids, generate_text
from motiongpt.lm.model import MotionLanguageModel
from test_lm_fixtures import tiny_lm_config

pytest_plugins = ["test_lm_fixtures"]
pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.skipif(not llama_step._fp16_ops(), reason="needs torch's FBGEMM fp16 ops (x86)"),
]


@pytest.fixture(scope="module", params=["causal", "causal_chat_untied"])
def lm(request, tiny_dirs):
    return MotionLanguageModel(tiny_lm_config(tiny_dirs[request.param])).optimize_for_inference()


@torch.no_grad()
def _hf_logits(backbone, ids, mask, new):
    """Logits of the transformers forward at the prompt's end and after each token of ``new (B, S)``."""
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = backbone(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    cache, logits = out.cache if hasattr(out, "cache") else out.past_key_values, [out.logits[:, -1]]
    for j in range(new.shape[1]):
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        pos = (mask.cumsum(-1) - 1)[:, -1:]
        o = backbone(input_ids=new[:, j : j + 1], attention_mask=mask, position_ids=pos, cache=cache,
                     use_cache=True)  # fmt: skip
        cache = o.cache if hasattr(o, "cache") else o.past_key_values
        logits.append(o.logits[:, -1])
    return torch.stack(logits, 1)  # (B, 1 + S, V)


def test_lean_prompt_pass_and_steps_match_the_transformers_forward(lm):
    backbone = lm.base_model
    step = llama_step.for_backbone(backbone)
    assert step is not None and llama_step.for_backbone(backbone) is step  # packed once
    batch = lm.encode_prompts(["a person walks forward", "jump"])  # left-padded: rows differ in length
    ids, mask = batch["input_ids"], batch["attention_mask"]
    new = torch.randint(0, 40, (2, 6))
    want = _hf_logits(backbone, ids, mask, new)
    head = backbone.get_output_embeddings().weight
    state, last = step.prefill(ids, mask, new.shape[1])
    steps = [step.step(state, new[:, j]) @ head.T for j in range(new.shape[1])]
    got = torch.stack([last @ head.T, *steps], 1)
    scale = float(want.abs().max())
    assert torch.allclose(got, want, atol=5e-3 * scale), float((got - want).abs().max()) / scale
    assert not torch.allclose(got[0], got[1])  # the rows are not one row repeated
    with pytest.raises(RuntimeError, match="more steps"):
        step.step(state, new[:, 0])
    # a prompt run once for two rows gives both what running it twice gives
    shared, last2 = step.prefill(ids[:1], mask[:1], 2, rows=torch.tensor([0, 0]))
    twice, last3 = step.prefill(ids[[0, 0]], mask[[0, 0]], 2)
    assert torch.allclose(last2, last3, atol=1e-5) and torch.allclose(last2[0], last[0], atol=1e-4 * scale)
    assert torch.allclose(step.step(shared, new[:, 0]), step.step(twice, new[:, 0]), atol=1e-5)


def test_decoding_uses_it_and_picks_what_the_generic_path_picks(lm, monkeypatch):
    calls = []
    original = llama_step.LlamaStep.step
    monkeypatch.setattr(llama_step.LlamaStep, "step", lambda self, *a: calls.append(1) or original(self, *a))
    prompts = ["a person walks", "jump", "a man runs in a circle"]
    lean = generate_motion_ids(lm, prompts, [1, 7, 12], sampling=GREEDY)
    assert calls, "the lean step was not used"
    text_lean = generate_text(lm, prompts, max_new_tokens=6)
    monkeypatch.setattr(generation, "LEAN_STEP", False)
    generic = generate_motion_ids(lm, prompts, [1, 7, 12], sampling=GREEDY)
    assert [m.shape[0] for m in lean] == [1, 7, 12]
    assert all(torch.equal(a, b) for a, b in zip(lean, generic, strict=True))
    assert text_lean == generate_text(lm, prompts, max_new_tokens=6)


def test_guided_decoding_reads_identical_prompts_once_and_picks_as_before(lm, monkeypatch):
    """With guidance the unconditional rows are one prompt: the prompt pass runs it once."""
    prompts, n = ["walk", "a person runs", "walk"], [4, 6, 5]
    kw = dict(sampling=GREEDY, guidance=3.0, uncond_prompt="random")
    rows_in, prefill = [], llama_step.LlamaStep.prefill

    def counted(self, ids, *args):
        rows_in.append(ids.shape[0])
        return prefill(self, ids, *args)

    monkeypatch.setattr(llama_step.LlamaStep, "prefill", counted)
    lean = generate_motion_ids(lm, prompts, n, **kw)
    assert rows_in == [2 + 1]  # walk, runs, random: 3 distinct of 6 rows, in one prompt pass
    monkeypatch.setattr(generation, "LEAN_STEP", False)
    generic = generate_motion_ids(lm, prompts, n, **kw)
    assert [m.shape[0] for m in lean] == n
    assert all(torch.equal(a, b) for a, b in zip(lean, generic, strict=True))


def test_unique_rows():
    ids = torch.tensor([[0, 5, 6], [7, 8, 9], [0, 5, 6], [0, 5, 6]])
    mask = torch.tensor([[0, 1, 1], [1, 1, 1], [0, 1, 1], [1, 1, 1]])  # row 3: same ids, other mask
    first, copies = generation._unique_rows(ids, mask)
    assert torch.equal(ids[first][copies], ids) and torch.equal(mask[first][copies], mask)
    assert len(first) == 3 and copies[0] == copies[2] != copies[3]
    assert generation._unique_rows(ids[:2], mask[:2]) == (None, None)


def test_guided_sampling_with_the_lean_step_is_valid_and_repeatable(lm):
    kw = dict(sampling=Sampling(top_k=5), seed=3, guidance=3.0, uncond_prompt="random")
    a = generate_motion_ids(lm, ["walk", "run"], [5, 9], **kw)
    assert [m.shape[0] for m in a] == [5, 9]
    assert all(torch.equal(x, y) for x, y in zip(a, generate_motion_ids(lm, ["walk", "run"], [5, 9], **kw)))


def test_not_used_where_it_does_not_apply(tiny_dirs):
    plain = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"])).eval()  # not prepared: float32 linears
    assert llama_step.for_backbone(plain.base_model) is None
    t5 = MotionLanguageModel(tiny_lm_config(tiny_dirs["t5"])).optimize_for_inference()
    assert llama_step.for_backbone(t5.base_model) is None
    half = MotionLanguageModel(tiny_lm_config(tiny_dirs["causal"])).optimize_for_inference(half_gemv=False)
    assert llama_step.for_backbone(half.base_model) is None
