"""Triton kernels (installed as fastroute.kernels): the GPU path of fastroute.ops.

Every kernel has a numpy reference in fastroute/ops/reference.py; tests run them
under TRITON_INTERPRET=1 on the CPU. Importing this package imports triton.
"""
