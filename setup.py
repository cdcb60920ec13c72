"""Builds the optional C kernels (fastroute._C) with cffi.

A missing compiler, or one without OpenMP, must not break the install: the
extension is retried without OpenMP, then skipped with a warning, and
fastroute falls back to its numpy reference kernels.
"""

from setuptools import find_namespace_packages, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    def run(self):
        super().run()
        self.build_native()

    def build_native(self):
        """The native engine and Envoy module (csrc/build_native.py), beside the package's
        modules; skipped with a warning where there is no compiler or jansson."""
        import importlib.util
        import os

        spec = importlib.util.spec_from_file_location("build_native", os.path.join("csrc", "build_native.py"))
        native = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(native)
        why = native.missing()
        if why:
            self.warn(
                f"fastroute: native engine not built ({why}); fastroute.native and the Envoy module are unavailable"
            )
            return
        where = (
            os.path.join("fastroute", "native") if self.inplace else os.path.join(self.build_lib, "fastroute", "native")
        )
        try:
            native.build(where)
        except Exception as exc:  # noqa: BLE001 - any compiler failure
            self.warn(f"fastroute: native engine not built ({exc})")

    def build_extension(self, ext):
        try:
            return super().build_extension(ext)
        except Exception as first:  # noqa: BLE001 - any compiler failure
            if "-fopenmp" in (ext.extra_compile_args or []):
                ext.extra_compile_args = ["-fopenmp-simd" if a == "-fopenmp" else a for a in ext.extra_compile_args]
                ext.extra_link_args = [a for a in (ext.extra_link_args or []) if a != "-fopenmp"]
                try:
                    self.warn(f"fastroute: building C kernels without OpenMP ({first})")
                    return super().build_extension(ext)
                except Exception as second:  # noqa: BLE001
                    first = second
            self.warn(f"fastroute: C kernels not built ({first}); the numpy reference kernels will be used")


setup(
    # The Triton kernels live in the top-level kernels/ (the project's layout) and install as fastroute.kernels.
    # Namespace packages too: the data directories (defaults/*, embedders/static_model) are
    # packages of their own to setuptools, and leaving them out warns at every install.
    packages=find_namespace_packages(include=["fastroute", "fastroute.*"], exclude=["*.__pycache__"])
    + ["fastroute.kernels"],
    package_dir={"fastroute.kernels": "kernels"},
    cffi_modules=["csrc/build_ffi.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt},
)
