# SPDX-License-Identifier: GPL-3.0-or-later
# The README's commands. Each target installs what it needs first (scripts/setup.sh).

VENV ?= .venv
PY := $(VENV)/bin/python
GRC_BLOCKS := $(abspath $(VENV))/share/gnuradio/grc/blocks
export GRC_BLOCKS_PATH := $(GRC_BLOCKS)$(if $(GRC_BLOCKS_PATH),:$(GRC_BLOCKS_PATH))

.PHONY: setup demo test grc evaluate clean

setup:
	@VENV=$(VENV) scripts/setup.sh

demo: setup
	$(PY) experiments/loopback_demo.py

test: setup
	$(PY) -m pytest

evaluate: setup
	$(VENV)/bin/semanticnn evaluate

# GNU Radio Companion with the environment's Python, so generated flowgraphs import torch.
grc: setup
	$(PY) /usr/bin/gnuradio-companion $(GRC_FILES)

clean:
	rm -rf build results .pytest_cache
