"""Render at full size: a preview result refined by one final scale at a larger size, with its time told first."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, Progress
from studio.engines.pixels import resize_to
from studio.engines.style.fade import fade
from studio.engines.style.full_size import Speed, estimate_seconds, measure_speed, unfade
from studio.engines.style.params import StyleParams
from studio.engines.style.run import run_style

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pictures():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:48, 0:64] / 64
    content = np.stack([xx, yy, 0.5 + 0 * xx], -1).astype(np.float32)
    style = np.clip(0.5 + 0.4 * np.sin(20 * xx[..., None] + rng.random(3) * 6), 0, 1).astype(np.float32)
    return content, style


def _finish(events):
    events = list(events)
    return events, next(e for e in events if isinstance(e, Finished))


def test_full_size_runs_one_final_scale_from_the_preview(random_net):
    content, style = _pictures()
    params = StyleParams(size=32, iterations=4, scales=2, style_weight=10.0)
    _, preview = _finish(run_style(content, [style], params, network=random_net))
    assert preview.extra["seconds_per_megapixel"] > 0
    stylised = preview.extra["stylised"]
    big = params.with_changes(size=64, iterations=3)
    events, full = _finish(run_style(content, [style], big, network=random_net, start=stylised))
    stages = {e.stage for e in events if isinstance(e, Progress)}
    assert stages == {"full size · 64x48 from 32x24"}  # one scale, named for what it is
    assert full.image.shape == (48, 64, 3) and full.iterations == 3
    assert full.extra["started_from"] == (24, 32)
    # it starts from the preview: from another start the same render ends elsewhere, nearer that start
    other = np.clip(1.0 - stylised, 0, 1)
    _, full_other = _finish(run_style(content, [style], big, network=random_net, start=other))
    up, up_other = resize_to(stylised, (48, 64)), resize_to(other, (48, 64))
    assert np.abs(full.image - up).mean() < np.abs(full_other.image - up).mean()
    assert np.abs(full_other.image - up_other).mean() < np.abs(full.image - up_other).mean()


def test_the_start_keeps_the_photo_detail_the_preview_could_not_hold(random_net):
    content, style = _pictures()
    photo_preview = resize_to(content, (24, 32))
    # a preview that is the photo itself starts the full size at the photo itself, its detail back
    params = StyleParams(size=64, iterations=1, scales=1, style_weight=0.0, tv_weight=0.0, preview_every=1)
    first = next(e for e in run_style(content, [style], params, network=random_net, start=photo_preview)
                 if isinstance(e, Progress))
    assert np.abs(first.preview / 255.0 - content).max() < 0.03


def test_a_start_of_another_shape_or_no_smaller_is_refused(random_net):
    content, style = _pictures()
    params = StyleParams(size=64, iterations=2, scales=1)
    with pytest.raises(StudioInputError, match="another shape"):
        _finish(run_style(content, [style], params, network=random_net, start=np.zeros((30, 30, 3), np.float32)))
    with pytest.raises(StudioInputError, match="larger size"):
        _finish(run_style(content, [style], params, network=random_net, start=np.zeros((48, 64, 3), np.float32)))


@pytest.mark.parametrize("mode", ["rgb", "luminance"])
def test_unfade_undoes_a_fade(mode):
    rng = np.random.default_rng(0)
    stylised = rng.uniform(0.2, 0.8, (24, 32, 3)).astype(np.float32)
    photo = rng.uniform(0.2, 0.8, (24, 32, 3)).astype(np.float32)
    faded = np.round(fade(stylised, photo, 0.6, mode) * 255) / 255  # as saved in an 8-bit PNG
    assert np.abs(unfade(faded.astype(np.float32), photo, 0.6, mode) - stylised).max() < 2.5 / 255 / 0.6
    with pytest.raises(StudioInputError, match="strength 0.01"):
        unfade(faded.astype(np.float32), photo, 0.01, mode)


def test_the_estimate_grows_with_the_pixels_and_iterations(random_net):
    content, style = _pictures()
    speed = measure_speed(content, [style], StyleParams(size=64), random_net, sides=(24, 48), iterations=4)
    assert speed.per_megapixel > 0 and speed.fixed >= 0 and speed.startup >= 0
    one = estimate_seconds(speed, (768, 1024), 100)
    assert estimate_seconds(speed, (1536, 2048), 100) > 2 * one  # the per-pixel part grows fourfold
    assert estimate_seconds(speed, (768, 1024), 200) > 1.5 * one
    flat = Speed(per_megapixel=10.0, fixed=0.5, startup=2.0)
    assert estimate_seconds(flat, (1000, 1000), 3) == pytest.approx((3 + 2) * (0.5 + 10.0))


def test_the_estimate_counts_tiles_by_the_memory_of_the_device_that_renders(monkeypatch):
    """A GPU of 2 GB on a 24 GB machine runs a 1536x1152 render in tiles (about twice the time a megapixel)
    where the machine's CPU would run it in one pass: the estimate asks the render's device, not the CPU."""
    from studio.engines.style import full_size, tiles

    gib = 1024**3
    monkeypatch.setattr(tiles, "free_memory", lambda device: 2 * gib if device.type == "cuda" else 24 * gib)
    flat = Speed(per_megapixel=10.0)
    hw = (1152, 1536)
    on_cpu = estimate_seconds(flat, hw, 10)
    assert estimate_seconds(flat, hw, 10, device="cpu") == on_cpu
    assert estimate_seconds(flat, hw, 10, device="cuda") == pytest.approx(full_size.TILED_TIME_FACTOR * on_cpu)


def test_a_size_whose_pixels_do_not_fit_this_machine_is_one_sentence(random_net, monkeypatch):
    content, style = _pictures()
    monkeypatch.setattr(StyleParams, "most_pixels", classmethod(lambda cls: 2000))
    with pytest.raises(StudioInputError, match=r"64x48 is 0.0 megapixels, more than the 0.0 a style run fits"):
        _finish(run_style(content, [style], StyleParams(size=64, iterations=1, scales=1), network=random_net))
