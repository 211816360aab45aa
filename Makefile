# Two commands do all set-up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP_CORE := $(VENV)/.core-installed
STAMP_DEV  := $(VENV)/.dev-installed
MODELS ?= ../shared/models

.PHONY: demo test test-slow bench lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP_CORE): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(STAMP_CORE)

demo: $(STAMP_CORE)
	$(VENV)/bin/picoml info $(MODELS)/kws_int8.tflite
	mkdir -p build/demo
	$(PY) -c "import numpy as np; np.save('build/demo/kws_input.npy', np.random.default_rng(0).integers(-128, 128, (8, 1, 49, 10, 1), dtype=np.int8))"
	$(VENV)/bin/picoml run $(MODELS)/kws_int8.tflite --input build/demo/kws_input.npy --output build/demo/kws_output.npy
	$(PY) -c "import numpy as np; y = np.load('build/demo/kws_output.npy'); print('output', y.shape, y.dtype); print('predicted classes', y.reshape(len(y), -1).argmax(1).tolist())"

test: $(STAMP_DEV)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m pytest -n 2 -m "not slow" tests

test-slow: $(STAMP_DEV)
	$(PY) -m pytest -n 2 -m slow tests

bench: $(STAMP_DEV)
	$(PY) benchmarks/bench_interpreter.py

lint: $(STAMP_DEV)
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

clean:
	rm -rf build .pytest_cache
