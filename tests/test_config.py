"""The shared numeric-field check every stage config uses (``motiongpt.config.check_numbers``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from motiongpt.config import check_numbers
from motiongpt.errors import ConfigError
from motiongpt.eval.evaluator import EvaluatorConfig
from motiongpt.lm.config import LMConfig
from motiongpt.tokenizer.config import TrainConfig


@dataclass(frozen=True)
class Fields:
    n: object = 1
    x: object = 0.5


def test_numbers_are_normalised_and_numeric_strings_accepted_where_allowed():
    cfg = Fields(n="64", x="2e-4")  # YAML 1.1 reads 2e-4 as a string
    check_numbers(cfg, ("n",), ("x",), lenient_ints=True, positive=("n", "x"))
    assert (cfg.n, cfg.x) == (64, 2e-4) and type(cfg.n) is int and type(cfg.x) is float
    cfg = Fields(n=64.0)
    check_numbers(cfg, ("n",), lenient_ints=True)
    assert cfg.n == 64 and type(cfg.n) is int


@pytest.mark.parametrize(
    ("fields", "kwargs", "match"),
    [
        (Fields(n="64"), {}, r"^n must be an integer, got '64'$"),  # strict ints by default
        (Fields(n=True), {"lenient_ints": True}, "n must be an integer"),
        (Fields(n=6.5), {"lenient_ints": True}, "n must be an integer"),
        (Fields(n="six"), {"lenient_ints": True}, "n must be an integer"),
        (Fields(x=[1]), {}, "x must be a number"),
        (Fields(x=False), {}, "x must be a number"),
        (Fields(n=0), {"positive": ("n",)}, r"^n must be > 0, got 0$"),
        (Fields(x=-0.1), {"non_negative": ("x",)}, "x must be >= 0"),
        (Fields(x=0.0), {"positive": ("x",), "prefix": "train."}, r"^train\.x must be > 0"),
    ],
)
def test_bad_numbers_are_named(fields, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        check_numbers(fields, ("n",), ("x",), **kwargs)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: EvaluatorConfig(dim_word="fifty"), "dim_word must be an integer"),  # was a TypeError
        (lambda: EvaluatorConfig(drop_last=None), "drop_last must be an integer"),
        (lambda: EvaluatorConfig.from_dict({"train": {"lr": 0}}), r"train\.lr must be > 0"),
        (lambda: LMConfig(lora_r="8"), "lora_r must be an integer"),
        (lambda: LMConfig(new_token_noise=-1.0), "new_token_noise must be >= 0"),
        (lambda: TrainConfig(batch_size="zero"), "batch_size must be an integer"),
    ],
)
def test_stage_configs_name_the_bad_field(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_yaml_strings_still_load_where_they_did():
    assert TrainConfig(batch_size="64", lr="2e-4").batch_size == 64
    assert LMConfig(lora_dropout="0.05").lora_dropout == 0.05
