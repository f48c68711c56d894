"""The harmonization engine: input validation, the quick modes, and a short two-pass run."""

from __future__ import annotations

import numpy as np
import pytest

from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, Info, JobControl, Progress
from studio.engines.harmonize.metrics import HarmonizeScorer, seam_measure
from studio.engines.harmonize.params import OWN_SIZE, HarmonizeParams
from studio.engines.harmonize.quick import color_transfer
from studio.engines.harmonize.run import run_harmonize, working_shape
from studio.engines.harmonize.validate import validate_inputs, validate_params


def _stripes(h: int, w: int) -> np.ndarray:
    """A 'painting': diagonal warm/cool brush stripes."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.sin((xx + yy) * 0.9) > 0).astype(np.float32)
    warm = np.array([0.85, 0.55, 0.2], np.float32)
    cool = np.array([0.2, 0.35, 0.7], np.float32)
    return (t[..., None] * warm + (1 - t[..., None]) * cool).astype(np.float32)


def _case(h: int = 48, w: int = 64):
    painting = _stripes(h, w)
    mask = np.zeros((h, w), np.float32)
    mask[14:34, 20:44] = 1.0
    obj = np.zeros((h, w, 3), np.float32)
    obj[...] = (0.1, 0.8, 0.2)  # a flat green 'photo' object
    obj[20:28, 26:38] = (0.95, 0.95, 0.95)
    composite = np.where(mask[..., None] > 0.5, obj, painting).astype(np.float32)
    return painting, composite, mask


def _run(painting, composite, mask, params, net=None, loose=None, control=None):
    events = list(run_harmonize(painting, composite, mask, loose, params, control=control, network=net))
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events


# ------------------------------------------------------------------------------ validation


def test_validation_rejects_bad_inputs_with_one_sentence():
    p, c, m = _case()
    validate_inputs(p, c, m)
    cases = [
        ((p, c[:40], m), "differ in size"),
        ((p, c, m[:, :60]), "differ in size"),
        ((p, c, np.zeros_like(m)), "is empty"),
        ((p, c, np.ones_like(m)), "covers the whole painting"),
        ((p, c, np.full_like(m, 0.6)), "covers the whole painting"),
        ((p, c, np.where(m > 0, 0.7, 0.0).astype(np.float32)), "not a black-and-white mask"),
        ((p, c, m, np.full_like(m, 0.7)), "loose mask is not a black-and-white"),
        ((p, c, m, np.zeros_like(m)), "loose mask is empty"),
        ((p[..., :2], c, m), "RGB"),
    ]
    for args, words in cases:
        with pytest.raises(StudioInputError, match=words) as e:
            validate_inputs(*args)
        assert str(e.value).count(". ") == 0  # one sentence
    with pytest.raises(StudioInputError, match="mask.png"):
        validate_inputs(p, c, np.zeros_like(m), names={"mask": "mask.png"})
    # a soft (feathered) edge is fine
    soft = np.clip(np.asarray(m, np.float32), 0, 1)
    soft[13, 20:44] = 0.5
    validate_inputs(p, c, soft)


def test_bad_params_are_refused():
    p, c, m = _case()
    for bad in ({"tau": -1.0}, {"size": 8}, {"mode": "nope"}, {"pass1_iterations": -1}, {"feather": -2.0}):
        with pytest.raises(StudioInputError):
            list(run_harmonize(p, c, m, None, HarmonizeParams(**bad)))


# ------------------------------------------------------------------------------ quick modes


def test_color_mode_moves_the_object_towards_the_painting_palette():
    p, c, m = _case()
    fin = _run(p, c, m, HarmonizeParams(mode="color", feather=0.0))[-1]
    out = fin.image
    assert out.shape == p.shape and out.dtype == np.float32
    assert fin.iterations == 0  # an instant mode iterates nothing (the app said "Finished after 1 iteration")
    inside = m > 0.5
    before = np.abs(c[inside].mean(0) - p[~inside].mean(0)).sum()
    after = np.abs(out[inside].mean(0) - p[~inside].mean(0)).sum()
    assert after < 0.3 * before
    assert np.allclose(out[~inside], p[~inside], atol=1e-6)  # the painting is untouched
    # the object's structure survives: the white patch is still brighter than the rest of the object
    assert out[20:28, 26:38].mean() > out[14:20, 20:44].mean() + 0.1
    direct = color_transfer(p, c, m)
    assert np.allclose(direct[~inside], c[~inside])


@pytest.mark.parametrize("mode", ["poisson", "poisson-mixed"])
def test_poisson_modes_remove_the_seam(mode):
    _, _, m = _case()
    h, w = m.shape
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    p = (np.array([0.2, 0.3, 0.7], np.float32) * (1 - yy) + np.array([0.8, 0.5, 0.3], np.float32) * yy)
    p = np.broadcast_to(p, (h, w, 3)).astype(np.float32).copy()  # a smooth sky-to-earth gradient
    c = np.where(m[..., None] > 0.5, np.array([0.1, 0.8, 0.2], np.float32), p).astype(np.float32)
    c[23:26, 30:35] = 0.95
    out = _run(p, c, m, HarmonizeParams(mode=mode))[-1].image
    assert out.shape == p.shape
    inside = m > 0.5
    # the object's colour is pulled to the painting's boundary values: far less green than pasted
    assert out[inside][:, 1].mean() < c[inside][:, 1].mean() - 0.1
    assert seam_measure(c, m) > 3
    assert seam_measure(out, m) < 0.5 * seam_measure(c, m)
    far = np.ones_like(m, bool)
    far[10:38, 16:48] = False
    assert np.abs(out[far] - p[far]).max() < 2 / 255
    # the object's own detail survives: the white patch still stands out
    assert out[23:26, 30:35].mean() > out[14:18, 20:44].mean() + 0.1


@pytest.mark.parametrize("mode", ["poisson", "poisson-mixed"])
def test_poisson_modes_leave_the_painting_outside_the_loose_mask_as_it_was(mode):
    """OpenCV solves over the object's bounding box, so the painting changed (by up to 16 of 255 levels on a
    harmonization case) outside the loose mask, which promises "how far around the object the painting may
    change"."""
    p, c, m = _case()
    p = (p * 0.6 + 0.4 * np.random.default_rng(1).random(p.shape)).astype(np.float32)  # a painting with texture
    c = np.where(m[..., None] > 0.5, c, p).astype(np.float32)
    loose = np.zeros_like(m)
    loose[11:37, 17:47] = 1.0  # 3 px round the object
    out = _run(p, c, m, HarmonizeParams(mode=mode), loose=loose)[-1].image
    assert np.array_equal(out[loose < 0.5], p[loose < 0.5])
    assert np.abs(out[m > 0.5] - c[m > 0.5]).mean() > 0.02  # the object itself is blended
    default = _run(p, c, m, HarmonizeParams(mode=mode, loose_radius=2))[-1].image  # no loose mask: the radius
    far = np.ones_like(m, bool)
    far[12:36, 18:46] = False
    assert np.array_equal(default[far], p[far])


def test_confine_fades_to_the_loose_masks_edge_whatever_its_shape():
    """The fade was scaled by the widest part of the ring, so a loose mask wider on one side (a rectangle given on
    the command line) or a stray speck kept a step of up to 0.85 of the change at its edge."""
    from studio.engines.harmonize.quick import confine
    from studio.engines.masks import loose_region

    h, w = 60, 80
    painting, out = np.zeros((h, w, 3), np.float32), np.ones((h, w, 3), np.float32)
    tight = np.zeros((h, w), np.float32)
    tight[20:40, 10:30] = 1.0
    loose = np.zeros((h, w), np.float32)
    loose[17:43, 7:60] = 1.0  # 3 px round the object, 30 px to its right
    loose[5, 75] = 1.0  # a speck far from it
    weight = confine(painting, out, tight, loose)[..., 0]
    assert (weight[tight > 0.5] == 1.0).all() and (weight[loose_region(tight, loose, 0) < 0.5] == 0.0).all()
    edge = (loose > 0.5) & (cv2_erode(loose) < 0.5) & (tight < 0.5)
    assert weight[edge].max() <= 0.5  # half at most, where the ring is one pixel from the object
    assert weight[30, 59] < 0.05 and weight[5, 75] < 0.05  # the far edge of the wide side, and the speck
    assert weight[30, 30] > 0.9  # next to the object, nearly all of the change
    # a loose mask smaller than the object still lets the whole object change (the two together)
    small = np.zeros((h, w), np.float32)
    small[25:35, 15:25] = 1.0
    assert (confine(painting, out, tight, small)[..., 0][tight > 0.5] == 1.0).all()


def cv2_erode(mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.erode(mask, np.ones((3, 3), np.uint8))


def test_gatys_mode_changes_only_the_loose_region(random_net):
    p, c, m = _case()
    params = HarmonizeParams(mode="gatys", size=64, gatys_iterations=4, loose_radius=4, feather=1.0)
    events = _run(p, c, m, params, net=random_net)
    out = events[-1].image
    assert out.shape == p.shape
    assert any(isinstance(e, Progress) and e.stage == "gatys" for e in events)
    assert np.abs(out[m > 0.5] - c[m > 0.5]).mean() > 1e-3
    far = np.ones_like(m, bool)
    far[8:40, 14:50] = False
    assert np.allclose(out[far], p[far], atol=1e-6)


# ------------------------------------------------------------------------------ two passes


def test_two_pass_run_lowers_the_style_distance_inside_the_mask(random_net):
    p, c, m = _case()
    params = HarmonizeParams(mode="dph", size=64, pass1_iterations=6, pass2_iterations=6, loose_radius=4,
                             preview_every=2, crop_margin=8)
    events = _run(p, c, m, params, net=random_net)
    fin = events[-1]
    assert not fin.cancelled and fin.iterations == 12
    progress = [e for e in events if isinstance(e, Progress)]
    assert {e.stage for e in progress} == {"pass 1", "pass 2"}
    assert progress[-1].iteration == progress[-1].total == 12
    assert any(e.preview is not None and e.preview.shape == (48, 64, 3) for e in progress)
    assert progress[-1].eta_s == pytest.approx(0.0)
    assert any(isinstance(e, Info) and "Pass 2" in e.message for e in events)
    assert fin.extra["pass1"].shape == (48, 64, 3) and fin.extra["mapped_positions"] > 0
    out = fin.image
    assert out.shape == p.shape and np.isfinite(out).all()
    scorer = HarmonizeScorer(random_net, c, m, size=64)
    assert scorer.style_distance(out) < 0.9 * scorer.style_distance(c)
    assert scorer.style_distance(fin.extra["pass1"]) < scorer.style_distance(c)
    # the painting outside the feathered object is untouched
    far = np.ones_like(m, bool)
    far[10:38, 16:48] = False
    assert np.allclose(out[far], p[far], atol=1e-6)
    # the object was rebuilt from the painting's patches after pass 2 (the paper's post-processing)
    assert any(isinstance(e, Info) and "painting's own 7x7 patches" in e.message for e in events)
    plain = _run(p, c, m, params.with_changes(patch_synthesis=False), net=random_net)
    assert not any(isinstance(e, Info) and "7x7 patches" in e.message for e in plain)
    assert not np.allclose(plain[-1].image, out, atol=1e-3)


def test_result_is_at_the_input_resolution_and_cancel_returns_an_image(random_net):
    p, c, m = _case(96, 128)
    control = JobControl()
    params = HarmonizeParams(mode="dph", size=48, pass1_iterations=50, pass2_iterations=50, loose_radius=2)
    out = None
    for ev in run_harmonize(p, c, m, None, params, control=control, network=random_net):
        if isinstance(ev, Progress) and ev.iteration == 2:
            control.cancel()
        if isinstance(ev, Finished):
            out = ev
    assert out is not None and out.cancelled and out.iterations == 2
    assert out.image.shape == (96, 128, 3)


def test_color_transfer_keeps_the_object_in_the_paintings_gamut():
    # a painting of muted reds and greens; a grey object with a small saturated red part: matching the object's
    # a* spread to the painting's multiplies it, and plain Reinhard pushes that red far beyond the painting's own
    import cv2

    rng = np.random.default_rng(0)
    h, w = 64, 64
    pick = rng.random((h, w, 1)) < 0.5
    p = np.where(pick, [0.62, 0.45, 0.42], [0.45, 0.58, 0.45]).astype(np.float32)
    p = (p + rng.normal(0, 0.01, (h, w, 3))).clip(0, 1).astype(np.float32)
    m = np.zeros((h, w), np.float32)
    m[16:48, 16:48] = 1
    c = p.copy()
    c[16:48, 16:48] = [0.5, 0.5, 0.5]
    c[16:20, 16:48] = [0.9, 0.1, 0.1]
    out = color_transfer(p, c, m)
    lab = lambda a: cv2.cvtColor(a.astype(np.float32), cv2.COLOR_RGB2LAB)  # noqa: E731
    ring = lab(p)[m < 0.5]
    got = lab(out)[m > 0.5]
    chroma = lambda v: np.hypot(v[:, 1], v[:, 2])  # noqa: E731
    assert chroma(got).max() <= np.percentile(chroma(ring), 99.5) + 1.0  # no colour more saturated
    assert got[:, 0].min() >= ring[:, 0].min() - 1.0 and got[:, 0].max() <= ring[:, 0].max() + 1.0
    # the object's structure survives: its red part is still redder than the rest of it
    a = lab(out)[..., 1]
    assert a[16:20, 16:48].mean() > a[24:48, 16:48].mean() + 5.0


def test_a_run_below_the_paintings_resolution_says_so_and_its_recipe_keeps_it(random_net):
    from studio.recipe import Recipe

    p, c, m = _case(96, 128)
    small = HarmonizeParams(mode="dph", size=64, pass1_iterations=1, pass2_iterations=1, loose_radius=2,
                            crop_margin=4)
    events = _run(p, c, m, small, net=random_net)
    notes = [e for e in events if isinstance(e, Info) and "below the painting's resolution" in e.message]
    assert len(notes) == 1 and "64x48 for a 128x96 painting" in notes[0].message
    recipe = Recipe.of_run("harmonize", events[-1], small, [])
    assert recipe.extra["worked_below"] == {"worked_at": [64, 48], "painting": [128, 96]}
    full = _run(p, c, m, small.with_changes(size=128), net=random_net)
    assert not any(isinstance(e, Info) and "below the painting's" in e.message for e in full)
    assert "worked_below" not in Recipe.of_run("harmonize", full[-1], small, []).extra


def test_by_default_a_harmonization_works_at_the_paintings_own_resolution(random_net):
    p, c, m = _case(96, 128)
    default = HarmonizeParams(pass1_iterations=1, pass2_iterations=1, loose_radius=2, crop_margin=4)
    assert default.size == OWN_SIZE
    events = _run(p, c, m, default, net=random_net)
    said = [e.message for e in events if isinstance(e, Info)]
    assert any(m.startswith("Working at 128x96;") for m in said)
    assert not any("softer" in m for m in said) and "worked_below" not in events[-1].extra
    assert working_shape(96, 128, OWN_SIZE) == (96, 128)
    # a painting larger than this machine fits is worked on at the largest it fits, and that is said
    top = int(HarmonizeParams.LIMITS["size"].highest)
    assert working_shape(3 * top, 4 * top, OWN_SIZE) == (round(top * 3 / 4), top)


def test_a_size_below_the_smallest_is_refused_but_0_means_the_paintings_own():
    validate_params(HarmonizeParams(size=OWN_SIZE))
    for bad in (1, 31):
        with pytest.raises(StudioInputError, match="painting's own resolution"):
            validate_params(HarmonizeParams(size=bad))


def _run_with_tau_change(net, when: str, tau: float):
    p, c, m = _case()
    params = HarmonizeParams(mode="dph", size=64, pass1_iterations=3, pass2_iterations=4, loose_radius=4,
                             crop_margin=8, tau=2.0)
    control = JobControl()
    events = []
    for ev in run_harmonize(p, c, m, None, params, control=control, network=net):
        events.append(ev)
        if isinstance(ev, Progress) and ev.stage == when and ev.iteration in (1, 4) and tau:
            control.update(tau=tau)
            tau = 0.0  # once
    return events


def test_style_strength_moved_while_pass_2_runs_applies_at_the_next_iteration(random_net):
    plain = _run_with_tau_change(random_net, "pass 2", 0.0)
    moved = _run_with_tau_change(random_net, "pass 2", 20.0)
    said = [e.message for e in moved if isinstance(e, Info) and "style strength 20" in e.message]
    assert said == ["Pass 2: style strength 20 from the next iteration."]
    # the iterations before the change are the same run; the ones after it are not
    lp = [e.losses["style"] for e in plain if isinstance(e, Progress) and e.stage == "pass 2"]
    lm = [e.losses["style"] for e in moved if isinstance(e, Progress) and e.stage == "pass 2"]
    assert lp[0] == lm[0] and lm[-1] != lp[-1]
    assert lm[-1] > 5 * lp[-1]  # the weighted style term carries the new strength (20 against 2)
    assert moved[-1].extra["params"]["tau"] == 20.0 and plain[-1].extra["params"]["tau"] == 2.0
    assert not np.array_equal(moved[-1].image, plain[-1].image)


def test_style_strength_moved_during_pass_1_sets_pass_2s_weights(random_net):
    moved = _run_with_tau_change(random_net, "pass 1", 20.0)
    pass2 = [e.message for e in moved if isinstance(e, Info) and e.message.startswith("Pass 2: consistent")]
    assert len(pass2) == 1 and "style 20," in pass2[0]
    assert moved[-1].extra["params"]["tau"] == 20.0


def test_a_style_strength_out_of_its_range_sent_to_a_running_job_is_ignored(random_net):
    moved = _run_with_tau_change(random_net, "pass 2", 500.0)
    assert not any(isinstance(e, Info) and "style strength 500" in e.message for e in moved)
    assert moved[-1].extra["params"]["tau"] == 2.0
