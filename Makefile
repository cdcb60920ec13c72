# The two set-up commands of the README (each works on a fresh machine):
#   make route PROMPT="..."   installs the core package and routes a prompt with the defaults
#   make test                 installs everything (dev extras) and runs the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.core-installed
DEV    := $(VENV)/.dev-installed
SOURCES := pyproject.toml setup.py csrc/build_ffi.py csrc/fastroute_ops.c csrc/fastroute_ops.h csrc/fr_kernels.inc

.PHONY: route test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(CORE): $(BIN)/python $(SOURCES)
	$(BIN)/pip install -q -e .
	touch $@

# torch==2.13.0 first: it is the CPU build, so nothing later pulls a multi-GB CUDA build.
$(DEV): $(CORE)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,minilm,io,classifiers]"
	touch $@

PROMPT ?= Prove that there are infinitely many primes.
route: $(CORE)
	$(BIN)/fastroute route --verbose "$(PROMPT)"

test: $(DEV)
	$(BIN)/fastroute info --require-c
	FASTROUTE_REQUIRE_C=1 $(BIN)/python -m pytest -q

bench: $(DEV)
	$(BIN)/python -m pytest benchmarks -q --benchmark-enable --benchmark-columns=median,ops,rounds

clean:
	rm -rf $(VENV) build *.egg-info fastroute/_C*.so fastroute/_C.c
