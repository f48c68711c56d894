"""Downloads as jobs: progress in bytes with an ETA, Stop keeps what arrived (the next try resumes), and
torchvision's weights are checked against the hash in their name."""

from __future__ import annotations

import hashlib

import pytest

from studio.download import DOWNLOAD_STAGE, download_job, fetch
from studio.engines.errors import StudioInputError
from studio.engines.events import Finished, JobControl, Progress
from tests.test_cyclegan_catalogue import FakeServer


def test_a_download_job_reports_bytes_and_ends_with_the_file(tmp_path):
    data = bytes(range(256)) * 4096  # 1 MiB: 16 blocks
    part = tmp_path / "x.part"
    events = list(download_job(lambda progress: fetch("http://h/x", part, what="x", progress=progress,
                                                       opener=FakeServer(data)), "x", JobControl()))
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(p.stage == DOWNLOAD_STAGE for p in progress)
    assert progress[-1].iteration == progress[-1].total == len(data)
    end = events[-1]
    assert isinstance(end, Finished) and not end.cancelled and end.extra["path"] == str(part)
    assert part.read_bytes() == data


def test_stop_cancels_at_the_next_block_and_the_next_try_resumes(tmp_path):
    data = bytes(range(256)) * 4096
    part = tmp_path / "x.part"
    control = JobControl()
    seen = []

    def slow(progress):
        def step(done, total):
            seen.append(done)
            if len(seen) == 3:
                control.cancel()
            progress(done, total)
        return fetch("http://h/x", part, what="x", progress=step, opener=FakeServer(data))

    events = list(download_job(slow, "x", control))
    assert isinstance(events[-1], Finished) and events[-1].cancelled
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    server = FakeServer(data)
    list(download_job(lambda p: fetch("http://h/x", part, what="x", progress=p, opener=server), "x", JobControl()))
    assert server.requests[0].get_header("Range") == f"bytes={kept}-" and part.read_bytes() == data


def test_torchvision_weights_must_match_the_hash_in_their_name(tmp_path, monkeypatch):
    import studio.weights as w

    good = b"weights" * 1000
    prefix = hashlib.sha256(good).hexdigest()[:8]
    monkeypatch.setattr(w, "_torchvision_url", lambda arch: f"http://h/{arch}-{prefix}.pth")
    monkeypatch.setattr(w, "_hub_file", lambda url: tmp_path / "hub" / url.rsplit("/", 1)[1])
    with pytest.raises(StudioInputError, match="not the .* its name promises"):
        w.download_torchvision("vgg19", opener=FakeServer(b"tampered" * 1000))
    assert not list((tmp_path / "hub").iterdir())
    path = w.download_torchvision("vgg19", opener=FakeServer(good))
    assert path.name == f"vgg19-{prefix}.pth" and path.read_bytes() == good


def test_the_written_out_torchvision_urls_are_torchvisions():
    from torchvision.models import VGG16_Weights, VGG19_Weights

    from studio.weights import TORCHVISION_URLS

    assert {"vgg16": VGG16_Weights.IMAGENET1K_V1.url, "vgg19": VGG19_Weights.IMAGENET1K_V1.url} == TORCHVISION_URLS
