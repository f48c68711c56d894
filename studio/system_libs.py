"""The system libraries Qt's xcb platform plugin needs before the window can open on Linux.

On a fresh Debian or Ubuntu the plugin is there (PySide6 ships it) but some X11 libraries are not, and Qt
stops with "could not load the Qt platform plugin xcb". ``./dev run`` calls ``python -m studio.system_libs``
first: it asks the dynamic linker what the plugin cannot find (``ldd``, plus ``libxcb-cursor``, which Qt
loads only at run time), then installs the Debian packages when it can (root with apt-get) or stops with
one sentence naming the exact command. Qt-free, so it runs before Qt is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: shared library -> the Debian/Ubuntu package that provides it
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}
#: loaded by the xcb plugin at run time (Qt 6.5 and later), so ``ldd`` does not list it
RUNTIME_LIBRARIES = ("libxcb-cursor.so.0",)


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def not_found(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` says it cannot find, in order, each once."""
    out: list[str] = []
    for line in ldd_output.splitlines():
        name, sep, rest = line.strip().partition(" => ")
        if sep and rest.strip() == "not found" and name not in out:
            out.append(name)
    return out


def known_libraries(ldconfig_output: str) -> set[str]:
    """The library names ``ldconfig -p`` lists."""
    return {line.strip().split(" ", 1)[0] for line in ldconfig_output.splitlines()[1:] if line.strip()}


def missing_libraries(plugin: Path) -> list[str]:
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=60).stdout
    missing = not_found(ldd)
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        listed = known_libraries(subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=60).stdout)
    except OSError:
        listed = set()
    if listed:
        missing += [lib for lib in RUNTIME_LIBRARIES if lib not in listed and lib not in missing]
    return missing


def packages_for(missing: list[str]) -> tuple[list[str], list[str]]:
    """(Debian packages for the libraries it knows, the libraries it does not)."""
    packages = list(dict.fromkeys(DEBIAN_PACKAGES[lib] for lib in missing if lib in DEBIAN_PACKAGES))
    return packages, [lib for lib in missing if lib not in DEBIAN_PACKAGES]


def advice(missing: list[str], *, root: bool, apt: bool) -> tuple[list[str] | None, str]:
    """(the apt-get command to run now, or None; the sentence for the user)."""
    packages, unknown = packages_for(missing)
    if not missing:
        return None, ""
    if apt and packages and not unknown:
        command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
        if root:
            return command, f"Installing what Qt needs to open a window: {' '.join(packages)}."
        return None, ("studio's window needs system libraries that are missing; install them with: sudo "
                      + " ".join(command[:2] + command[3:]))
    return None, ("studio's window needs system libraries that are missing (" + ", ".join(missing)
                  + "); install them with your package manager, then run ./dev run again.")


def main() -> int:
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") not in ("", "xcb"):
        return 0  # no xcb there: nothing to check
    plugin = xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        return 0
    missing = missing_libraries(plugin)
    command, sentence = advice(missing, root=os.geteuid() == 0, apt=shutil.which("apt-get") is not None)
    if not missing:
        return 0
    print(f"studio: {sentence}", file=sys.stderr)
    if command is None:
        return 2
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    done = subprocess.run(command, check=False).returncode == 0
    still = missing_libraries(plugin) if done else missing
    if still:
        print(f"studio: error: could not install {', '.join(still)}; run: {' '.join(command)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
