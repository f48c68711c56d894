"""The full recipe of a result, embedded in the PNG it was saved as (text key ``studio:recipe``).

A recipe names the engine, its parameters, every input file (with its SHA-256, so a changed input
is noticed), the feature network and the studio version: enough to make the result again.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio import __version__
from studio.engines.errors import StudioInputError
from studio.engines.files import file_sha256
from studio.engines.params import Params
from studio.imageio import MAX_FILE_BYTES, PathLike
from studio.png_text import read_png_text

RECIPE_KEY = "studio:recipe"
RECIPE_FORMAT = "studio-recipe"
RECIPE_VERSION = 1


@dataclass
class InputRef:
    """One input file of a result: its role ("content", "style", ...), path and SHA-256."""

    role: str
    path: str
    sha256: str

    @classmethod
    def from_file(cls, role: str, path: PathLike) -> InputRef:
        """Reference an existing file, hashing it now."""
        return cls(role=role, path=str(path), sha256=file_sha256(path))


MAX_RECIPE_CHARS = 16_000_000  # a recipe names its inputs and parameters, and holds its regions' masks
MAX_RECIPE_DEPTH = 12
MAX_RECIPE_INPUTS = 64  # content, a few styles, masks: a recipe with 200 style inputs is not one of ours


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_RECIPE_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


@dataclass
class Recipe:
    """Everything that made a result; ``params`` is e.g. ``StyleParams.to_dict()``."""

    engine: str
    params: dict[str, Any]
    inputs: list[InputRef]
    weights: str
    studio_version: str = __version__
    created: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # a style run's regions, masks inside (``studio.style_regions``); their paintings are among ``inputs``
    regions: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.created:
            self.created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

    @classmethod
    def of_run(cls, engine: str, finished: Any, params: Params, inputs: list[InputRef]) -> Recipe:
        """The recipe of a run: an engine's ``Finished`` event, or the app's history entry of one (both have
        ``extra``, ``iterations``, ``elapsed_s``, ``losses`` and ``cancelled``). The parameters it really used
        (live changes included; ``params`` when it does not say), its weights, device, iterations, time,
        losses, whether it was stopped, and for a full-size render the size of the preview it started from."""
        used = finished.extra.get("params")
        used = dict(used) if isinstance(used, dict) else params.to_dict()
        extra = {"device": str(finished.extra.get("device", "")), "iterations": finished.iterations,
                 "seconds": round(finished.elapsed_s, 2), "losses": dict(finished.losses),
                 "stopped": bool(finished.cancelled)}
        started = finished.extra.get("started_from")
        if started is not None:  # a full-size render: (h, w) of the preview it refined, said as width x height
            extra["full_size_from"] = [int(started[1]), int(started[0])]
        below = finished.extra.get("worked_below")
        if isinstance(below, dict):  # a harmonization worked below the painting's resolution (a preview)
            extra["worked_below"] = {k: [int(v) for v in below[k]] for k in ("worked_at", "painting") if k in below}
        return cls(engine=engine, params=used, inputs=inputs,
                   weights=str(finished.extra.get("weights") or used.get("weights", "")), extra=extra)

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        if not self.regions:
            del body["regions"]
        return {"format": RECIPE_FORMAT, "format_version": RECIPE_VERSION, **body}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=False)

    @classmethod
    def from_json(cls, text: str, *, source: str = "The recipe") -> Recipe:
        """Parse a recipe; ``source`` names where it came from in error messages."""
        if isinstance(text, str) and len(text) > MAX_RECIPE_CHARS:
            raise StudioInputError(f"{source} is {len(text):,} characters long, more than a recipe can be "
                                   f"({MAX_RECIPE_CHARS:,}).")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, TypeError) as exc:
            raise StudioInputError(f"{source} is not valid JSON: {exc}.") from exc
        except RecursionError:
            raise StudioInputError(f"{source} nests its values too deeply to be a recipe.") from None
        except ValueError as exc:  # e.g. an integer of thousands of digits
            raise StudioInputError(f"{source} holds a value no recipe has ({str(exc).split(';')[0]}).") from None
        if _depth(data) > MAX_RECIPE_DEPTH:
            raise StudioInputError(f"{source} nests its values more than {MAX_RECIPE_DEPTH} levels deep; "
                                   "a recipe never does.")
        if not isinstance(data, dict) or data.get("format") != RECIPE_FORMAT:
            raise StudioInputError(f'{source} is not a studio recipe (no "format": "{RECIPE_FORMAT}").')
        version = data.get("format_version")
        if not isinstance(version, int) or version > RECIPE_VERSION:
            raise StudioInputError(
                f"{source} has recipe format version {version!r}, which this studio "
                f"({__version__}) does not know; update studio to read it."
            )
        try:
            engine = _typed(data, "engine", str)
            params = _typed(data, "params", dict)
            listed = _typed(data, "inputs", list)
            if len(listed) > MAX_RECIPE_INPUTS:
                raise StudioInputError(f"{source} lists {len(listed)} input files, more than the "
                                       f"{MAX_RECIPE_INPUTS} a recipe may read.")
            inputs = [_input_ref(item) for item in listed]
            recipe = cls(
                engine=engine,
                params=params,
                inputs=inputs,
                weights=_typed(data, "weights", str),
                studio_version=_typed(data, "studio_version", str),
                created=_typed(data, "created", str),
                extra=_typed(data, "extra", dict) if "extra" in data else {},
                regions=_typed(data, "regions", list) if "regions" in data else [],
            )
        except (KeyError, TypeError) as exc:
            raise StudioInputError(f"{source} is incomplete or damaged: {_describe(exc)}.") from exc
        return recipe

    def to_png_text(self) -> dict[str, str]:
        """PNG text chunks: the recipe, plus human-friendly Software and Description."""
        return {
            RECIPE_KEY: self.to_json(),
            "Software": f"studio {self.studio_version}",
            "Description": self.describe(),
        }

    def describe(self) -> str:
        """One line for people: what was made from what."""
        by_role: dict[str, list[str]] = {}
        for ref in self.inputs:
            by_role.setdefault(ref.role, []).append(Path(ref.path).name)
        parts = [f"{role}: {', '.join(names)}" for role, names in by_role.items()]
        settings = [f"{k} {self.params[k]}" for k in ("size", "iterations") if k in self.params]
        text = f"studio {self.engine}"
        if parts:
            text += f" ({'; '.join(parts)})"
        if settings:
            text += f", {', '.join(settings)}"
        return f"{text}, {self.weights}, {self.created}"


def _typed(data: dict[str, Any], key: str, kind: type) -> Any:
    value = data[key]
    if not isinstance(value, kind):
        raise TypeError(f'"{key}" should be a {kind.__name__}, not {type(value).__name__}')
    return value


def _input_ref(item: Any) -> InputRef:
    if not isinstance(item, dict):
        raise TypeError(f"an input should be a dict, not {type(item).__name__}")
    return InputRef(
        role=_typed(item, "role", str), path=_typed(item, "path", str), sha256=_typed(item, "sha256", str)
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing"
    return str(exc).rstrip(".")


def read_recipe(path: PathLike) -> Recipe | None:
    """The recipe embedded in an image, or None when it has none (or is not a PNG).

    Raises StudioInputError if the file cannot be read or its recipe is damaged.
    """
    text = read_png_text(path).get(RECIPE_KEY)
    if text is None:
        return None
    return Recipe.from_json(text, source=f"The recipe in {str(path)!r}")


def check_inputs(recipe: Recipe, *, base_dir: PathLike | None = None) -> list[str]:
    """Warnings for inputs that are missing now or whose contents changed since the result was made.

    Relative input paths are looked up in ``base_dir`` (default: the current folder).
    """
    warnings: list[str] = []
    for ref in recipe.inputs:
        path = Path(ref.path)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
        if not path.is_file():
            state = "is not a regular file" if path.exists() else "no longer exists"
            warnings.append(f"The {ref.role} image {ref.path!r} of the recipe {state}.")
            continue
        if path.stat().st_size > MAX_FILE_BYTES:  # not read to be hashed: loading it refuses it in a sentence
            continue
        try:
            digest = file_sha256(path)
        except StudioInputError:
            warnings.append(f"The {ref.role} image {ref.path!r} of the recipe cannot be read.")
            continue
        if digest != ref.sha256:
            warnings.append(
                f"The {ref.role} image {ref.path!r} has changed since the result was made, "
                "so the same recipe may give a different result."
            )
    return warnings


#: the key of a harmonize recipe's placement record (``harmonize_document.composition_record``): the app's
#: Harmonize results carry it beside the engine's settings
COMPOSITION_KEY = "composition"


def unknown_settings(recipe: Recipe) -> list[str]:
    """The settings of a stylize or harmonize recipe that this version's parameters do not have (a recipe from a
    newer studio, or an edited one): a re-run leaves them out, so the user is told."""
    from dataclasses import fields

    if recipe.engine == "stylize":
        from studio.engines.style.params import StyleParams as cls
    elif recipe.engine == "harmonize":
        from studio.engines.harmonize.params import HarmonizeParams as cls  # type: ignore[assignment]
    else:
        return []
    known = {f.name for f in fields(cls)}
    if recipe.engine == "harmonize":
        known.add(COMPOSITION_KEY)  # where the app placed the object: its own, not an unknown setting
    return sorted(str(k) for k in recipe.params if k not in known)


def unknown_settings_words(recipe: Recipe) -> str:
    """``unknown_settings`` as a sentence for the user, or "" when there are none."""
    names = unknown_settings(recipe)
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"The recipe holds {'settings' if len(names) > 1 else 'a setting'} this version of studio does not know "
            f"({shown}); {'they are' if len(names) > 1 else 'it is'} left out, so the result may differ.")
