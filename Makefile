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

# One BLAS thread per pytest worker: two workers on two cores, no oversubscription.
test: $(VENV)/.installed
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --durations=15

bench: $(VENV)/.installed
	$(PY) benchmarks/compare.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .hypothesis
