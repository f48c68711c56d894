"""The translators studio knows: its own default model, the 18 official CycleGAN generators, imported
``.pth`` files and models trained here.

Official generators download from the location pattern of the CycleGAN authors' script
(``scripts/download_cyclegan_model.sh``): ``http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/NAME.pth``.
Downloads go to a ``.part`` file that a later attempt resumes (HTTP Range), are checked to be a
generator, then moved in place; the SHA-256 of the first download is recorded in ``checksums.json``
and every later download or ``verify`` must match it.

Folders: translators live in ``models_dir()/cyclegan`` (``$STUDIO_MODELS_DIR`` moves the models folder,
``$STUDIO_CYCLEGAN_DIR`` this one alone); trained runs under its ``trained/`` folder.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from studio.download import Opener, ProgressFn, fetch
from studio.engines.errors import StudioInputError
from studio.engines.files import atomic_copy, atomic_write_text, file_sha256
from studio.paths import models_dir, shipped_model

PRETRAINED: tuple[str, ...] = (
    "apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite", "horse2zebra",
    "zebra2horse", "monet2photo", "style_monet", "style_cezanne", "style_ukiyoe", "style_vangogh", "sat2map",
    "map2sat", "cityscapes_photo2label", "cityscapes_label2photo", "facades_photo2label",
    "facades_label2photo", "iphone2dslr_flower",
)
URL_PATTERN = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{name}.pth"
DOWNLOAD_HOST = "efrosgans.eecs.berkeley.edu"
DEFAULT_NAME = "studio_photo2painting"
CHECKSUMS = "checksums.json"

_DESCRIPTIONS = {
    "style_monet": "photo to a Monet painting", "style_vangogh": "photo to a Van Gogh painting",
    "style_cezanne": "photo to a Cézanne painting", "style_ukiyoe": "photo to an ukiyo-e print",
    "monet2photo": "Monet painting to photo", "horse2zebra": "horses to zebras", "zebra2horse": "zebras to horses",
    "summer2winter_yosemite": "summer to winter (Yosemite)", "winter2summer_yosemite": "winter to summer (Yosemite)",
    "apple2orange": "apples to oranges", "orange2apple": "oranges to apples",
    "iphone2dslr_flower": "phone photo of flowers to shallow depth of field", "sat2map": "satellite photo to map",
    "map2sat": "map to satellite photo", "cityscapes_photo2label": "street photo to label map",
    "cityscapes_label2photo": "label map to street photo", "facades_photo2label": "facade photo to label map",
    "facades_label2photo": "label map to facade photo",
}

Kind = Literal["default", "pretrained", "imported", "trained"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: Kind
    description: str
    path: Path | None  # where the generator is (or would be, once downloaded)
    available: bool
    url: str | None = None


def translators_dir() -> Path:
    env = os.environ.get("STUDIO_CYCLEGAN_DIR")
    return Path(env) if env else models_dir() / "cyclegan"


def trained_dir() -> Path:
    return translators_dir() / "trained"


def default_model_path() -> Path:
    """studio's own small translator, shipped with it (half precision)."""
    env = os.environ.get("STUDIO_DEFAULT_TRANSLATOR")
    if env:
        return Path(env)
    return shipped_model(f"{DEFAULT_NAME}.pth")


def default_model_card() -> dict[str, Any] | None:
    card = default_model_path().with_suffix(".json")
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError):
        return None


def url_for(name: str) -> str:
    return URL_PATTERN.format(name=name)


def list_models() -> list[ModelEntry]:
    folder = translators_dir()
    out: list[ModelEntry] = []
    d = default_model_path()
    card = default_model_card() or {}
    out.append(ModelEntry(DEFAULT_NAME, "default", card.get("summary", "studio's own small photo-to-painting model"),
                          d, d.is_file()))
    for n in PRETRAINED:
        f = folder / f"{n}.pth"
        out.append(ModelEntry(n, "pretrained", _DESCRIPTIONS.get(n, n), f, f.is_file(), url_for(n)))
    if folder.is_dir():
        for f in sorted(folder.glob("*.pth")):
            if f.stem not in PRETRAINED:
                out.append(ModelEntry(f.stem, "imported", f"imported from {f.name}", f, True))
    if trained_dir().is_dir():
        for run in sorted(trained_dir().iterdir()):
            g = run / "latest_net_G_A.pth"
            if g.is_file():
                out.append(ModelEntry(run.name, "trained", f"trained in studio ({run})", g, True))
    return out


#: the longest name a translator may have (a file or folder name on every system)
MAX_NAME = 100


def check_model_name(name: str, kind: str = "trained") -> str:
    """``name`` when a translator of ``kind`` (trained or imported) may take it: a plain file name (no folder in
    it, not hidden, no control characters, at most ``MAX_NAME`` characters) that no other kind of translator
    answers to (the default; for a trained one, the official models), else one sentence. A name is a folder or
    file under the translators' folder, and ``translate NAME`` finds the first model of that name."""
    bad = (not name or name.startswith(".") or any(c in name for c in "/\\:")
           or any(ord(c) < 32 or ord(c) == 127 for c in name) or len(name) > MAX_NAME)
    if bad:
        raise StudioInputError(f"{name[:MAX_NAME]!r} is not a usable translator name: use a plain name (letters, "
                               f"digits, _ or -, at most {MAX_NAME} characters) without a folder in it.")
    # an official model's own file imported offline takes its official name (``translate horse2zebra`` finds it)
    if name in ("default", DEFAULT_NAME) or (name in PRETRAINED and kind == "trained"):
        whose = "an official" if name in PRETRAINED else "studio's default"
        raise StudioInputError(f"{name!r} is the name of {whose} translator; give the {kind} one another name.")
    other = "imported" if kind == "trained" else "trained"
    taken = translators_dir() / f"{name}.pth" if other == "imported" else trained_dir() / name / "latest_net_G_A.pth"
    if taken.is_file():
        article = "an" if other == "imported" else "a"
        raise StudioInputError(f"{article} {other} translator is named {name!r} already; give the {kind} one another "
                               "name.")
    return name


def resolve_model(spec: str) -> Path:
    """The generator file for a model name (default, catalogue, imported, trained), a .pth path or a run folder."""
    p = Path(spec)
    if p.is_dir():
        for name in ("latest_net_G_A.pth", "latest_net_G.pth"):
            if (p / name).is_file():
                return p / name
        raise StudioInputError(f"the folder {spec!r} holds no latest_net_G_A.pth or latest_net_G.pth.")
    if p.suffix in (".pth", ".pt") or os.sep in spec:
        if not p.is_file():
            raise StudioInputError(f"the model file {spec!r} does not exist.")
        return p
    name = DEFAULT_NAME if spec in ("default", "") else spec
    for e in list_models():
        if e.name == name:
            if e.available and e.path is not None:
                return e.path
            if e.kind == "default":
                raise StudioInputError(f"studio's default translator is missing from {e.path}; reinstall studio or "
                                       "choose another model.")
            raise StudioInputError(f"the model {name!r} is not downloaded yet; run 'studio translators download "
                                   f"{name}' (needs a network) or import its .pth with 'studio translators import "
                                   "FILE'.")
    raise StudioInputError(f"unknown model {spec!r}; see 'studio translators list', or give a .pth file.")


# ------------------------------------------------------------------------------------------------
# checksums


def _checksums_path() -> Path:
    return translators_dir() / CHECKSUMS


def recorded_checksums() -> dict[str, str]:
    try:
        data = json.loads(_checksums_path().read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _record_checksum(name: str, digest: str) -> None:
    sums = recorded_checksums()
    sums[name] = digest
    _checksums_path().parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(_checksums_path(), json.dumps(sums, indent=1, sort_keys=True))


#: SHA-256 of official models from a trusted source, checked before any first-seen record. None are shipped
#: yet: the authors publish no checksums, and this build had no network to take them from a trusted download.
KNOWN_SHA256: dict[str, str] = {}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    words: str  # what the check could and could not tell, for the user


def verify(name: str) -> Verdict:
    """Check a downloaded model against a published checksum, else against the one recorded at its first
    download on this machine ("first seen": it tells a changed file, not whether the first was official)."""
    f = translators_dir() / f"{name}.pth"
    if not f.is_file():
        raise StudioInputError(f"the model {name!r} is not downloaded.")
    digest = file_sha256(f)
    known = KNOWN_SHA256.get(name)
    if known is not None:
        return Verdict(digest == known, "matches the published checksum" if digest == known
                       else "DOES NOT MATCH the published checksum")
    want = recorded_checksums().get(name)
    if want is None:
        _record_checksum(name, digest)
        return Verdict(True, "no published checksum is known; this file's checksum is now recorded as first seen, "
                             "so a later change will show, but whether this one is the official file cannot be told")
    if digest == want:
        return Verdict(True, "matches the checksum first seen on this machine (no published checksum is known)")
    return Verdict(False, "DOES NOT MATCH the checksum first seen on this machine")


# ------------------------------------------------------------------------------------------------
# network


def network_available(host: str = DOWNLOAD_HOST, port: int = 80, timeout: float = 3.0) -> bool:
    """Whether the download server can be reached at all (a quick TCP connection)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def no_network_message(name: str, import_with: str = "'studio translators import FILE'") -> str:
    """One sentence: the server cannot be reached, where to fetch the model, and how to import it here (the
    command line's command, or the app's button)."""
    return (f"The download server {DOWNLOAD_HOST} cannot be reached (no network?), so {name!r} cannot be "
            f"downloaded here; fetch {url_for(name)} on a machine with a network and import it with "
            f"{import_with}.")


def download(name: str, progress: ProgressFn | None = None, opener: Opener | None = None,
             url: str | None = None, timeout: float = 30.0) -> Path:
    """Download an official generator into the translators folder (resuming a ``.part`` file), check it is a
    generator and that its SHA-256 matches any recorded one; returns its path."""
    from studio.engines.cyclegan.io import load_generator

    if name not in PRETRAINED and url is None:
        raise StudioInputError(f"{name!r} is not an official CycleGAN model; choose one of: {', '.join(PRETRAINED)}.")
    src = url or url_for(name)
    folder = translators_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{name}.pth"
    part = folder / f"{name}.pth.part"
    fetch(src, part, what=repr(name), progress=progress, opener=opener, timeout=timeout,
          offline_message=no_network_message(name))
    digest = file_sha256(part)
    want = recorded_checksums().get(name)
    if want is not None and want != digest:
        bad = part.with_name(f"{name}.pth.bad")
        os.replace(part, bad)
        raise StudioInputError(f"the downloaded {name}.pth has SHA-256 {digest[:12]}… but {want[:12]}… was recorded "
                               f"at its first download; it was set aside as {bad.name}.")
    try:
        load_generator(part)
    except StudioInputError as e:
        bad = part.with_name(f"{name}.pth.bad")
        os.replace(part, bad)
        raise StudioInputError(f"the download of {name!r} is not a usable generator ({e}); it was set aside as "
                               f"{bad.name}.") from None
    os.replace(part, dest)
    if want is None:
        _record_checksum(name, digest)
    return dest


def import_model(path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False) -> Path:
    """Copy a generator ``.pth`` into the translators folder after checking it (keys and shapes)."""
    from studio.engines.cyclegan.io import load_generator

    src = Path(path)
    load_generator(src)  # one clear sentence if it is not a generator
    stem = name or src.stem
    if stem in ("latest_net_G", "latest_net_G_A", "latest_net_G_B") and src.parent.name:
        stem = src.parent.name.removesuffix("_pretrained")
    check_model_name(stem, "imported")
    folder = translators_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f"{stem}.pth"
    if dest.exists() and not overwrite:
        raise StudioInputError(f"a model named {stem!r} exists already ({dest}); choose another name or overwrite it.")
    atomic_copy(src, dest)
    _record_checksum(stem, file_sha256(dest))
    return dest
