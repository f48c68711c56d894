"""What a recipe will read and fetch, said before it runs: a recipe is a file from someone else.

A re-run reads the input files the recipe names and loads the feature network it names. Both are
listed for the user first (the CLI prints them; the app asks), a network that is not installed is
never downloaded because a recipe asked (the user downloads it, or chooses another), and weights
from a path the recipe names are called that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.recipe import Recipe

TORCHVISION_MB = {"vgg19": 548, "vgg16": 528}


def shown(text: str) -> str:
    """A recipe's path or word as the user is shown it: quoted with its escapes where it holds a control character
    (a newline would pass for a second line of the list the user agrees to; an escape could clear a terminal)."""
    return repr(text) if any(not c.isprintable() for c in text) else text


@dataclass(frozen=True)
class Reach:
    lines: tuple[str, ...]  # one per file or network, for the user
    refusal: str | None  # why the recipe cannot run as it is, or None


def recipe_weights(recipe: Recipe) -> str:
    """The network a re-run of ``recipe`` loads: the one its parameters name; for a recipe made with ``auto``,
    the network that made it where that one is installed and ``auto`` would now choose another (``auto`` follows
    the best network installed, which changes when a better one is installed, and the re-run would be another
    picture), else ``auto``."""
    name = str(recipe.params.get("weights") or "auto")
    if name not in ("", "auto") or not recipe.weights:
        return name
    from studio.weights import SOURCE_NAMES, choose_source, get_source

    if recipe.weights not in SOURCE_NAMES or not get_source(recipe.weights).available:
        return "auto"
    return "auto" if choose_source("auto").name == recipe.weights else recipe.weights


def installed_recipe_weights(recipe: Recipe) -> str:
    """``recipe_weights`` where that network is installed here, else ``auto``: what the app keeps for a re-run of an
    opened recipe (the app never starts a download for one; the command line refuses instead, ``recipe_reach``)."""
    name = recipe_weights(recipe)
    if name in ("", "auto"):
        return "auto"
    from studio.weights import SOURCE_NAMES, get_source

    installed = get_source(name).available if name in SOURCE_NAMES else Path(name).is_file()
    return name if installed else "auto"


def recipe_reach(recipe: Recipe, weights: str | None = None, *, chosen_by_user: bool = False) -> Reach:
    """The files ``recipe`` reads and the network ``weights`` (default: ``recipe_weights``) it loads."""
    lines = []
    for ref in recipe.inputs:
        state = "" if Path(ref.path).is_file() else " (missing)"
        lines.append(f"reads the {shown(ref.role)} image {shown(ref.path)}{state}")
    if recipe.regions:
        from studio.style_regions import describe_regions

        lines.append(describe_regions(recipe.regions))
    name = weights if weights is not None else recipe_weights(recipe)
    refusal = None
    if name in ("", "auto"):
        lines.append("loads the best feature network installed here")
    elif name.endswith("-torchvision"):
        from studio.weights import get_source

        source = get_source(name)
        if source.available:
            lines.append(f"loads the feature network {name} (installed)")
        else:
            mb = TORCHVISION_MB.get(source.arch, 500)
            lines.append(f"asks for the feature network {name}, which is not installed (a {mb} MB download)")
            if not chosen_by_user:
                refusal = (f"the recipe asks for the {name} network, which is not installed; a recipe never starts "
                           f"a {mb} MB download: run 'studio weights download {name}' first, or add --weights auto.")
    elif name.endswith((".pth", ".pt")) or "/" in name:
        lines.append(f"loads weights from the file {name}, which the "
                     f"{'command line' if chosen_by_user else 'recipe'} names (not one of studio's networks)")
    else:
        made = " (the one that made it)" if weights is None and name == recipe.weights else ""
        lines.append(f"loads the feature network {name}{made}")
    return Reach(tuple(lines), refusal)
