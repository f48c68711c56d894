"""Quality on the reference images: a small run stylises about as strongly as the classic
implementation's result while keeping the content (needs ../shared)."""

from __future__ import annotations

import numpy as np

from studio.engines.events import Finished, JobControl, Progress
from studio.engines.pixels import resize_long_side
from studio.engines.style.metrics import StyleScorer
from studio.engines.style.params import StyleParams
from studio.engines.style.pixel_measures import outline_agreement, palette_distance
from studio.engines.style.run import run_style
from studio.imageio import load_image


def test_starry_night_small_run_close_to_classic_reference(shared_dir, default_net):
    """On the network a user's run gets (the offline default); the figures are that network's."""
    size = 256
    content = resize_long_side(load_image(shared_dir / "images/content/tubingen.jpg").rgb, size)
    style = load_image(shared_dir / "images/style/starry_night.jpg").rgb
    reference = resize_long_side(load_image(shared_dir / "reference/neural-style/tubingen_starry.png").rgb, size)
    params = StyleParams(size=size, iterations=30)  # the defaults, but for the iterations
    fin = [e for e in run_style(content, [style], params, network=default_net) if isinstance(e, Finished)][0]
    out = fin.image
    assert out.shape == content.shape

    scorer = StyleScorer(default_net, content, style)
    ours, ref, photo = scorer.score(out), scorer.score(reference), scorer.score(content)
    print(f"\nours {ours}\nclassic reference {ref}\nphoto {photo}")
    # Much closer to the painting's statistics than the photo is, at every size ...
    for k in ("style@1", "style@1/2", "style@1/4"):
        assert ours[k] < 0.5 * photo[k], (k, ours, photo)
    # ... about as stylised as the classic VGG-19 result, with no more loss of content.
    assert ours["style@1"] < 1.5 * ref["style@1"], (ours, ref)
    assert ours["content"] < 1.2 * ref["content"], (ours, ref)
    # and the picture is not washed out: it keeps the photo's layout (correlation of luminance)
    lum = out.mean(-1).ravel() - out.mean()
    lum_c = content.mean(-1).ravel() - content.mean()
    assert float(np.dot(lum, lum_c) / (np.linalg.norm(lum) * np.linalg.norm(lum_c))) > 0.3
    # and keeps its outlines, by a measure no network computes (0.898 now; 0.869 on VGG16-hed; 0.741 when the
    # defaults started at 64 px, the washout of issue 20; the classic's 512 px result: 0.567, it re-lights more)
    assert outline_agreement(out, content) > 0.8
    # and takes the painting's colours, also into the town (palette distance in CIELAB, no network: 2.98 with the
    # classic's balance of the layers, 3.46 with relu1_1 at 5 before it, 4.16 with all at 1, where the houses kept
    # the photo's white; the classic's 512 px result: 1.72)
    assert palette_distance(out, style) < 3.8


def test_the_first_scale_at_256_px_keeps_the_town(shared_dir, default_net):
    """The 256 px washout of issue 20 came from the first scale: the layout every later scale inherits. Run at
    the defaults until the first scale ends and measure its picture against the photo, with pixels only."""
    content = load_image(shared_dir / "images/content/tubingen.jpg").rgb
    style = load_image(shared_dir / "images/style/starry_night.jpg").rgb
    control, coarse = JobControl(), None
    for ev in run_style(content, [style], StyleParams(size=256), control, network=default_net):
        if isinstance(ev, Progress):
            if ev.scale_index > 0:
                control.cancel()
                break
            coarse = ev.preview if ev.preview is not None else coarse
    assert coarse is not None and ev.scale_count == 2  # 128 and 256 px
    # 0.776 from the 128 px first scale on VGG16-hed; 0.489 from the old 64 px one, a blotch where the town was
    assert outline_agreement(coarse.astype(np.float32) / 255, content) > 0.65


def test_a_face_stays_a_face_under_the_scream(shared_dir, default_net, one_torch_thread):
    """Issue 20: the subject as recognisable as the classic keeps it. scikit-image's astronaut under The Scream at
    256 px, the defaults: a face detector (scikit-image's LBP cascade in ``gan.framing``, which no style loss sees)
    finds her face where it is in the photo, and the picture has taken the painting's colours. With relu5_1 at the
    weight of the other layers (the defaults before) the painting's dark patches covered her cheeks and eyes, and
    it found none. One thread: the run the sheets looked at (two threads sum in another order)."""
    import skimage.data

    from studio.engines.gan.framing import find_face

    photo = resize_long_side(skimage.data.astronaut().astype(np.float32) / 255, 256)
    style = load_image(shared_dir / "images/style/the_scream.jpg").rgb
    fin = [e for e in run_style(photo, [style], StyleParams(size=256), network=default_net)
           if isinstance(e, Finished)][0]
    where, found = find_face(photo), find_face(fin.image)
    assert where is not None
    assert found is not None, "no face found in the stylised astronaut"
    # the same face: its centre within a third of the photo's face's side
    centre = np.array([where.top + where.side / 2, where.left + where.side / 2])
    assert np.abs(np.array([found.top + found.side / 2, found.left + found.side / 2]) - centre).max() < where.side / 3
    # not a face kept by leaving the photo alone: the painting's colours (1.64 here; the photo 10.7)
    assert palette_distance(fin.image, style) < 2.0


def test_less_photo_detail_gives_bolder_strokes_over_less_of_the_photos_texture(shared_dir, default_net,
                                                                                one_torch_thread):
    """Issue 20's "busy small texture" is the photo's own fine detail, added back at every finer scale: the Photo
    detail setting takes it out. Tübingen x The Scream at 256 px, 30 iterations a scale, by pixel measures no
    network computes: at 0 the finest band correlates 0.395 with the photo's (0.645 at 1, the default) and the
    strokes' coherence is 0.642 (0.608); at 512 px with the default iterations 0.650 -> 0.687, the classic 0.724."""
    from studio.engines.style.pixel_measures import photo_texture, stroke_coherence

    content = resize_long_side(load_image(shared_dir / "images/content/tubingen.jpg").rgb, 256)
    style = load_image(shared_dir / "images/style/the_scream.jpg").rgb
    out = {}
    for detail in (0.0, 1.0):
        params = StyleParams(size=256, iterations=30, photo_detail=detail)
        out[detail] = [e for e in run_style(content, [style], params, network=default_net)
                       if isinstance(e, Finished)][0].image
    texture = {d: photo_texture(im, content) for d, im in out.items()}
    strokes = {d: stroke_coherence(im) for d, im in out.items()}
    assert texture[0.0] < 0.8 * texture[1.0], texture
    assert strokes[0.0] > strokes[1.0] + 0.015, strokes
    assert outline_agreement(out[0.0], content) > 0.8  # the town's outlines stay (0.837)
