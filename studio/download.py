"""Downloads: one resumable fetch for every file studio downloads, and the job that runs it in the app.

``fetch`` writes to ``NAME.part`` beside the destination and resumes it with an HTTP Range request;
``progress(done, total)`` is called after every block and may raise (to cancel; the part file stays
for the next try). ``download_job`` turns a fetch into engine events (``Progress`` in bytes, one
``Finished``), so the app runs a download through its one job runner with progress, ETA and Stop.
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from studio.engines.errors import StudioInputError
from studio.engines.events import Cancelled, Event, Finished, JobControl, Progress

ProgressFn = Callable[[int, int | None], None]
Opener = Callable[..., Any]
BLOCK = 1 << 16
DOWNLOAD_STAGE = "download"  # Progress.stage of a download: iteration/total count bytes


def fetch(src: str, part: Path, *, what: str, progress: ProgressFn | None = None, opener: Opener | None = None,
          timeout: float = 30.0, offline_message: str = "") -> Path:
    """Download ``src`` into ``part`` (resuming what is there); returns ``part`` once complete."""
    opener = opener or urllib.request.urlopen
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(src, headers={"User-Agent": "studio"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = opener(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already complete
            return part
        raise StudioInputError(f"the server refused {src} (HTTP {e.code} {e.reason}).") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        text = offline_message or f"{what} cannot be downloaded without a network."
        raise StudioInputError(text.rstrip(".") + f" ({reason}).") from None
    with resp:
        status = getattr(resp, "status", None) or getattr(resp, "code", None) or 200
        resumed = have > 0 and status == 206
        if not resumed:
            have = 0
        length = resp.headers.get("Content-Length") if getattr(resp, "headers", None) else None
        total = have + int(length) if length is not None else None
        done = have
        try:
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    block = resp.read(BLOCK)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except OSError as e:
            raise StudioInputError(f"the download of {what} stopped ({e}); run it again to resume.") from None
    if total is not None and done < total:
        raise StudioInputError(f"the download of {what} stopped at {done} of {total} bytes; run it again to resume.")
    return part


def download_job(download: Callable[[ProgressFn], Path], what: str, control: JobControl) -> Iterator[Event]:
    """Run ``download(progress)`` on a helper thread and report it as events; Stop cancels it at the next
    block (what arrived stays in its part file). ``Finished.extra["path"]`` is the file."""
    events: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int | None) -> None:
        if control.cancelled:
            raise Cancelled()
        events.put((done, total))

    def work() -> None:
        try:
            outcome["path"] = download(progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread below
            outcome["error"] = exc
        finally:
            events.put(None)

    t0 = time.perf_counter()
    threading.Thread(target=work, name=f"download {what}", daemon=True).start()
    last: tuple[int, int | None] = (0, None)
    shown = 0.0
    while True:
        item = events.get()
        if item is None:
            break
        last = item
        now = time.perf_counter()
        if now - shown < 0.1:  # at most ten updates a second
            continue
        shown = now
        yield _progress(what, *last, now - t0)
    error = outcome.get("error")
    blank = np.zeros((1, 1, 3), np.float32)
    if isinstance(error, Cancelled) or (error is None and control.cancelled and "path" not in outcome):
        yield Finished(blank, True, 0, time.perf_counter() - t0, extra={"download": what})
        return
    if error is not None:
        raise error
    done = last[0]
    yield _progress(what, done, done, time.perf_counter() - t0)
    yield Finished(blank, False, 0, time.perf_counter() - t0, extra={"download": what, "path": str(outcome["path"])})


def _progress(what: str, done: int, total: int | None, elapsed: float) -> Progress:
    eta = elapsed / done * (total - done) if total and done else None
    return Progress(iteration=done, total=max(total or 0, done, 1), stage=DOWNLOAD_STAGE, losses={},
                    elapsed_s=elapsed, eta_s=eta)
