"""Nearest-neighbour matching of 3x3 feature patches by cosine similarity, in chunks.

Each query patch (a position of the composite's feature map, usually inside a mask) is compared
with every patch of the painting's feature map. The similarities are computed a block of queries
at a time, so memory stays at ``chunk x (painting positions)`` rather than a full
(HW) x (HW) matrix: a 700 px painting fits in a few hundred MB.

The pass-2 mapping of Luan et al. is then made spatially consistent (``refine_mapping``): each
position considers the matches of its 5x5 neighbours, shifted back by their offset, and keeps the
candidate that agrees best with the others (the smallest mean colour distance in the painting);
``mapped_region`` marks the painting positions the mapping uses (with a one-pixel ring), which is
what the style statistics are computed over, and ``upsample_region`` propagates it to lower layers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

DEFAULT_CHUNK_BYTES = 64 * 1024 * 1024


def patches(features: torch.Tensor, size: int = 3) -> torch.Tensor:
    """(H*W, C*size*size) patch vectors of features (C, H, W), zero-padded at the border."""
    c, h, w = features.shape
    cols = F.unfold(features[None].float(), size, padding=size // 2)  # (1, C*k*k, H*W)
    return cols[0].t().contiguous()


def _normalised(p: torch.Tensor) -> torch.Tensor:
    return p / p.norm(dim=1, keepdim=True).clamp_min(1e-8)


def nearest_patches(query: torch.Tensor, key: torch.Tensor, query_mask: torch.Tensor | None = None,
                    size: int = 3, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                    check: Callable[[], None] | None = None,
                    colours: tuple[torch.Tensor, torch.Tensor] | None = None, colour_weight: float = 0.0,
                    ) -> torch.Tensor:
    """For each position of ``query`` (C, H, W), the flat index into ``key`` (C, H2, W2) of the most
    similar patch (cosine similarity of size x size patches); -1 where ``query_mask`` is off.

    Never builds the full similarity matrix: at most ``chunk_bytes`` of similarities at a time.
    ``check`` (e.g. a cancel test that raises) runs before each chunk. ``colours`` (query (3, H, W), key
    (3, H2, W2): each position's colour, e.g. CIELAB / 100) with ``colour_weight`` w make the score
    ``cosine - w * |colour difference|^2``, so that among patches of like structure the one of like colour wins.
    """
    if query.shape[0] != key.shape[0]:
        raise ValueError(f"channel counts differ: {query.shape[0]} and {key.shape[0]}")
    _, h, w = query.shape
    kp = _normalised(patches(key, size))  # (N2, D)
    n2 = kp.shape[0]
    if query_mask is None:
        sel = torch.arange(h * w, device=query.device)
    else:
        sel = torch.nonzero(query_mask.reshape(-1) > 0.5).flatten()
    out = torch.full((h * w,), -1, dtype=torch.long, device=query.device)
    if sel.numel() == 0:
        return out
    qp_all = patches(query, size)
    use_colour = colours is not None and colour_weight > 0
    if use_colour:
        qc = colours[0].reshape(colours[0].shape[0], -1).t().float()  # (H*W, 3)
        kc = colours[1].reshape(colours[1].shape[0], -1).t().float()  # (N2, 3)
        kc2 = kc.pow(2).sum(1)
    rows = max(1, int(chunk_bytes // (4 * n2)))
    for start in range(0, sel.numel(), rows):
        if check is not None:
            check()
        idx = sel[start:start + rows]
        q = _normalised(qp_all.index_select(0, idx))
        sim = q @ kp.t()  # (rows, N2)
        if use_colour:  # - w |c - k|^2 = 2w c.k - w |c|^2 - w |k|^2, in place (no chunk-sized temporaries)
            c = qc.index_select(0, idx)
            sim.addmm_(c, kc.t(), alpha=2 * colour_weight)
            sim.sub_(colour_weight * c.pow(2).sum(1, keepdim=True))
            sim.sub_(colour_weight * kc2[None])
        out[idx] = sim.argmax(dim=1)
    return out


def gather_positions(features: torch.Tensor, index: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Painting ``features`` (C, H2, W2) read at the flat ``index`` (H*W,) of each output position:
    (C, H, W); positions with index -1 get zeros."""
    c = features.shape[0]
    flat = features.reshape(c, -1)
    out = flat[:, index.clamp_min(0)] * (index >= 0).to(features.dtype)[None]
    return out.reshape(c, *shape)


def to_coords(index: torch.Tensor, h: int, w: int, width2: int) -> torch.Tensor:
    """Flat indices (h*w,) -> (h, w, 2) integer (y, x) coordinates in a map of width ``width2``."""
    idx = index.reshape(h, w)
    return torch.stack((idx // width2, idx % width2), dim=-1)


def refine_mapping(coords: torch.Tensor, guide: torch.Tensor, mask: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """Spatially consistent mapping (refineNNF of the paper's code).

    ``coords`` (H, W, 2) maps each output position to painting (y, x); ``guide`` (3, H2, W2) is the
    painting at this layer's size; ``mask`` (H, W) selects the positions to refine. Each position p
    takes, from the candidates q(p + o) - o for offsets o in a (2r+1)^2 window, the one whose guide
    colour is on average closest to the other candidates' colours.
    """
    h, w, _ = coords.shape
    _, h2, w2 = guide.shape
    out = coords.clone()
    pos = torch.nonzero(mask > 0.5)  # (N, 2)
    if pos.numel() == 0:
        return out
    r = radius
    offs = torch.stack(torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij"),
                       dim=-1).reshape(-1, 2).to(coords.device)  # (K, 2)
    nb = pos[:, None, :] + offs[None]  # (N, K, 2) neighbour positions
    inside = (nb[..., 0] >= 0) & (nb[..., 0] < h) & (nb[..., 1] >= 0) & (nb[..., 1] < w)
    nbc = nb.clone()
    nbc[..., 0] = nbc[..., 0].clamp(0, h - 1)
    nbc[..., 1] = nbc[..., 1].clamp(0, w - 1)
    cand = coords[nbc[..., 0], nbc[..., 1]] - offs[None]  # (N, K, 2)
    in_map = inside & (cand[..., 0] >= 0) & (cand[..., 0] < h2) & (cand[..., 1] >= 0) & (cand[..., 1] < w2)
    # A candidate may be chosen only away from the painting's border, as in the paper's code.
    choosable = in_map & (cand[..., 0] >= r) & (cand[..., 0] < h2 - r - 1) & (cand[..., 1] >= r) \
        & (cand[..., 1] < w2 - r - 1)
    cy = cand[..., 0].clamp(0, h2 - 1)
    cx = cand[..., 1].clamp(0, w2 - 1)
    colours = guide[:, cy, cx].permute(1, 2, 0).float()  # (N, K, 3)
    d = torch.cdist(colours, colours)  # (N, K, K)
    valid_j = in_map.float()[:, None, :]
    mean_d = (d * valid_j).sum(-1) / valid_j.sum(-1).clamp_min(1.0)
    mean_d = torch.where(choosable, mean_d, torch.full_like(mean_d, float("inf")))
    best = mean_d.argmin(dim=1)
    has = choosable.any(dim=1)
    chosen = cand[torch.arange(len(pos)), best]
    keep = pos[has]
    out[keep[:, 0], keep[:, 1]] = chosen[has]
    return out


def mapped_region(coords: torch.Tensor, mask: torch.Tensor, shape2: tuple[int, int], ring: int = 1) -> torch.Tensor:
    """(H2, W2) 0/1 map of the painting positions that the mapping of the masked positions uses,
    each grown by ``ring`` positions (Ring2 of the paper's code): every used painting patch counts once."""
    h2, w2 = shape2
    region = torch.zeros(h2, w2, device=coords.device)
    sel = coords[mask > 0.5]  # (N, 2)
    if sel.numel() == 0:
        return region
    region[sel[:, 0].clamp(0, h2 - 1), sel[:, 1].clamp(0, w2 - 1)] = 1.0
    if ring > 0:
        region = F.max_pool2d(region[None, None], 2 * ring + 1, stride=1, padding=ring)[0, 0]
    return region


def upsample_region(region: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """The painting region propagated to a finer layer: nearest-neighbour upsampling."""
    return F.interpolate(region[None, None], size=shape, mode="nearest")[0, 0]


def upsample_coords(coords: torch.Tensor, shape: tuple[int, int], shape2: tuple[int, int]) -> torch.Tensor:
    """The mapping propagated to a finer layer of size ``shape`` (painting ``shape2``): each fine
    position maps to its coarse parent's match, plus its offset inside the parent."""
    h, w = shape
    hc, wc, _ = coords.shape
    fy, fx = h / hc, w / wc
    ys = torch.arange(h, device=coords.device)
    xs = torch.arange(w, device=coords.device)
    py = (ys / fy).long().clamp(max=hc - 1)
    px = (xs / fx).long().clamp(max=wc - 1)
    parent = coords[py][:, px]  # (h, w, 2)
    oy = ys - (py * fy).long()
    ox = xs - (px * fx).long()
    out = torch.empty(h, w, 2, dtype=coords.dtype, device=coords.device)
    out[..., 0] = (parent[..., 0] * fy).long() + oy[:, None]
    out[..., 1] = (parent[..., 1] * fx).long() + ox[None, :]
    out[..., 0].clamp_(0, shape2[0] - 1)
    out[..., 1].clamp_(0, shape2[1] - 1)
    return out
