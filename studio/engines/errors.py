"""The one error type that reaches the user as a message rather than a traceback."""

from __future__ import annotations


class StudioInputError(ValueError):
    """A problem with something the user gave us: a file, a folder, a value.

    The message is one clear sentence that names the file or value and says what is wrong,
    e.g. ``"photo.jpg is truncated or corrupt: image file is truncated."``. The CLI prints it
    and exits with code 2; the app shows it in a dialog.
    """
