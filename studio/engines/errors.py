"""The one error type that reaches the user as a message rather than a traceback, and how a job that ran out
of memory is told from other failures."""

from __future__ import annotations


class StudioInputError(ValueError):
    """A problem with something the user gave us: a file, a folder, a value.

    The message is one clear sentence that names the file or value and says what is wrong,
    e.g. ``"photo.jpg is truncated or corrupt: image file is truncated."``. The CLI prints it
    and exits with code 2; the app shows it in a dialog.
    """


def out_of_memory(e: BaseException) -> str | None:
    """"gpu" or "cpu" for a job that ran out of that memory, None for another error. Torch says it in its own
    words on each device: CUDA's OutOfMemoryError and MPS's "out of memory" are RuntimeErrors, as is the CPU
    allocator's "can't allocate memory"; Python's own is a MemoryError."""
    text = str(e).lower()
    if not (isinstance(e, MemoryError) or "out of memory" in text or "can't allocate memory" in text):
        return None
    return "gpu" if "cuda" in text or "mps" in text or type(e).__name__ == "OutOfMemoryError" else "cpu"
