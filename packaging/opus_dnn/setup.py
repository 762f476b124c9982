"""Builds libopus from the release tarball into the wzp_opus_dnn package (see pyproject.toml).

WZP_OPUS_TARBALL: the libopus 1.6.1 release tarball (a .tar.gz or .tar.xz holding opus-1.6.1/ with
its dnn/*_data.c model weights: the git tree lacks them); default: opus_1.6.1.orig.tar.xz next to this
file (where the CI workflow puts it). Its SHA-256 must be one of TARBALLS, or WZP_OPUS_TARBALL_SHA256
(for another packaging of the same release).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

VERSION = "1.6.1"
TARBALLS = {
    # Debian's opus_1.6.1.orig.tar.xz (the upstream release tarball, recompressed), source package 1.6.1-1.
    "001ac615b9f8f8994b229ad2b1a5969ed12ab48b0d154d0af1016a5899cd6ba1",
}
CONFIGURE = ["--enable-deep-plc", "--enable-osce", "--disable-doc", "--disable-extra-programs", "--disable-static"]
CMAKE = ["-DOPUS_DEEP_PLC=ON", "-DOPUS_OSCE=ON", "-DOPUS_BUILD_SHARED_LIBRARY=ON", "-DOPUS_BUILD_TESTING=OFF",
         "-DOPUS_BUILD_PROGRAMS=OFF", "-DCMAKE_BUILD_TYPE=Release"]


def _tarball() -> Path:
    default = Path(__file__).resolve().parent / f"opus_{VERSION}.orig.tar.xz"
    path = Path(os.environ.get("WZP_OPUS_TARBALL") or default)
    if not path.is_file():
        raise SystemExit(f"wzp-opus-dnn: no libopus {VERSION} release tarball at {path} (set WZP_OPUS_TARBALL)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    allowed = set(TARBALLS)
    if os.environ.get("WZP_OPUS_TARBALL_SHA256"):
        allowed.add(os.environ["WZP_OPUS_TARBALL_SHA256"].lower())
    if digest not in allowed:
        raise SystemExit(f"wzp-opus-dnn: {path} has SHA-256 {digest}, not a known libopus {VERSION} tarball")
    return path


def _run(cmd: list[str], cwd: Path) -> None:
    print("wzp-opus-dnn:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def build_libopus(out_dir: Path) -> Path:
    """Configure and compile libopus; returns the shared library copied into out_dir."""
    with tempfile.TemporaryDirectory(prefix="wzp-opus-") as tmp:
        with tarfile.open(_tarball()) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Python < 3.12 without the backport
                tar.extractall(tmp)
        src = Path(tmp) / f"opus-{VERSION}"
        if not (src / "dnn" / "plc_data.c").is_file():
            raise SystemExit("wzp-opus-dnn: the tarball has no dnn/plc_data.c (model weights): not a release tarball")
        jobs = str(os.cpu_count() or 2)
        if sys.platform == "win32":
            build = src / "build"
            _run(["cmake", "-S", str(src), "-B", str(build), *CMAKE], src)
            _run(["cmake", "--build", str(build), "--config", "Release", "--parallel", jobs], src)
            built = next(build.rglob("opus.dll"))
            name = "opus.dll"
        else:
            _run(["./configure", *CONFIGURE], src)
            _run(["make", f"-j{jobs}"], src)
            if sys.platform == "darwin":
                built, name = src / ".libs" / "libopus.0.dylib", "libopus.0.dylib"
            else:
                built, name = src / ".libs" / "libopus.so.0", "libopus.so.0"
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / name
        shutil.copyfile(built.resolve(), target)
        if sys.platform == "darwin":  # load by path, not from /usr/local/lib
            _run(["install_name_tool", "-id", f"@rpath/{name}", str(target)], out_dir)
        return target


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        build_libopus(Path(self.build_lib) / "wzp_opus_dnn")


class BinaryDistribution(Distribution):
    def has_ext_modules(self) -> bool:  # a platform wheel, though it holds no extension module
        return True


class BdistWheel(bdist_wheel):
    def get_tag(self) -> tuple[str, str, str]:
        _python, _abi, plat = super().get_tag()
        return "py3", "none", plat  # the library does not depend on the Python version


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel})
