# Masterbox: `make demo` (no hardware, no downloads) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba-cache

.PHONY: venv demo box test bench report scenarios clean mutants deps fresh-check vm-test

$(BIN)/masterbox: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/masterbox

demo: venv
	$(BIN)/python -m masterbox.firmware.demo --out demo-out

# The live box without hardware: the daemon on a private JACK dummy server
# playing the demo mix, the panel simulator in this terminal (q or Ctrl-C stops all)
box: venv deps
	$(BIN)/python -m masterbox.firmware.box

# System packages the tests use: PortAudio and libsndfile (sounddevice,
# soundfile), the JACK dummy server (a paced sound card), systemd-analyze and
# systemd-nspawn (the unit's checks), procps (/bin/kill, the unit's
# ExecReload; a minimal Debian lacks it).  Installed when root (or with
# passwordless sudo); otherwise make stops with the command to run.
APT_PKGS := libportaudio2 libsndfile1 jackd2 systemd systemd-container procps
deps:
	@command -v dpkg-query >/dev/null || { echo "deps: not Debian/Ubuntu: install $(APT_PKGS) (or your system's equivalents) yourself"; exit 0; }; \
	missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done | tr '\n' ' '); \
	[ -z "$$missing" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; \
	else echo "make test needs system packages: sudo apt-get install --no-install-recommends $$missing"; exit 2; fi; \
	echo "deps: installing $$missing"; \
	echo "jackd2 jackd/tweak_rt_limits boolean false" | $$SUDO debconf-set-selections; \
	$$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
	$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null

test: venv deps
	$(BIN)/python -m pytest -q -rs

# The README's set-up as a new user meets it: a fresh Debian bookworm root
# (debootstrap minbase + the README's prerequisites only), a clone of this
# repository's HEAD in it, `make demo` and `make test` in a chroot.  Root;
# ~20-30 min (downloads included).  FRESH_ROOT=dir keeps the root there.
fresh-check:
	bash .ci/fresh-check.sh

# The box on real Linux audio drivers (issue 12): Debian's kernel in qemu with
# snd-aloop and a UAC2 gadget (../shared/tools/kernel-audio-vm), the project
# installed in the guest from a wheelhouse; one JSON line of figures, non-zero
# exit on any failure.  Root (qemu, debootstrap); the first run builds the
# assets and compiles the kernels under emulation (~25 min), later runs reuse
# both.  VM_SHORT=1: the CI version (20 s streams, 3 faults of each kind).
vm-test: venv
	bash tests/vm/run.sh

bench: venv
	$(BIN)/python bench/run_all.py

# The quality report on the development music (../shared/material/get-dev-music.sh,
# optional: without it, one line says so and the report uses the demo mix)
report: venv
	$(BIN)/python bench/report.py --out report

# Live-moment scenarios (issue 9): needs the development music and espeak-ng.
# The music comes from ../shared/material/get-dev-music.sh, which is optional:
# without ../shared, fetch the music some other way into $(MUSIC_DIR).
MUSIC_DIR ?= $(HOME)/.cache/masterbox-music
GET_MUSIC := ../shared/material/get-dev-music.sh
scenarios: venv
	@if [ ! -s "$(MUSIC_DIR)/unmastered/lincity_03.wav" ]; then \
	  if [ -f "$(GET_MUSIC)" ]; then bash $(GET_MUSIC) "$(MUSIC_DIR)"; \
	  else echo "scenarios: no music in $(MUSIC_DIR) and no $(GET_MUSIC) (../shared is optional;"\
	    "get it, or put get-dev-music.sh's output in MUSIC_DIR)"; exit 2; fi; fi
	@command -v espeak-ng >/dev/null || { echo "scenarios: espeak-ng missing (apt-get install espeak-ng)"; exit 2; }
	$(BIN)/python -m bench.scenarios --music "$(MUSIC_DIR)" --out docs/scenarios $(SCENARIO_ARGS)

# Mutation testing (not part of `make test`), see docs/mutation.md: mutmut
# 2.5.1 over the DSP logic files, logic mutations (operators, comparisons,
# keywords, and/or; add ",number" to MUTANT_TYPES for constants); random
# mutants round-robin over the files until MUTANT_BUDGET_MIN is spent (a
# full run is ~1000 mutants at ~0.5-2 min each here); re-running continues
# with the untested ones.  `mutmut results` / `mutmut show ID` afterwards.
MUTATE ?= dsp/stages/limiter.py,dsp/stages/multiband.py,dsp/stages/stereo.py,dsp/stages/leveler.py,dsp/stages/eq.py,dsp/stages/meters.py,dsp/truepeak.py,dsp/biquad.py,dsp/units.py,dsp/design.py,dsp/layout.py
MUTANT_TYPES ?= operator,keyword,and_test,or_test
MUTANT_SAMPLE ?= 0
MUTANT_BUDGET_MIN ?= 50
MUTANT_NUMBA ?= /tmp/mut-numba

$(BIN)/mutmut: $(BIN)/masterbox
	$(BIN)/pip install -q -e '.[test,mutants]'
	touch $@

mutants: $(BIN)/mutmut
	NUMBA_CACHE_DIR=$(MUTANT_NUMBA) nice -n 19 $(BIN)/python tests/mutants.py --campaign \
	    --files $(MUTATE) --types $(MUTANT_TYPES) --sample $(MUTANT_SAMPLE) \
	    --budget-min $(MUTANT_BUDGET_MIN); rm -rf $(MUTANT_NUMBA)

clean:
	rm -rf $(VENV) .numba-cache demo-out report ci-arm64 .mutmut-cache
