# Two commands do all the set-up on a fresh machine:
#   make demo   install into .venv and run the main job
#   make test   install into .venv (with test extras) and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= out

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/feedforward train --out $(OUT)

test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2

bench: $(VENV)/.installed
	$(PY) benchmarks/step.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
