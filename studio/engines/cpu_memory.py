"""glibc allocator settings for the large activations of CPU runs.

By default glibc serves every block over 32 MB with a fresh ``mmap`` and unmaps it on free, so
each loss evaluation at 512 px page-faults its 50 MB first-block tensors into existence again
(measured: a (196608, 64) @ (64, 64) product ran at 42 GFLOP/s with a fresh output, 63 when
the block is reused). ``keep_large_blocks`` makes glibc keep such blocks for reuse;
``give_back_memory`` returns the kept memory to the system once a job is over. Both do nothing
where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP = 1 << 30  # blocks up to 1 GB are kept; bigger ones (2048 px and up) are still unmapped
_lock = threading.Lock()
_state: dict[str, object] = {}


def _libc() -> ctypes.CDLL | None:
    if "libc" not in _state:
        lib = None
        if sys.platform.startswith("linux"):
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                if not hasattr(lib, "mallopt") or not hasattr(lib, "malloc_trim"):
                    lib = None
            except OSError:
                lib = None
        _state["libc"] = lib
    lib = _state["libc"]
    return lib if isinstance(lib, ctypes.CDLL) else None


def keep_large_blocks() -> bool:
    """Let glibc reuse freed blocks up to 1 GB instead of unmapping them; True if set."""
    with _lock:
        if _state.get("kept"):
            return True
        lib = _libc()
        ok = bool(lib and lib.mallopt(_M_MMAP_THRESHOLD, _KEEP) and lib.mallopt(_M_TRIM_THRESHOLD, _KEEP))
        _state["kept"] = ok
        return ok


def give_back_memory() -> None:
    """Return freed memory the allocator kept to the system (after a job)."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
