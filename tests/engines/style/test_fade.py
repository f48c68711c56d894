"""Fade: the stylised picture mixed back with the photo, in the engine (CLI, recipes) and the same way live."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engines.color import rgb_to_yiq
from studio.engines.events import Finished
from studio.engines.style.fade import fade, fade_to_photo
from studio.engines.style.params import StyleParams
from studio.engines.style.run import run_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pictures():
    rng = np.random.default_rng(0)
    return rng.random((24, 32, 3), dtype=np.float32), rng.random((24, 32, 3), dtype=np.float32)


def test_fade_mixes_colour_and_tone_or_tone_only():
    stylised, photo = _pictures()
    assert fade(stylised, photo, 1.0) is stylised
    assert np.allclose(fade(stylised, photo, 0.0), photo)
    assert np.allclose(fade(stylised, photo, 0.25), 0.25 * stylised + 0.75 * photo)
    tone = fade(stylised, photo, 0.0, "luminance")
    a, b, s = rgb_to_yiq(tone), rgb_to_yiq(photo), rgb_to_yiq(stylised)
    inside = (tone > 0.02).all(axis=2) & (tone < 0.98).all(axis=2)  # where no channel was clipped
    assert np.allclose(a[..., 0][inside], b[..., 0][inside], atol=1e-4)  # the photo's tone ...
    assert np.allclose(a[..., 1:][inside], s[..., 1:][inside], atol=1e-4)  # ... with the stylised colours
    assert fade_to_photo(stylised, np.repeat(np.repeat(photo, 2, 0), 2, 1), 0.0).shape == stylised.shape


def test_the_engine_fades_its_result_and_keeps_the_unfaded_one(random_net):
    content = np.random.default_rng(1).random((32, 48, 3), dtype=np.float32)
    style = np.random.default_rng(2).random((32, 32, 3), dtype=np.float32)

    def finish(**changes):
        params = StyleParams(size=48, iterations=3, scales=1, **changes)
        return next(e for e in run_style(content, [style], params, network=random_net) if isinstance(e, Finished))

    full, none = finish(), finish(strength=0.0)
    assert np.array_equal(full.image, full.extra["stylised"])
    assert np.allclose(none.image, content, atol=1e-6) and not np.allclose(none.extra["stylised"], content)
    assert none.extra["params"]["strength"] == 0.0
