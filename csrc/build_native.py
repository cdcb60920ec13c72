"""Builds fastroute's native libraries (csrc/engine/ over the C kernels in csrc/):

* libfastroute.so        the engine behind csrc/fastroute.h, for any host (Go, Rust, C, nginx);
* libfastroute_envoy.so  the same engine as an Envoy HTTP filter (a dynamic module, csrc/envoy/).

Each links jansson (the JSON library: Debian's libjansson-dev to build, libjansson4 to run;
Debian's static archive is not position-independent, so it cannot be linked in), builds the
kernels for one thread (-fopenmp-simd: SIMD, no OpenMP runtime inside a host's process), and
exports only the public functions. setup.py runs `build(outdir)` at install time; without a C compiler
or jansson's headers the native libraries are skipped with a warning, never the install.

    python csrc/build_native.py --outdir fastroute/native [--sanitize]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
KERNELS = [
    "fr_runtime.c", "cosine_sim.c", "gemv_sigmoid.c", "linear_scores.c", "field_win_rates.c", "sw_stats.c",
    "bt_fit.c", "embedding_bag_i8.c", "wordpiece.c", "wordpiece_unicode.c",
]  # fmt: skip
ENGINE = ["engine/util.c", "engine/safetensors.c", "engine/embedder.c", "engine/names.c", "engine/routers.c",
          "engine/engine.c", "engine/model_string.c", "engine/profile.c", "engine/chat.c", "engine/decider.c"]  # fmt: skip
ENVOY = ["envoy/filter.c"]
FLAGS = ["-O3", "-std=gnu11", "-fPIC", "-fno-math-errno", "-fopenmp-simd", "-fvisibility=hidden", "-Wall",
         "-Wextra", "-Wno-unknown-pragmas", "-Wno-unused-parameter", "-Wno-sign-compare", "-Wno-missing-field-initializers"]  # fmt: skip
SANITIZE = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined,float-cast-overflow",
            "-fno-sanitize-recover=all"]  # fmt: skip
# UBSan alone, for the one host ASan cannot run in: Envoy's own binary replaces malloc (tcmalloc),
# and a preloaded ASan runtime crashes it at start-up.
UBSAN = [
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=undefined,float-cast-overflow",
    "-fno-sanitize-recover=all",
]
LIBS = {"libfastroute.so": ENGINE, "libfastroute_envoy.so": ENGINE + ENVOY}


def _cc() -> "str | None":
    return os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc")


def missing() -> str:
    """Why the native libraries cannot be built here ("" when they can)."""
    cc = _cc()
    if cc is None:
        return "no C compiler (gcc or $CC)"
    probe = subprocess.run(
        [cc, "-x", "c", "-", "-o", os.devnull, "-ljansson"],
        input="#include <jansson.h>\nint main(void){return json_integer_value(json_integer(0));}\n",
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return "no jansson (install Debian's libjansson-dev, or your system's jansson development package)"
    return ""


def _compile(cc: str, src: Path, obj: Path, flags: list[str], version: str) -> None:
    cmd = [cc, *flags, f'-DFASTROUTE_VERSION_STRING="{version}"', "-I", str(HERE), "-c", str(src), "-o", str(obj)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{res.stderr}")


def build(outdir: "str | Path", sanitize: "bool | str" = False, version: str = "0.1.0") -> list[Path]:
    """Compiles both libraries into `outdir`; returns their paths. `sanitize`: True (or
    "address") for ASan + UBSan, "undefined" for UBSan alone."""
    cc = _cc()
    why = missing()
    if why:
        raise RuntimeError(f"the native libraries cannot be built: {why}")
    assert cc is not None
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    extra = UBSAN if sanitize == "undefined" else SANITIZE
    flags = [f for f in FLAGS if not f.startswith("-O")] + extra if sanitize else FLAGS
    sources = sorted({*KERNELS, *ENGINE, *ENVOY})
    with tempfile.TemporaryDirectory() as tmp:
        objs = {s: Path(tmp) / (s.replace("/", "_") + ".o") for s in sources}
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            list(pool.map(lambda s: _compile(cc, HERE / s, objs[s], flags, version), sources))
        built = []
        for lib, own in LIBS.items():
            exports = HERE / ("envoy/exports.map" if lib == "libfastroute_envoy.so" else "engine/exports.map")
            link = [cc, "-shared", "-o", str(out / lib), *(str(objs[s]) for s in KERNELS + own),
                    "-Wl,--exclude-libs,ALL", f"-Wl,--version-script={exports}", "-ljansson", "-lm"]  # fmt: skip
            if lib == "libfastroute.so":  # the Envoy module's envoy_dynamic_module_callback_* come from Envoy
                link.append("-Wl,-z,defs")
            if sanitize:
                link.insert(1, "-fsanitize=undefined,float-cast-overflow" if sanitize == "undefined" else
                            "-fsanitize=address,undefined,float-cast-overflow")  # fmt: skip
            res = subprocess.run(link, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"{' '.join(link)}\n{res.stderr}")
            built.append(out / lib)
    return built


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=str(HERE.parent / "fastroute" / "native"))
    parser.add_argument(
        "--sanitize",
        nargs="?",
        const="address",
        default=None,
        choices=["address", "undefined"],
        help="address: AddressSanitizer + UBSan; undefined: UBSan alone (for Envoy)",
    )
    args = parser.parse_args()
    try:
        for path in build(args.outdir, sanitize=args.sanitize or False):
            print(path)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
