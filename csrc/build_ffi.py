"""cffi builder for fastroute._C, the CPU kernels in csrc/.

setup.py runs this at install time (``cffi_modules``). OpenMP is used when the
compiler has it; `python csrc/build_ffi.py` builds in place for development.

`python csrc/build_ffi.py --sanitize --outdir build/asan` builds an AddressSanitizer +
UBSan copy into its own directory (never over the normal build); point
FASTROUTE_C_MODULE at the .so it prints to test it (`make asan` does all that).
"""

from __future__ import annotations

import argparse
import os
import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
HEADER = (HERE / "fastroute_ops.h").read_text()
# One C file per op (csrc/<op>.c, entry points fr_<op>*), plus the library's runtime.
SOURCES = [
    "fr_runtime.c",
    "cosine_sim.c",
    "gemv_sigmoid.c",
    "linear_scores.c",
    "field_win_rates.c",
    "sw_stats.c",
    "bt_fit.c",
    "embedding_bag_i8.c",
    "wordpiece.c",
    "wordpiece_unicode.c",
]
HEADERS = ["fastroute_ops.h", "fr_internal.h", "fr_constants.h", "fr_levels.h", "fr_workspace.h", "wordpiece_unicode.h"]

# Portable flags only: the SIMD levels are chosen at run time (fr_levels.h),
# never -march=native, so one build runs on any x86-64 CPU.
BASE_FLAGS = ["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unknown-pragmas"]
OPENMP_FLAGS = ["-fopenmp"]
# Sanitizer build: any out-of-bounds access or undefined behaviour aborts the process.
SANITIZE_FLAGS = [
    "-O1",
    "-g",
    "-fsanitize=address,undefined,float-cast-overflow",
    "-fno-omit-frame-pointer",
    "-fno-sanitize-recover=all",  # every report aborts (float-cast-overflow is not in "undefined")
    # Python's CFLAGS carry -fwrapv, which defines signed overflow and shifts of
    # negative values: check the ISO C rules instead.
    "-fno-wrapv",
]


def make_builder(openmp: bool = True, sanitize: bool = False, absolute: bool = False) -> FFI:
    ffi = FFI()
    ffi.cdef(HEADER)
    flags = BASE_FLAGS + (OPENMP_FLAGS if openmp else ["-fopenmp-simd"])
    link = OPENMP_FLAGS if openmp else []
    if sanitize:
        flags = [f for f in flags if not f.startswith("-O")] + SANITIZE_FLAGS
        link = link + ["-fsanitize=address,undefined,float-cast-overflow"]
    # setup.py wants paths relative to the project; an out-of-tree build (cffi runs the
    # compiler from its output directory) needs absolute ones.
    where = (lambda p: str(p)) if absolute else os.path.relpath
    ffi.set_source(
        "fastroute._C",
        '#include "fastroute_ops.h"',
        sources=[where(HERE / n) for n in SOURCES],
        include_dirs=[where(HERE)],
        depends=[where(HERE / n) for n in HEADERS + SOURCES],
        extra_compile_args=flags,
        extra_link_args=link,
    )
    return ffi


ffibuilder = make_builder(openmp=os.environ.get("FASTROUTE_NO_OPENMP", "") != "1")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sanitize", action="store_true", help="build with ASan + UBSan")
    parser.add_argument("--outdir", default=".", help="where to build (default: in place)")
    args = parser.parse_args()
    builder = make_builder(
        openmp=os.environ.get("FASTROUTE_NO_OPENMP", "") != "1", sanitize=args.sanitize, absolute=args.outdir != "."
    )
    os.makedirs(args.outdir, exist_ok=True)
    print(builder.compile(tmpdir=args.outdir, verbose=True))
