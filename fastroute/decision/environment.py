"""What a server process sets before its kernels load, unless already set.

A server's event loop needs a core of its own: score on one thread, and let idle OpenMP/BLAS
workers sleep instead of spinning. `fastroute serve` / `extproc` (cli.common) and Ray Serve
replicas (frontends.http.ray_serve) apply it. A module of its own, importing nothing, so that
applying it loads no numpy (OpenBLAS reads its thread count when numpy is imported).
"""

SERVER_ENVIRONMENT = {"FASTROUTE_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1"}
