"""What the harmonization engine refuses, in one sentence each: parameters out of range, and a painting,
composite and masks that do not fit together."""

from __future__ import annotations

import numpy as np

from studio.engines.errors import StudioInputError
from studio.engines.harmonize.params import MIN_SIZE, MODES, OWN_SIZE, HarmonizeParams

#: a mask counts as binary when its grey pixels (between 0.1 and 0.9) are fewer than this share of its object
MAX_GREY_SHARE = 0.5
#: a tight mask may cover at most this share of the painting (the style comes from the rest)
MAX_COVER = 0.98


def validate_params(params: HarmonizeParams) -> None:
    """One sentence for a bad parameter value. Every number's range is checked when the parameters are made
    (``HarmonizeParams.LIMITS``); what is left here are the choices."""
    if params.mode not in MODES:
        raise StudioInputError(f"mode must be one of {', '.join(MODES)}, got {params.mode!r}")
    if params.size != OWN_SIZE and params.size < MIN_SIZE:
        raise StudioInputError(f"size must be {OWN_SIZE} (the painting's own resolution) or at least {MIN_SIZE} px, "
                               f"got {params.size}")
    if params.pass2_init not in ("composite", "pass1"):
        raise StudioInputError(f"pass2-init must be composite or pass1, got {params.pass2_init!r}")


def _wh(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"


def _check_mask(mask: np.ndarray, what: str, painting: np.ndarray, tight: bool) -> None:
    if mask.ndim != 2:
        raise StudioInputError(f"The {what} must be a single-channel image, got an array of shape {mask.shape}.")
    if mask.shape != painting.shape[:2]:
        raise StudioInputError(f"The {what} ({_wh(mask)}) and the painting ({_wh(painting)}) differ in size; "
                               "they must match pixel for pixel.")
    if not np.isfinite(mask).all():
        raise StudioInputError(f"The {what} holds values that are not numbers.")
    fg = int((mask > 0.5).sum())
    if fg == 0:
        raise StudioInputError(f"The {what} is empty: no pixel is white, so there is no object to harmonize.")
    if tight and fg > MAX_COVER * mask.size:
        raise StudioInputError(f"The {what} covers the whole painting; leave part of the painting outside it "
                               "to take the style from.")
    grey = int(((mask > 0.1) & (mask < 0.9)).sum())
    if grey > MAX_GREY_SHARE * fg:
        raise StudioInputError(f"The {what} is not a black-and-white mask ({grey / mask.size:.0%} of its pixels "
                               "are grey); use white for the object and black elsewhere.")


def validate_inputs(painting: np.ndarray, composite: np.ndarray, tight_mask: np.ndarray,
                    loose_mask: np.ndarray | None = None, names: dict[str, str] | None = None) -> None:
    """Raise StudioInputError with one sentence for inputs the engine cannot use.

    ``names`` may give file names for the roles painting, composite, mask and loose_mask, so the
    sentence names the file.
    """
    names = names or {}

    def called(role: str, default: str) -> str:
        return f"{default} {names[role]}" if role in names else default

    for arr, role, default in ((painting, "painting", "painting"), (composite, "composite", "composite")):
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise StudioInputError(f"The {called(role, default)} must be an RGB image, got shape {arr.shape}.")
        if not np.isfinite(arr).all():
            raise StudioInputError(f"The {called(role, default)} holds values that are not numbers.")
    if composite.shape != painting.shape:
        raise StudioInputError(f"The {called('composite', 'composite')} ({_wh(composite)}) and the "
                               f"{called('painting', 'painting')} ({_wh(painting)}) differ in size; the composite "
                               "must be the painting with the object pasted in.")
    _check_mask(np.asarray(tight_mask), called("mask", "tight mask"), painting, tight=True)
    if loose_mask is not None:
        _check_mask(np.asarray(loose_mask), called("loose_mask", "loose mask"), painting, tight=False)
