"""Named directions in a generator's latent space: principal directions (after GANSpace) and raw z axes.

GANSpace (Härkönen et al. 2020) for a z-space generator: sample many z ~ N(0, I), take the
activations after the generator's first block, find their principal components by PCA, project
the activations onto them, and regress z on those projections (least squares). Each regression
column is a direction in z that moves the early features along one principal component. Here the
directions are then orthonormalised in order (Gram-Schmidt), so moving along one does not move the
latent along the earlier ones. An edit is measured in standard deviations of z along the
direction (about 1 for unit directions of a standard normal).

The result depends only on the weights and the settings, so it is computed once and cached on
disk in the folder the caller names, as ``<weights hash>-<settings>.npz``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_write_bytes
from studio.engines.gan.models import DCGAN_G

DEFAULT_SAMPLES = 2048
DEFAULT_COMPONENTS = 12


@dataclass(frozen=True)
class Directions:
    """``vectors`` (k, nz) orthonormal rows, ``stdevs`` (k,) of z along each, ``explained`` (k,) the share
    of the early-layer activations' variance of each principal component."""

    vectors: np.ndarray
    stdevs: np.ndarray
    explained: np.ndarray
    from_cache: bool = False

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def apply(self, z: np.ndarray, amounts: dict[int, float] | np.ndarray) -> np.ndarray:
        """``z`` moved by ``amounts[i]`` standard deviations along direction ``i``."""
        out = np.array(z, dtype=np.float32, copy=True)
        items = amounts.items() if isinstance(amounts, dict) else enumerate(np.asarray(amounts).ravel())
        for i, a in items:
            if a:
                out = out + float(a) * float(self.stdevs[i]) * self.vectors[i]
        return out.astype(np.float32)


def raw_direction(nz: int, index: int) -> np.ndarray:
    """The unit vector of z coordinate ``index`` (a raw direction; its standard deviation is 1)."""
    if not 0 <= index < nz:
        raise StudioInputError(f"z has coordinates 0 to {nz - 1}, not {index}")
    v = np.zeros(nz, np.float32)
    v[index] = 1.0
    return v


def orthonormalise(vectors: np.ndarray) -> np.ndarray:
    """Gram-Schmidt in row order (via QR), each row keeping the sign of the original."""
    q, r = np.linalg.qr(np.asarray(vectors, np.float64).T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1
    return (q * signs).T.astype(np.float32)


@torch.no_grad()
def compute_directions(model: DCGAN_G, n_components: int = DEFAULT_COMPONENTS, n_samples: int = DEFAULT_SAMPLES,
                       seed: int = 0, device: torch.device | str = "cpu") -> Directions:
    """Principal directions of ``model`` (see the module docstring)."""
    nz = model.arch.nz
    k = min(n_components, nz, n_samples - 1)
    if k < 1:
        raise StudioInputError(f"cannot compute {n_components} directions from {n_samples} samples")
    model.eval()
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n_samples, nz, generator=g)
    feats = torch.cat([model.first_block(z[i:i + 256].to(device)).flatten(1).float().cpu()
                       for i in range(0, n_samples, 256)])
    feats = feats - feats.mean(0, keepdim=True)
    # PCA of the centred activations (n x D): randomised SVD of the top components (fast on a CPU)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        _, s, v = torch.pca_lowrank(feats, q=min(k + 8, *feats.shape), center=False, niter=4)
    comps = v[:, :k].T  # (k, D)
    total = float(feats.double().square().sum())
    explained = (s[:k].double().square() / total).numpy()
    proj = (feats @ comps.T).double()  # (n, k) coordinates along each component
    # regress z on the projections: z ~ proj @ U; U (k, nz)
    u = torch.linalg.lstsq(proj, z.double()).solution
    vectors = orthonormalise(u.numpy())
    # a principal direction's sign is arbitrary (it may differ between LAPACK builds): orient each so that its
    # largest coordinate is positive, so a label of its positive end means the same on every machine
    signs = np.sign(vectors[np.arange(len(vectors)), np.abs(vectors).argmax(1)])
    vectors = vectors * np.where(signs == 0, 1.0, signs)[:, None]
    stdevs = (z.double().numpy() @ vectors.T.astype(np.float64)).std(0)
    return Directions(vectors=vectors, stdevs=stdevs.astype(np.float32), explained=explained.astype(np.float32))


def cache_key(weights_hash: str, n_components: int, n_samples: int, seed: int) -> str:
    settings = hashlib.sha256(f"v2-{n_components}-{n_samples}-{seed}".encode()).hexdigest()[:8]
    return f"{weights_hash[:32]}-{settings}"


def load_or_compute_directions(model: DCGAN_G, weights_hash: str, n_components: int = DEFAULT_COMPONENTS,
                               n_samples: int = DEFAULT_SAMPLES, seed: int = 0, *, cache: Path) -> Directions:
    """The cached directions for these weights and settings, computing and caching them the first time."""
    folder = cache
    path = folder / f"{cache_key(weights_hash, n_components, n_samples, seed)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                d = Directions(vectors=f["vectors"], stdevs=f["stdevs"], explained=f["explained"], from_cache=True)
            if d.vectors.shape[1] == model.arch.nz:
                return d
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed
    d = compute_directions(model, n_components, n_samples, seed)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.savez(buf, vectors=d.vectors, stdevs=d.stdevs, explained=d.explained)
        atomic_write_bytes(path, buf.getvalue())
    except (OSError, StudioInputError):
        pass  # no cache (read-only disk): still usable
    return d
