# Masterbox: `make demo` (no hardware, no downloads) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba-cache

.PHONY: venv demo test bench report clean

$(BIN)/masterbox: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/masterbox

demo: venv
	$(BIN)/python -m firmware.demo --out demo-out

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/run_all.py

report: venv
	$(BIN)/python bench/report.py --out report

clean:
	rm -rf $(VENV) .numba-cache demo-out report ci-arm64
