"""C kernels shipped as source, compiled on first use with the system C compiler and loaded with ctypes.

Why not a torch C++ extension: building against the torch headers takes about a minute and needs
ninja; these kernels are plain C over float pointers and compile in about a second with the same
compiler Inductor already requires. Each build is cached (keyed by the source, the compiler and
the flags) under ``$ACTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/actlab``, else ``~/.cache/actlab``,
and written atomically, so concurrent processes never load a half-written library.

There is no user-facing switch: a kernel is an accelerator behind its family's torch-op path,
which computes the same function. A machine without a working compiler warns once and every
caller uses that path.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import threading
import warnings
from importlib import resources
from pathlib import Path

import torch

from actlab.core.io import atomic_write

__all__ = ["load"]

_LOCK = threading.Lock()
_BASE_FLAGS = ["-O3", "-shared", "-fPIC", "-fno-math-errno", "-fno-trapping-math", "-std=gnu11", "-Wno-psabi"]
# GCC does not schedule instructions before register allocation on x86 by default; the noisy
# kernel's long dependency chains (hash, polynomials) ran 4-10% faster when it does.
_GCC_FLAGS = ["-fschedule-insns", "-fsched-pressure"]


def _cache_dir() -> Path:
    if root := os.environ.get("ACTLAB_CACHE_DIR"):
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "actlab"


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and (path := shutil.which(name)):
            return path
    return None


def _arch_flags() -> list[str]:
    # Only what this CPU is known to run (not -march=native, which would bake in the build
    # machine's features): AVX2+FMA gives the kernels 8-lane registers.
    if platform.machine().lower() in ("x86_64", "amd64") and torch.backends.cpu.get_cpu_capability() in (
        "AVX2",
        "AVX512",
    ):
        return ["-mavx2", "-mfma"]
    return []


def _is_gcc(version: str) -> bool:
    """Whether ``cc --version`` output is GCC's: it may call itself "cc", but prints the FSF copyright."""
    text = version.lower()
    return "clang" not in text and ("gcc" in text or "free software foundation" in text)


def _compile(cc: str, args: list[str], source: bytes, out: Path) -> None:
    # The source goes in on stdin (`-x c -`): no temporary source file to write and clean up.
    run = subprocess.run([cc, *args, "-x", "c", "-", "-o", str(out)], input=source, capture_output=True)
    if run.returncode != 0:
        raise RuntimeError(run.stderr.decode(errors="replace").strip()[-2000:])


def _build(name: str, source: bytes, cc: str) -> Path:
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    flags = _BASE_FLAGS + _arch_flags() + (_GCC_FLAGS if _is_gcc(version) else [])
    errors = []
    for openmp in (["-fopenmp"], []):  # Apple clang has no OpenMP: the kernel then runs on one thread
        args = flags + openmp
        digest = hashlib.sha256(source + "\0".join([cc, *args]).encode()).hexdigest()[:16]
        target = _cache_dir() / f"{name}-{digest}.so"
        if target.exists():
            return target
        try:

            def write(out: Path, args: list[str] = args) -> None:
                _compile(cc, args, source, out)

            return atomic_write(target, write)
        except RuntimeError as exc:
            errors.append(str(exc))
    raise RuntimeError("\n".join(errors))


@functools.cache
def _load(package: str, name: str, header: str) -> ctypes.CDLL | None:
    # Cached per process, so a failed build warns once.
    cc = _compiler()
    try:
        if cc is None:
            raise RuntimeError("no C compiler found (tried $CC, cc, gcc, clang)")
        source = header.encode() + resources.files(package).joinpath(f"{name}.c").read_bytes()
        return ctypes.CDLL(str(_build(name, source, cc)))
    except Exception as exc:
        warnings.warn(
            f"actlab: could not build the native kernel {name!r} ({type(exc).__name__}: {exc}); "
            "using the torch-op path (same results, slower)",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def load(package: str, name: str, *, header: str = "") -> ctypes.CDLL | None:
    """The compiled library of ``<name>.c`` in ``package`` (a family's own C source) with ``header``
    (generated text, e.g. ``#define`` lines of the constants the Python definition holds) prepended,
    or None when it cannot be built."""
    with _LOCK:
        return _load(package, name, header)
