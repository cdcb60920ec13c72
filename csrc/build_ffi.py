"""cffi builder for fastroute._C, the CPU kernels in csrc/.

setup.py runs this at install time (``cffi_modules``). OpenMP is used when the
compiler has it; `python csrc/build_ffi.py` builds in place for development.
"""
from __future__ import annotations

import os
import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
HEADER = (HERE / "fastroute_ops.h").read_text()

# Portable flags only: the SIMD levels are chosen at run time (fastroute_ops.c),
# never -march=native, so one build runs on any x86-64 CPU.
BASE_FLAGS = ["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unknown-pragmas"]
OPENMP_FLAGS = ["-fopenmp"]


def make_builder(openmp: bool = True) -> FFI:
    ffi = FFI()
    ffi.cdef(HEADER)
    flags = BASE_FLAGS + (OPENMP_FLAGS if openmp else ["-fopenmp-simd"])
    ffi.set_source(
        "fastroute._C",
        '#include "fastroute_ops.h"',
        sources=[os.path.relpath(HERE / "fastroute_ops.c")],
        include_dirs=[os.path.relpath(HERE)],
        depends=[os.path.relpath(HERE / n) for n in ("fastroute_ops.h", "fr_kernels.inc")],
        extra_compile_args=flags,
        extra_link_args=OPENMP_FLAGS if openmp else [],
    )
    return ffi


ffibuilder = make_builder(openmp=os.environ.get("FASTROUTE_NO_OPENMP", "") != "1")

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
