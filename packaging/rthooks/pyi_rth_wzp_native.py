# PyInstaller run-time hook (runs in the frozen app before any of its modules is imported).
#
# sounddevice finds PortAudio with ctypes.util.find_library at import:
#     sounddevice:  ffi.dlopen(find_library("portaudio")) -> else its _sounddevice_data wheel folder
# In a frozen app find_library knows nothing of the bundle: on Linux it asks ldconfig, so a machine
# without libportaudio2 gets None, and one with it gets the system copy instead of ours.
# So: for that name, answer with the absolute path of the copy inside the bundle (sys._MEIPASS,
# which is _internal/ next to the executables, or Contents/Frameworks in a macOS .app). Any other
# name, or a bundle without the file, goes to the original find_library.
# libopus needs no help: the app loads it by absolute path from the wheels' package folders
# (opuslib_next/_native/, wzp_opus_dnn/), which the spec collects to the same places in the bundle.
import ctypes.util
import os
import sys

_BUNDLED = {
    "portaudio": (
        "libportaudio.so.2",  # Linux (from the build machine's libportaudio2; the wheel has none)
        os.path.join("_sounddevice_data", "portaudio-binaries", "libportaudio.dylib"),  # macOS wheel
        os.path.join("_sounddevice_data", "portaudio-binaries", "libportaudio64bit.dll"),  # Windows wheel
        os.path.join("_sounddevice_data", "portaudio-binaries", "libportaudioarm64.dll"),
    ),
}


def _install():
    base = getattr(sys, "_MEIPASS", None)
    if not base:
        return
    original = ctypes.util.find_library

    def find_library(name):
        for relative in _BUNDLED.get(name, ()):
            path = os.path.join(base, relative)
            if os.path.isfile(path):
                return path
        return original(name)

    find_library.__wrapped__ = original
    ctypes.util.find_library = find_library


_install()
del _install
