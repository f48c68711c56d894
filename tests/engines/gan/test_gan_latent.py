"""Latent tools: sampling, truncation, slerp, grids, export; principal directions; projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studio.animation import save_gif, save_png_sequence
from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, Progress
from studio.engines.gan.directions import (
    compute_directions,
    load_or_compute_directions,
    orthonormalise,
    raw_direction,
)
from studio.engines.gan.latent import (
    grid_cell,
    image_grid,
    interpolate,
    lerp,
    load_latents,
    render,
    sample_latents,
    save_latents,
    slerp,
    upscale,
)
from studio.engines.gan.models import DCGAN_G, GanArch
from studio.engines.gan.project import ProjectParams, run_project

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def small_g() -> DCGAN_G:
    torch.manual_seed(0)
    g = DCGAN_G(GanArch(image_size=16, nz=12, ngf=8))
    # (PyTorch's default initialisation: larger weights than DCGAN's, so samples differ visibly)
    # give the batch norms real statistics so eval mode is meaningful
    g.train()
    with torch.no_grad():
        for _ in range(5):
            g(torch.randn(64, 12))
    return g.eval()


def test_sampling_is_seeded_and_truncated() -> None:
    a, b = sample_latents(5, 10, seed=3), sample_latents(5, 10, seed=3)
    assert a.shape == (5, 10) and a.dtype == np.float32 and np.array_equal(a, b)
    assert not np.array_equal(a, sample_latents(5, 10, seed=4))
    t = sample_latents(200, 10, seed=3, truncation=0.5)
    assert np.abs(t).max() <= 0.5 and t.std() > 0.2
    with pytest.raises(StudioInputError):
        sample_latents(2, 10, 0, truncation=-1)


def test_slerp_endpoints_and_norms() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(100).astype(np.float32), rng.standard_normal(100).astype(np.float32) * 1.3
    assert np.allclose(slerp(a, b, 0.0), a, atol=1e-5) and np.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid_s, mid_l = slerp(a, b, 0.5), lerp(a, b, 0.5)
    # slerp keeps the norm on the line between the endpoints' norms; lerp's midpoint sags towards 0
    assert np.linalg.norm(mid_s) == pytest.approx((np.linalg.norm(a) + np.linalg.norm(b)) / 2, rel=1e-4)
    assert np.linalg.norm(mid_l) < 0.8 * np.linalg.norm(mid_s)
    frames = interpolate(a, b, 9, "slerp")
    assert frames.shape == (9, 100) and np.allclose(frames[0], a, atol=1e-5) and np.allclose(frames[-1], b, atol=1e-5)
    angles = [np.arccos(np.clip(frames[i] @ frames[i + 1] / np.linalg.norm(frames[i]) / np.linalg.norm(frames[i + 1]),
                                -1, 1)) for i in range(8)]
    assert np.allclose(angles, angles[0], rtol=1e-3)  # constant angular speed
    assert np.allclose(interpolate(a, b, 3, "lerp")[1], (a + b) / 2, atol=1e-6)
    assert np.allclose(slerp(a, a, 0.3), a, atol=1e-5)  # identical endpoints


def test_grid_and_grid_cells() -> None:
    imgs = np.stack([np.full((4, 6, 3), i * 20, np.uint8) for i in range(7)])
    g = image_grid(imgs, cols=3, pad=1)
    assert g.shape == (3 * 4 + 4, 3 * 6 + 4, 3)
    for i in range(7):
        r, c = divmod(i, 3)
        x, y = 1 + c * 7 + 2, 1 + r * 5 + 1
        assert grid_cell((x, y), 7, 4, 6, cols=3, pad=1) == i and g[y, x, 0] == i * 20
    assert grid_cell((0, 0), 7, 4, 6, cols=3, pad=1) is None  # padding
    assert grid_cell((1 + 1 * 7 + 2, 1 + 2 * 5 + 1), 7, 4, 6, cols=3, pad=1) is None  # beyond the 7th
    up = upscale(imgs[3], 4)
    assert up.shape == (16, 24, 3) and (up == 60).all()
    assert upscale(imgs[3], 3, smooth=True).shape == (12, 18, 3)


def test_export_gif_png_sequence_and_latents(tmp_path: Path, small_g: DCGAN_G) -> None:
    z = interpolate(*sample_latents(2, 12, 0), 6)
    frames = list(render(small_g, z))
    assert frames[0].shape == (16, 16, 3) and frames[0].dtype == np.uint8
    gif = save_gif(frames, tmp_path / "walk.gif", fps=10)
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.info.get("duration") == 100
    paths = save_png_sequence(frames, tmp_path / "seq", metadata={"k": "v"})
    assert [p.name for p in paths] == [f"frame_{i:04d}.png" for i in range(6)]
    assert np.array_equal(np.asarray(Image.open(paths[2]).convert("RGB")), frames[2])
    save_latents(tmp_path / "z.npy", z)
    assert np.array_equal(load_latents(tmp_path / "z.npy", nz=12), z)
    with pytest.raises(StudioInputError, match="12 dimensions; this generator takes 7"):
        load_latents(tmp_path / "z.npy", nz=7)
    np.save(tmp_path / "obj.npy", np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(StudioInputError, match="obj.npy"):
        load_latents(tmp_path / "obj.npy")  # never unpickled
    with pytest.raises(StudioInputError, match=".gif"):
        save_gif(frames, tmp_path / "walk.png")


def test_principal_directions_are_orthonormal_and_cached(tmp_path: Path, small_g: DCGAN_G,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    d = compute_directions(small_g, n_components=6, n_samples=400)
    assert d.vectors.shape == (6, 12)
    assert np.allclose(d.vectors @ d.vectors.T, np.eye(6), atol=1e-5)
    assert np.all(np.diff(d.explained) <= 1e-7) and 0 < d.explained.sum() <= 1  # sorted by variance
    assert np.allclose(d.stdevs, 1.0, atol=0.25)  # unit directions of a standard normal (fitted on 400)
    # the first direction moves the early activations along their first principal component more than
    # a random unit direction does
    z = torch.from_numpy(sample_latents(64, 12, 5))
    with torch.no_grad():
        base = small_g.first_block(z).flatten(1)
        moved = small_g.first_block(z + torch.from_numpy(d.vectors[0])).flatten(1)
        rnd = torch.from_numpy(orthonormalise(np.random.default_rng(1).standard_normal((1, 12)))[0])
        moved_rnd = small_g.first_block(z + rnd).flatten(1)
    assert float((moved - base).norm()) > float((moved_rnd - base).norm())
    # edits in standard deviations
    z0 = sample_latents(1, 12, 9)[0]
    assert np.allclose(d.apply(z0, {2: 1.5}) - z0, 1.5 * d.stdevs[2] * d.vectors[2], atol=1e-5)
    assert np.array_equal(raw_direction(12, 3), np.eye(12, dtype=np.float32)[3])
    # cached on disk by the weights' hash: the second call does not compute
    first = load_or_compute_directions(small_g, "abc123", 6, 400, cache=tmp_path)
    assert not first.from_cache and len(list(tmp_path.glob("abc123*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr("studio.engines.gan.directions.compute_directions", boom)
    again = load_or_compute_directions(small_g, "abc123", 6, 400, cache=tmp_path)
    assert again.from_cache and np.array_equal(again.vectors, first.vectors)
    with pytest.raises(AssertionError, match="recomputed"):  # other weights: another cache entry
        load_or_compute_directions(small_g, "def456", 6, 400, cache=tmp_path)


def test_projection_lowers_the_reconstruction_error(small_g: DCGAN_G) -> None:
    target_z = sample_latents(1, 12, 77)
    target = render(small_g, target_z)[0].astype(np.float32) / 255
    events = list(run_project(small_g, target, ProjectParams(steps=60, candidates=8, learning_rate=0.05)))
    progress = [e for e in events if isinstance(e, Progress)]
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.extra["z"].shape == (12,)
    assert progress and progress[-1].preview is not None
    assert fin.extra["z_mse"] < 0.5 * fin.extra["start_mse"]
    recon = render(small_g, fin.extra["z"])[0].astype(np.float32) / 255
    assert np.mean((recon - target) ** 2) == pytest.approx(fin.extra["z_mse"], abs=2e-3)


def test_projection_fits_a_photos_detail_over_the_latent_and_the_sliders_still_steer_it(small_g: DCGAN_G) -> None:
    """A picture the generator cannot make: the latent alone leaves most of the error; the detail fitted after it
    reproduces the picture, renders the same through the folded generator, and moves with a latent edit."""
    from studio.engines.gan.models import FusedGenerator, detail_shape, generate

    rng = np.random.default_rng(3)
    target = np.clip(cv2_smooth(rng.random((16, 16, 3))), 0, 1).astype(np.float32)
    params = ProjectParams(steps=40, candidates=8, detail_steps=150)
    events = list(run_project(small_g, target, params))
    fin = events[-1]
    assert isinstance(fin, Finished)
    stages = {e.stage for e in events if isinstance(e, Progress)}
    assert stages == {"projecting", "fitting the photo's detail"}
    assert [e.iteration for e in events if isinstance(e, Progress)][-1] == 190 == fin.iterations
    detail = fin.extra["detail"]
    assert detail.shape == detail_shape(small_g) == (8, 8, 8)
    assert fin.extra["mse"] < 0.6 * fin.extra["z_mse"]  # measured 0.55x: one layer after the detail here
    with_detail = render(small_g, fin.extra["z"], detail=detail)[0].astype(np.float32) / 255
    assert np.mean((with_detail - target) ** 2) == pytest.approx(fin.extra["mse"], abs=2e-3)
    assert np.array_equal((fin.image * 255 + 0.5).astype(np.uint8), render(small_g, fin.extra["z"], detail=detail)[0])
    fused = render(FusedGenerator(small_g), fin.extra["z"], detail=detail)[0].astype(np.float32) / 255
    assert np.abs(fused - with_detail).max() <= 1 / 255 + 1e-6
    # a latent edit moves the picture with the detail on as much as without it (measured 0.0027 and 0.0028 here)
    moved = fin.extra["z"] + 1.5 * np.eye(12, dtype=np.float32)[0]
    step_with = np.abs(render(small_g, moved, detail=detail)[0].astype(np.float32) / 255 - with_detail).mean()
    step_alone = np.abs(render(small_g, moved)[0].astype(np.float32) - render(small_g, fin.extra["z"])[0]).mean()
    assert step_with > 0.8 * step_alone / 255 > 0
    # z alone when asked, and a detail from another generator is refused in one sentence
    alone = list(run_project(small_g, target, ProjectParams(steps=40, candidates=8, detail_steps=0)))[-1]
    assert alone.extra["detail"] is None and alone.extra["mse"] == alone.extra["z_mse"] == fin.extra["z_mse"]
    with pytest.raises(StudioInputError, match="another generator"):
        generate(small_g, torch.zeros(1, 12), torch.zeros(16, 4, 4))


def cv2_smooth(a: np.ndarray) -> np.ndarray:
    """A smooth random picture: noise blurred, stretched to the full range."""
    import cv2

    b = cv2.GaussianBlur(a.astype(np.float32), (0, 0), 1.5)
    return (b - b.min()) / (b.max() - b.min())


def test_projection_eta_counts_the_steps_not_the_search_of_starts(small_g: DCGAN_G) -> None:
    """The search of the random starts renders every candidate at once; the steps render one picture each. An ETA
    from the time since Run would count the search once per remaining step (24 min said for a 1 min fit)."""
    import time as _time

    class SlowSearch(torch.nn.Module):
        def __init__(self, g: DCGAN_G) -> None:
            super().__init__()
            self.g, self.arch = g, g.arch

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            if z.shape[0] > 1:
                _time.sleep(1.0)  # the search of the starts
            return self.g(z)

    target = render(small_g, sample_latents(1, 12, 5))[0].astype(np.float32) / 255
    events = list(run_project(SlowSearch(small_g), target, ProjectParams(steps=4, candidates=8, detail_steps=0)))
    first = [e for e in events if isinstance(e, Progress)][0]
    assert first.elapsed_s >= 1.0
    # three more steps of a small generator, without the search: an ETA from the time since Run would be three
    # times the elapsed time
    assert first.eta_s is not None and first.eta_s < first.elapsed_s


def test_a_fit_works_on_a_copy_of_the_generator_on_its_own_device(small_g):
    """The app's explorer keeps using its generator on the CPU while a fit runs on the Preferences' device: the fit
    used to move the caller's generator to its device and switch off its gradients in place."""
    target = np.random.default_rng(3).random((16, 16, 3)).astype(np.float32)
    small_g.requires_grad_(True)
    before = {k: v.clone() for k, v in small_g.state_dict().items()}
    fin = list(run_project(small_g, target, ProjectParams(steps=2, candidates=2, detail_steps=0), device="cpu"))[-1]
    assert isinstance(fin, Finished)
    assert all(p.requires_grad for p in small_g.parameters())
    assert all(torch.equal(v, before[k]) for k, v in small_g.state_dict().items())
