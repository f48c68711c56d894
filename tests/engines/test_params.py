"""Parameters from a recipe dict: types are checked, so a bad value is one sentence naming it."""

from __future__ import annotations

import pytest

from studio.engines.errors import StudioInputError
from studio.engines.harmonize.params import HarmonizeParams
from studio.engines.style.params import StyleParams


def test_round_trip_and_conversions():
    p = StyleParams(size=300, style_layers=("relu1_1", "relu3_1"), style_blend=(1.0, 2.0), max_seconds=60.0)
    assert StyleParams.from_dict(p.to_dict()) == p
    q = StyleParams.from_dict({"content_weight": 2, "style_layer_weights": [1, 2], "unknown_key": 5})
    assert q.content_weight == 2.0 and isinstance(q.content_weight, float)
    assert q.style_layer_weights == (1.0, 2.0)
    h = HarmonizeParams(mode="poisson", tau=10.0)
    assert HarmonizeParams.from_dict(h.to_dict()) == h


@pytest.mark.parametrize(("key", "value", "words"), [
    ("size", "abc", "whole number"),
    ("size", 3.5, "whole number"),
    ("optimizer", "sgd", "'lbfgs' or 'adam'"),
    ("style_layers", [1, 2], "list of"),
    ("style_layers", "relu1_1", "list of"),
    ("original_colors", "yes", "true or false"),
    ("max_seconds", "soon", "a number or null"),
    ("content_weight", True, "a number"),
])
def test_wrong_types_are_named(key, value, words):
    with pytest.raises(StudioInputError) as info:
        StyleParams.from_dict({key: value})
    assert key in str(info.value) and words in str(info.value) and repr(value) in str(info.value)


def test_not_a_table():
    with pytest.raises(StudioInputError, match="not a table"):
        StyleParams.from_dict(["size", 3])  # type: ignore[arg-type]


def test_every_engine_checks_its_recipe_values():
    from studio.engines.cyclegan.params import TrainParams, TranslateParams
    from studio.engines.gan.params import TrainGanParams

    assert TranslateParams.from_dict(TranslateParams(strength=0.5).to_dict()).strength == 0.5
    for cls, key, value in ((TranslateParams, "strength", "half"), (TrainParams, "n_blocks", 9.5),
                            (TrainGanParams, "loss", "hinge")):
        with pytest.raises(StudioInputError) as info:
            cls.from_dict({key: value})
        assert key in str(info.value) and repr(value) in str(info.value)


def test_progress_bar_message_ends_the_bar_line_first():
    import io

    from studio.progress import ProgressBar

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    bar = ProgressBar("job", stream=out)
    bar.update(1, 4, None, 0.0, force=True)
    bar.message("using the CPU")
    bar.message("second line")
    assert out.getvalue().endswith("\nusing the CPU\nsecond line\n")
    plain = io.StringIO()
    ProgressBar("job", stream=plain).message("hello")
    assert plain.getvalue() == "hello\n"
