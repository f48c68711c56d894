"""The translator catalogue: the official names and URLs, downloads that resume and are checksummed (served
by a fake opener: the tests never touch the network), no-network behaviour, import and name resolution."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import pytest
import torch

from studio import cyclegan_catalogue as cat
from studio.engines.cyclegan.models import NLayerDiscriminator, ResnetGenerator
from studio.engines.errors import StudioInputError
from studio.engines.files import file_sha256


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CYCLEGAN_DIR", str(tmp_path / "translators"))
    monkeypatch.setattr(cat, "network_available", lambda *a, **k: pytest.fail("the network was probed"))
    return tmp_path / "translators"


def generator_bytes(seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    buf = io.BytesIO()
    torch.save(ResnetGenerator(ngf=4, n_blocks=1).state_dict(), buf)
    return buf.getvalue()


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes, status: int, total: int, fail_after: int | None = None) -> None:
        super().__init__(data)
        self.status = status
        self.headers = {"Content-Length": str(len(data))}
        self.fail_after = fail_after
        self.sent = 0

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        block = super().read(min(n, 1000) if n > 0 else n)
        self.sent += len(block)
        return block


class FakeServer:
    """Serves ``data`` for any URL, honouring ``Range: bytes=N-``; can drop the connection once."""

    def __init__(self, data: bytes, drop_at: int | None = None) -> None:
        self.data = data
        self.drop_at = drop_at
        self.requests: list[urllib.request.Request] = []

    def __call__(self, req: urllib.request.Request, timeout: float = 0) -> FakeResponse:
        self.requests.append(req)
        rng = req.get_header("Range")
        start = int(rng.split("=")[1].rstrip("-")) if rng else 0
        drop, self.drop_at = self.drop_at, None
        return FakeResponse(self.data[start:], 206 if start else 200, len(self.data), drop)


def test_the_18_official_models_and_their_urls():
    assert len(cat.PRETRAINED) == 18 and len(set(cat.PRETRAINED)) == 18
    for n in ("style_monet", "style_vangogh", "style_cezanne", "style_ukiyoe", "monet2photo", "horse2zebra",
              "zebra2horse", "summer2winter_yosemite", "winter2summer_yosemite", "apple2orange", "orange2apple",
              "iphone2dslr_flower", "sat2map", "map2sat", "cityscapes_photo2label", "facades_label2photo"):
        assert n in cat.PRETRAINED
    assert cat.url_for("horse2zebra") == "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/horse2zebra.pth"
    entries = {e.name: e for e in cat.list_models()}
    assert entries["style_monet"].kind == "pretrained" and not entries["style_monet"].available
    assert entries[cat.DEFAULT_NAME].kind == "default"


def test_download_resumes_records_and_verifies_the_checksum(folder):
    data = generator_bytes()
    server = FakeServer(data, drop_at=3000)
    seen: list[tuple[int, int | None]] = []
    with pytest.raises(StudioInputError, match="run it again to resume"):
        cat.download("horse2zebra", lambda d, t: seen.append((d, t)), opener=server)
    part = folder / "horse2zebra.pth.part"
    assert part.stat().st_size == 3000 and not (folder / "horse2zebra.pth").exists()
    dest = cat.download("horse2zebra", lambda d, t: seen.append((d, t)), opener=server)
    assert server.requests[-1].get_header("Range") == "bytes=3000-"
    assert server.requests[0].full_url == cat.url_for("horse2zebra")
    assert dest.read_bytes() == data and not part.exists()
    assert seen[-1] == (len(data), len(data))
    assert cat.recorded_checksums()["horse2zebra"] == file_sha256(dest)
    assert cat.verify("horse2zebra").ok and "first seen" in cat.verify("horse2zebra").words
    assert cat.resolve_model("horse2zebra") == dest
    # a later download with different bytes is refused and set aside
    with pytest.raises(StudioInputError, match="was recorded"):
        cat.download("horse2zebra", opener=FakeServer(generator_bytes(seed=1)))
    assert (folder / "horse2zebra.pth.bad").is_file() and dest.read_bytes() == data
    # a damaged file no longer verifies
    dest.write_bytes(data[:-10] + b"0123456789")
    assert not cat.verify("horse2zebra").ok


def test_download_of_something_else_is_set_aside(folder):
    buf = io.BytesIO()
    torch.save(NLayerDiscriminator(ndf=4).state_dict(), buf)
    with pytest.raises(StudioInputError, match="not a usable generator"):
        cat.download("style_monet", opener=FakeServer(buf.getvalue()))
    assert not (folder / "style_monet.pth").exists()


def test_no_network_says_so_and_offers_import():
    def offline(req, timeout=0):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(StudioInputError) as e:
        cat.download("style_vangogh", opener=offline)
    msg = str(e.value)
    assert "cannot be reached" in msg and "studio translators import" in msg and "style_vangogh.pth" in msg
    with pytest.raises(StudioInputError, match="not downloaded yet.*import"):
        cat.resolve_model("style_vangogh")
    with pytest.raises(StudioInputError, match="not an official"):
        cat.download("horse2cat", opener=offline)


def test_import_checks_and_names_the_model(tmp_path, folder):
    src = tmp_path / "style_vangogh_pretrained"
    src.mkdir()
    (src / "latest_net_G.pth").write_bytes(generator_bytes())
    dest = cat.import_model(src / "latest_net_G.pth")
    assert dest == folder / "style_vangogh.pth"
    assert cat.resolve_model("style_vangogh") == dest
    mine = tmp_path / "mine.pth"
    mine.write_bytes(generator_bytes(2))
    assert cat.import_model(mine).stem == "mine"
    assert {e.name: e.kind for e in cat.list_models()}["mine"] == "imported"
    with pytest.raises(StudioInputError, match="exists already"):
        cat.import_model(mine)
    bad = tmp_path / "bad.pth"
    torch.save({"weight": torch.zeros(3)}, bad)
    with pytest.raises(StudioInputError, match="cannot be used as a translator"):
        cat.import_model(bad)
    assert not (folder / "bad.pth").exists()


def test_resolve_paths_runs_and_unknown_names(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "latest_net_G_A.pth").write_bytes(generator_bytes())
    assert cat.resolve_model(str(run)) == run / "latest_net_G_A.pth"
    assert cat.resolve_model(str(run / "latest_net_G_A.pth")) == run / "latest_net_G_A.pth"
    with pytest.raises(StudioInputError, match="unknown model"):
        cat.resolve_model("no_such_model")
    with pytest.raises(StudioInputError, match="does not exist"):
        cat.resolve_model(str(tmp_path / "x.pth"))
    trained = cat.trained_dir() / "apples"
    trained.mkdir(parents=True)
    (trained / "latest_net_G_A.pth").write_bytes(generator_bytes())
    assert cat.resolve_model("apples") == trained / "latest_net_G_A.pth"


@pytest.mark.parametrize("name", ["../../escaped", "photo/painting", "a\\b", "c:d", ".hidden", "", "x" * 101,
                                  "tab\there", "..", "default", cat.DEFAULT_NAME, "horse2zebra"])
def test_a_trained_translators_name_is_a_plain_name_no_other_model_answers_to(name, folder):
    """A name becomes a folder under the translators' folder (``../../escaped`` was written outside it) and is
    what ``translate NAME`` looks up (``horse2zebra`` trained found the official one, not downloaded)."""
    with pytest.raises(StudioInputError, match="translator"):
        cat.check_model_name(name, "trained")


def test_a_trained_name_may_not_take_an_imported_ones_and_the_other_way(tmp_path, folder):
    mine = tmp_path / "mine.pth"
    mine.write_bytes(generator_bytes())
    cat.import_model(mine)
    with pytest.raises(StudioInputError, match="an imported translator is named 'mine' already"):
        cat.check_model_name("mine", "trained")
    run = cat.trained_dir() / "horses"
    run.mkdir(parents=True)
    (run / "latest_net_G_A.pth").write_bytes(generator_bytes())
    with pytest.raises(StudioInputError, match="a trained translator is named 'horses' already"):
        cat.import_model(mine, name="horses")
    assert cat.check_model_name("monet_mine-2", "trained") == "monet_mine-2"
    assert cat.check_model_name("horse2zebra", "imported") == "horse2zebra"  # an official file imported offline
