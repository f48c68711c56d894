"""./dev run's check of the system libraries Qt's xcb plugin needs (parsed from ldd and ldconfig)."""

from __future__ import annotations

from studio.system_libs import advice, known_libraries, not_found, packages_for

LDD = """\tlinux-vdso.so.1 (0x00007ffd)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
"""
LDCONFIG = """412 libs found in cache `/etc/ld.so.cache'
\tlibxcb.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libxcb.so.1
\tlibxcb-shape.so.0 (libc6,x86-64) => /lib/x86_64-linux-gnu/libxcb-shape.so.0
"""


def test_what_ldd_cannot_find_is_listed_once_and_mapped_to_debian_packages():
    missing = not_found(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert known_libraries(LDCONFIG) == {"libxcb.so.1", "libxcb-shape.so.0"}
    assert packages_for(missing + ["libxcb-cursor.so.0"]) == (
        ["libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"], [])


def test_root_installs_others_get_one_sentence_with_the_exact_command():
    missing = ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    command, sentence = advice(missing, root=True, apt=True)
    assert command == ["apt-get", "install", "-y", "--no-install-recommends", "libxcb-cursor0", "libxcb-icccm4"]
    command, sentence = advice(missing, root=False, apt=True)
    assert command is None and "\n" not in sentence
    assert sentence.endswith("install them with: sudo apt-get install --no-install-recommends libxcb-cursor0 "
                             "libxcb-icccm4")
    command, sentence = advice(["libfoo.so.9"], root=True, apt=True)
    assert command is None and "libfoo.so.9" in sentence and "package manager" in sentence
    assert advice([], root=False, apt=False) == (None, "")
