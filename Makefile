# Two commands do all set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_CORE := $(VENV)/.core-installed
STAMP_DEV  := $(VENV)/.dev-installed
STAMP_DEMO := $(VENV)/.demo-installed
# The MLPerf Tiny models (relative: from this directory), passed to tests and benchmarks as
# PICOML_MODELS; `make test MODELS=dir` or PICOML_MODELS=dir in the environment sets it
MODELS ?= $(or $(PICOML_MODELS),../shared/models)

# The conformance corpus is made with TensorFlow's own converter, in a venv of its own (.venv-tf:
# TensorFlow pins numpy and friends, so it never goes into .venv)
TF_VENV := .venv-tf
TF_PY   := $(TF_VENV)/bin/python
STAMP_TF := $(TF_VENV)/.tf-installed

.PHONY: demo test test-slow bench lint clean conformance-corpus conformance

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_CORE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(STAMP_DEMO): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[demo]'
	touch $@ $(STAMP_CORE)

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(STAMP_CORE) $(STAMP_DEMO)

demo: $(STAMP_DEMO)
	$(VENV)/bin/picoml demo --out build/demo

test: $(STAMP_DEV)
	$(PY) -m ruff check src tests benchmarks examples
	PICOML_MODELS="$(MODELS)" $(PY) -m pytest -n 2 -m "not slow" tests

test-slow: $(STAMP_DEV)
	PICOML_MODELS="$(MODELS)" $(PY) -m pytest -n 2 -m slow tests

bench: $(STAMP_DEV)
	PICOML_MODELS="$(MODELS)" $(PY) benchmarks/bench_interpreter.py
	PICOML_MODELS="$(MODELS)" $(PY) benchmarks/bench_codegen.py
	$(PY) benchmarks/bench_quantization.py

$(STAMP_TF): pyproject.toml
	$(PYTHON) -m venv $(TF_VENV)
	$(TF_PY) -m pip install -q --upgrade pip
	$(TF_PY) -m pip install -q 'tensorflow-cpu==2.21.0'
	touch $@

# Rebuild tests/data/conformance (the .tflite files and manifest.json) with TensorFlow
conformance-corpus: $(STAMP_TF)
	$(TF_PY) benchmarks/conformance.py build

# Every corpus model through picoml vs tflite-micro, and its C on emulated cores
conformance: $(STAMP_DEV)
	$(PY) benchmarks/conformance.py run
	$(PY) benchmarks/conformance.py seq

lint: $(STAMP_DEV)
	$(PY) -m ruff check src tests benchmarks examples
	$(PY) -m ruff format --check src tests benchmarks examples

clean:
	rm -rf build .pytest_cache
