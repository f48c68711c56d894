"""studio.recipe: round trip through a PNG, malformed recipes, input checks."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from studio import __version__
from studio.engines.errors import StudioInputError
from studio.engines.style.params import StyleParams
from studio.image_save import save_image
from studio.png_text import read_png_text
from studio.recipe import RECIPE_KEY, InputRef, Recipe, check_inputs, read_recipe


def _inputs(tmp_path: Path) -> list[InputRef]:
    content = save_image(tmp_path / "content.png", np.full((4, 4, 3), 0.2))
    style = save_image(tmp_path / "style.png", np.full((4, 4, 3), 0.8))
    return [InputRef.from_file("content", content), InputRef.from_file("style", style)]


def _recipe(tmp_path: Path) -> Recipe:
    params = StyleParams(size=256, iterations=50, style_layer_weights=(1, 2, 3, 4, 5)).to_dict()
    return Recipe(
        engine="stylize",
        params=params,
        inputs=_inputs(tmp_path),
        weights="vgg19-torchvision (ImageNet)",
        extra={"note": "ünïcode ✓"},
    )


def test_defaults() -> None:
    r = Recipe(engine="stylize", params={}, inputs=[], weights="w")
    assert r.studio_version == __version__
    created = datetime.fromisoformat(r.created.replace("Z", "+00:00"))
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert r.extra == {}


def test_json_round_trip(tmp_path: Path) -> None:
    r = _recipe(tmp_path)
    back = Recipe.from_json(r.to_json())
    assert back == r
    assert StyleParams.from_dict(back.params) == StyleParams(
        size=256, iterations=50, style_layer_weights=(1, 2, 3, 4, 5)
    )


def test_png_round_trip(tmp_path: Path) -> None:
    r = _recipe(tmp_path)
    out = save_image(tmp_path / "result.png", np.zeros((8, 8, 3)), metadata=r.to_png_text())
    assert read_recipe(out) == r
    texts = read_png_text(out)
    assert texts["Software"] == f"studio {__version__}"
    assert "content.png" in texts["Description"] and "style.png" in texts["Description"]
    assert json.loads(texts[RECIPE_KEY])["engine"] == "stylize"


def test_no_recipe(tmp_path: Path) -> None:
    assert read_recipe(save_image(tmp_path / "plain.png", np.zeros((4, 4, 3)))) is None
    assert read_recipe(save_image(tmp_path / "photo.jpg", np.zeros((4, 4, 3)))) is None


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(StudioInputError, match="does not exist"):
        read_recipe(tmp_path / "gone.png")
    with pytest.raises(StudioInputError, match="is a folder"):
        read_recipe(tmp_path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a studio recipe"),
        ('{"engine": "stylize"}', "not a studio recipe"),
        ('{"format": "studio-recipe", "format_version": 99}', "format version 99"),
        ('{"format": "studio-recipe", "format_version": 1, "engine": "stylize"}', "'params' is missing"),
        (
            '{"format": "studio-recipe", "format_version": 1, "engine": "stylize", "params": [], '
            '"inputs": [], "weights": "w", "studio_version": "0.1.0", "created": "x"}',
            '"params" should be a dict',
        ),
        (
            '{"format": "studio-recipe", "format_version": 1, "engine": "stylize", "params": {}, '
            '"inputs": ["a.png"], "weights": "w", "studio_version": "0.1.0", "created": "x"}',
            "an input should be a dict",
        ),
    ],
)
def test_malformed_json(text: str, match: str) -> None:
    with pytest.raises(StudioInputError, match=match) as err:
        Recipe.from_json(text)
    message = str(err.value)
    assert message.endswith(".") and "\n" not in message


def test_malformed_recipe_in_png(tmp_path: Path) -> None:
    out = save_image(tmp_path / "bad.png", np.zeros((4, 4, 3)), metadata={RECIPE_KEY: "{oops"})
    with pytest.raises(StudioInputError, match=r"The recipe in '.*bad\.png' is not valid JSON"):
        read_recipe(out)


def test_check_inputs(tmp_path: Path) -> None:
    r = _recipe(tmp_path)
    assert check_inputs(r) == []
    save_image(tmp_path / "style.png", np.full((4, 4, 3), 0.5))  # changed
    (tmp_path / "content.png").unlink()  # missing
    warnings = check_inputs(r)
    assert len(warnings) == 2
    assert "content" in warnings[0] and "no longer exists" in warnings[0]
    assert "style" in warnings[1] and "has changed" in warnings[1]
    (tmp_path / "content.png").mkdir()  # there again, as a folder: it exists, and is not an image file
    assert "content" in check_inputs(r)[0] and "is not a regular file" in check_inputs(r)[0]


def test_check_inputs_relative_to_base_dir(tmp_path: Path) -> None:
    path = save_image(tmp_path / "c.png", np.zeros((4, 4, 3)))
    ref = InputRef.from_file("content", path)
    r = Recipe(engine="stylize", params={}, inputs=[InputRef("content", "c.png", ref.sha256)], weights="w")
    assert check_inputs(r, base_dir=tmp_path) == []


def test_the_apps_placement_record_is_not_an_unknown_harmonize_setting():
    """Every Harmonize PNG the app exported reopened with a warning about its own "composition" record."""
    from studio.engines.harmonize.params import HarmonizeParams
    from studio.recipe import unknown_settings

    params = {**HarmonizeParams().to_dict(), "composition": {"loose_radius": 8.0}, "brush_dynamics": 1}
    r = Recipe(engine="harmonize", params=params, inputs=[], weights="w")
    assert unknown_settings(r) == ["brush_dynamics"]
