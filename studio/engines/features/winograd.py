"""3x3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(4x4, 3x3).

The image is cut into 6x6 tiles at a stride of 4. Each tile d and each kernel g are
transformed (V = Bᵀ d B, U = G g Gᵀ); the 36 positions of a tile then need one matrix product
each, (tiles x C_in) @ (C_in x C_out), and each 6x6 result m goes back to a 4x4 output tile
as Aᵀ m A (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). That is
36 / 16 = 2.25 multiply-adds per output pixel and channel pair, against 9 for a direct
convolution. The transforms are cheap in arithmetic but pass over the data several times, so
this pays only where the channel counts are large (VGG's blocks 3 to 5; measured at 512x384 on
a 2-core AVX2 CPU: 1.8x at 256 channels, 2.1-2.5x at 512, 1.2x at 128, 0.7x at 64).

The result matches a direct convolution to about 1e-5 of the output's range in float32.
"""

from __future__ import annotations

import functools

import torch

_BT = ((4, 0, -5, 0, 1, 0),
       (0, -4, -4, 1, 1, 0),
       (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0),
       (0, 2, -1, -2, 1, 0),
       (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0),
      (-1 / 6, -1 / 6, -1 / 6),
      (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6),
      (1 / 24, -1 / 12, 1 / 6),
      (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0),
       (0, 1, -1, 2, -2, 0),
       (0, 1, 1, 4, 4, 0),
       (0, 1, -1, 8, -8, 1))

# Channels on both sides of a convolution from which the Winograd route is the faster one.
MIN_CHANNELS = 128
# Bytes of transformed tiles in flight at once (larger images go through in bands).
CHUNK_BYTES = 8 << 20
MIN_TILES = 128


def _matrix(rows: tuple[tuple[float, ...], ...], like: torch.Tensor) -> torch.Tensor:
    return _cached_matrix(rows, like.device, like.dtype)


@functools.cache
def _cached_matrix(rows: tuple[tuple[float, ...], ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64).to(device=device, dtype=dtype)


def worthwhile(x: torch.Tensor, in_channels: int, out_channels: int) -> bool:
    """Whether ``conv3x3`` beats the library's direct convolution for this input (CPU, float32)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and x.dim() == 4
            and min(in_channels, out_channels) >= MIN_CHANNELS)


def transform_kernel(weight: torch.Tensor) -> torch.Tensor:
    """(C_out, C_in, 3, 3) kernel → (36, C_in, C_out), the right-hand sides of the 36 products."""
    c_out, c_in = weight.shape[:2]
    k = c_in * c_out
    w = weight.detach().permute(2, 3, 1, 0).reshape(3, 3 * k)  # (kernel row, kernel column, C_in, C_out)
    g = _matrix(_G, w)
    u = (g @ w).view(6, 3, k)  # G over the kernel rows …
    u = torch.bmm(g.expand(6, 6, 3), u)  # … and over the kernel columns: (6, 6, C_in * C_out)
    return u.view(36, c_in, c_out)


def transform_kernel_for_input_grad(weight: torch.Tensor) -> torch.Tensor:
    """The transformed kernel whose convolution maps an output gradient to the input gradient:
    the same convolution with input and output channels swapped and the kernel rotated 180°."""
    return transform_kernel(weight.transpose(0, 1).flip(2, 3))


def conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """conv2d(x, weight, bias, padding=1) for ``u = transform_kernel(weight)``.

    ``x`` is (N, C_in, H, W) in any memory layout; the result is (N, C_out, H, W), channels_last.
    Large images go through in bands of tile rows, so the transformed tiles in flight stay near
    ``CHUNK_BYTES`` whatever the image size.
    """
    n, c_in, h, w = x.shape
    c_out = u.shape[2]
    th, tw = (h + 3) // 4, (w + 3) // 4
    hp, wp = 4 * th + 2, 4 * tw + 2
    padded = x.new_empty(n, hp, wp, c_in)  # zero border (padding, and where tiles overhang), then the image
    padded[:, :1].zero_()
    padded[:, h + 1:].zero_()
    padded[:, 1:h + 1, :1].zero_()
    padded[:, 1:h + 1, w + 1:].zero_()
    padded[:, 1:h + 1, 1:w + 1].copy_(x.permute(0, 2, 3, 1))
    out = torch.empty((n, c_out, h, w), dtype=x.dtype, device=x.device, memory_format=torch.channels_last)
    out_nhwc = out.permute(0, 2, 3, 1)
    bt, at = _matrix(_BT, x), _matrix(_AT, x)
    per_tile = 36 * max(c_in, c_out) * x.element_size()
    step = max(1, min(th, max(MIN_TILES, CHUNK_BYTES // per_tile) // (n * tw)))
    for r0 in range(0, th, step):
        rows = min(step, th - r0)
        tiles = n * rows * tw
        # (6 rows, 6 columns of the tile, image, tile row, tile column, channel), one copy.
        d = padded[:, 4 * r0:].as_strided((6, 6, n, rows, tw, c_in),
                                          (wp * c_in, c_in, hp * wp * c_in, 4 * wp * c_in, 4 * c_in, 1)
                                          ).contiguous()
        rest = tiles * c_in
        v = (bt @ d.view(6, 6 * rest)).view(6, 6, rest)  # Bᵀ over the tile rows
        v = torch.bmm(bt.expand(6, 6, 6), v)  # … and over the tile columns
        m = torch.bmm(v.view(36, tiles, c_in), u)  # (36, tiles, C_out)
        rest = tiles * c_out
        y = (at @ m.view(6, 6 * rest)).view(4, 6, rest)
        y = torch.bmm(at.expand(4, 4, 6), y)  # (4 rows, 4 columns, tiles * C_out)
        y = y.view(4, 4, n, rows, tw, c_out).permute(2, 3, 0, 4, 1, 5)  # (n, rows, 4, tw, 4, C_out)
        top, bottom = 4 * r0, min(h, 4 * (r0 + rows))
        if bottom - top < 4 * rows or w % 4:  # the last tiles overhang the image: assemble, then crop
            y = y.reshape(n, 4 * rows, 4 * tw, c_out)[:, :bottom - top, :w]
            dest = out_nhwc[:, top:bottom]
        else:
            dest = out_nhwc[:, top:bottom].view(n, rows, 4, tw, 4, c_out)
        if bias is None:
            dest.copy_(y)
        else:
            torch.add(y, bias, out=dest)
    return out
