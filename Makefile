# Masterbox: `make demo` (no hardware, no downloads) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba-cache

.PHONY: venv demo test bench report clean mutants

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

# Mutation testing (not part of `make test`), see docs/mutation.md.  The DSP
# logic files, most important first; logic mutations only (operators,
# comparisons, keywords, and/or); numbers via MUTANT_TYPES=...,number.
MUTATE ?= dsp/stages/limiter.py,dsp/stages/multiband.py,dsp/stages/stereo.py,dsp/stages/leveler.py,dsp/stages/eq.py,dsp/stages/meters.py,dsp/truepeak.py,dsp/biquad.py,dsp/units.py,dsp/design.py,dsp/layout.py
MUTANT_TYPES ?= operator,keyword,and_test,or_test
MUTANT_NUMBA ?= /tmp/mut-numba

$(BIN)/mutmut: $(BIN)/masterbox
	$(BIN)/pip install -q -e '.[test,mutants]'
	touch $@

mutants: $(BIN)/mutmut
	rm -rf $(MUTANT_NUMBA)
	NUMBA_CACHE_DIR=$(MUTANT_NUMBA) nice -n 19 $(BIN)/mutmut run --paths-to-mutate $(MUTATE) \
	    --enable-mutation-types $(MUTANT_TYPES) --runner '$(BIN)/python tools/mutants.py' \
	    --tests-dir tests --test-time-multiplier 2 --test-time-base 30 --simple-output --no-progress; \
	    rm -rf $(MUTANT_NUMBA); $(BIN)/mutmut results

clean:
	rm -rf $(VENV) .numba-cache demo-out report ci-arm64 .mutmut-cache
