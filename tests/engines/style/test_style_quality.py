"""Quality on the reference images: a small run stylises about as strongly as the classic
implementation's result while keeping the content (needs ../shared)."""

from __future__ import annotations

import numpy as np

from studio.engines.events import Finished
from studio.engines.pixels import resize_long_side
from studio.engines.style.metrics import StyleScorer
from studio.engines.style.params import StyleParams
from studio.engines.style.run import run_style
from studio.imageio import load_image


def test_starry_night_small_run_close_to_classic_reference(shared_dir, hed_net):
    size = 256
    content = resize_long_side(load_image(shared_dir / "images/content/tubingen.jpg").rgb, size)
    style = load_image(shared_dir / "images/style/starry_night.jpg").rgb
    reference = resize_long_side(load_image(shared_dir / "reference/neural-style/tubingen_starry.png").rgb, size)
    params = StyleParams(size=size, scales=2, iterations=30)
    fin = [e for e in run_style(content, [style], params, network=hed_net) if isinstance(e, Finished)][0]
    out = fin.image
    assert out.shape == content.shape

    scorer = StyleScorer(hed_net, content, style)
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
