# Two commands on a fresh Debian machine, as root:  make demo  /  make test
# Every step is idempotent: a second run installs and rebuilds only what changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libxdp-dev libbpf-dev clang llvm xdp-tools bpftool iproute2 iputils-ping tcpdump \
                gcc make pkg-config python3 python3-venv python3-dev stress-ng
BPF_OBJECTS := $(patsubst bpf/%.c,xsk/_bpf/%.o,$(wildcard bpf/*.c))

.PHONY: all setup apt host demo test test-debian13 test-loaded lint docs clean

all: setup

setup: apt $(VENV)/.installed $(BPF_OBJECTS)

apt:
	@missing=$$(for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The editable install builds the cffi extension; it is redone when the binding sources change.
$(VENV)/.installed: pyproject.toml setup.py $(wildcard xsk/_ffi/*.c xsk/_ffi/*.h xsk/_ffi/*.cdef) xsk/_ffi/build.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[test,docs]'
	@touch $@

xsk/_bpf/%.o: bpf/%.c bpf/build.py xsk/_ffi/redirect.h
	$(PY) bpf/build.py xsk/_bpf

# bpffs and hugepages: needs root, changes nothing that is already in place.
host:
	@bash tools/host-setup.sh

demo: setup host
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/xsk demo

test: setup host
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest $(PYTEST_ARGS)

# The same `make test`, from a copy of this checkout inside a Debian 13 root (made once, kept).
test-debian13:
	bash tools/debian13.sh test $(if $(PYTEST_ARGS),PYTEST_ARGS="$(PYTEST_ARGS)")

# The kernel tests on a machine as busy as a shared CI runner: CPU hogs, another AF_XDP job,
# half of the free hugepages held by another process.
test-loaded: setup host
	OPENBLAS_NUM_THREADS=1 bash tools/loaded.sh $(PYTEST_ARGS)

# The site (README, tutorial, API reference from the docstrings); a warning fails the build.
docs: setup
	$(VENV)/bin/sphinx-build -W --keep-going -q -b html docs build/docs
	@echo "docs: build/docs/index.html"

# ruff over everything; mypy --strict over xsk/ (pyproject.toml), and over tests/ and tools/ (tests/mypy.ini)
lint: setup
	$(VENV)/bin/ruff check . tools/bench tools/instructions tools/latency tools/fuzz tools/soak tools/chaos
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --config-file tests/mypy.ini

clean:
	rm -rf build *.egg-info xsk/_xsk_cffi*.so xsk/_bpf .pytest_cache
