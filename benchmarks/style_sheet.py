"""Contact sheets for judging style transfer by eye: photo | studio at each size | the classic reference.

    python benchmarks/style_sheet.py --out /tmp/sheets [--sizes 256,512] [--pairs tubingen:starry_night,...]
                                     [--set key=value ...] [--label NAME]

Pairs default to every painting in ``../shared/images/style`` with Tübingen (the classic neural-style outputs
in ``../shared/reference/neural-style`` stand beside them where they exist) and scikit-image's offline sample
photos (astronaut, coffee, chelsea, rocket) with each painting. ``--set`` changes StyleParams fields (an
experiment); ``--label`` names the sheet, so a before and an after sheet sit side by side in the folder.
Each row is scaled to one height; every result is also saved on its own. Nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
REFERENCE_NAMES = {"starry_night": "tubingen_starry", "the_scream": "tubingen_scream",
                   "shipwreck": "tubingen_shipwreck"}
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
ROW_HEIGHT = 256


def photo(name: str) -> np.ndarray:
    """RGB float32 [0, 1]: a photo in ../shared/images/content, or a scikit-image sample."""
    from studio.imageio import load_image

    path = SHARED / "images" / "content" / f"{name}.jpg"
    if path.is_file():
        return load_image(path).rgb
    import skimage.data

    img = getattr(skimage.data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=2)
    return (img[..., :3].astype(np.float32) / 255.0)


def painting(name: str) -> np.ndarray:
    from studio.imageio import load_image

    return load_image(SHARED / "images" / "style" / f"{name}.jpg").rgb


def reference(content: str, style: str) -> np.ndarray | None:
    ref = REFERENCE_NAMES.get(style)
    path = SHARED / "reference" / "neural-style" / f"{ref}.png"
    if content != "tubingen" or ref is None or not path.is_file():
        return None
    from studio.imageio import load_image

    return load_image(path).rgb


def to_row_height(img: np.ndarray, label: str) -> np.ndarray:
    h, w = img.shape[:2]
    out = cv2.resize(img, (max(1, round(w * ROW_HEIGHT / h)), ROW_HEIGHT), interpolation=cv2.INTER_AREA)
    out = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8).copy()
    cv2.rectangle(out, (0, 0), (min(out.shape[1], 8 + 8 * len(label)), 18), (0, 0, 0), -1)
    cv2.putText(out, label, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def parse_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--pairs", default="", help="content:style,... (default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a StyleParams change")
    ap.add_argument("--label", default="defaults")
    args = ap.parse_args()

    import torch

    from studio.engines.events import Finished
    from studio.engines.style.params import StyleParams
    from studio.engines.style.pixel_measures import (
        outline_agreement,
        palette_distance,
        photo_texture,
        ripple,
        stroke_coherence,
    )
    from studio.engines.style.run import run_style
    from studio.weights import network_for

    torch.set_num_threads(max(1, torch.get_num_threads()))
    styles = sorted(p.stem for p in (SHARED / "images" / "style").glob("*.jpg"))
    if args.pairs:
        pairs = [tuple(p.split(":")) for p in args.pairs.split(",")]
    else:
        pairs = [("tubingen", s) for s in styles] + [(c, s) for c in SKIMAGE_PHOTOS for s in styles]
    changes = {k: parse_value(v) for k, v in (s.split("=", 1) for s in args.set)}
    sizes = [int(s) for s in args.sizes.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for content_name, style_name in pairs:
        content, style = photo(content_name), painting(style_name)
        cells = [to_row_height(content, content_name), to_row_height(style, style_name)]
        for size in sizes:
            params = StyleParams(size=size, **changes)
            t0 = time.perf_counter()
            result = None
            for ev in run_style(content, [style], params, network=network_for(params)):
                if isinstance(ev, Finished):
                    result = ev.image
            seconds = time.perf_counter() - t0
            cv2.imwrite(str(out / f"{args.label}-{content_name}-{style_name}-{size}.png"),
                        cv2.cvtColor(np.clip(result * 255 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
            cells.append(to_row_height(result, f"studio {args.label} {size}px {seconds:.0f}s"))
            print(f"{content_name} x {style_name} at {size} px: {seconds:.1f} s, outlines "
                  f"{outline_agreement(result, content):.3f}, ripple {ripple(result):.3f}, photo texture "
                  f"{photo_texture(result, content):.3f}, palette {palette_distance(result, style):.2f}, strokes "
                  f"{stroke_coherence(result):.3f}", flush=True)
        ref = reference(content_name, style_name)
        if ref is not None:
            print(f"{content_name} x {style_name} classic: outlines {outline_agreement(ref, content):.3f}, "
                  f"ripple {ripple(ref):.3f}, photo texture {photo_texture(ref, content):.3f}, palette "
                  f"{palette_distance(ref, style):.2f}, strokes {stroke_coherence(ref):.3f}; painting ripple "
                  f"{ripple(style):.3f}, strokes {stroke_coherence(style):.3f}", flush=True)
            cells.append(to_row_height(ref, "classic neural-style 512px"))
        rows.append(np.concatenate(cells, axis=1))
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
    path = out / f"sheet-{args.label}.png"
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {path} ({len(rows)} pairs, sizes {sizes})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
