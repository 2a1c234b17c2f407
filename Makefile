# Two commands for a new machine: `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
TORCH   ?= torch==2.13.0
STAMP   := $(VENV)/.installed

.PHONY: install demo test bench docs gallery clean

$(PY):
	python3 -m venv $(VENV)

# torch is installed first when missing: resolving it through the project's requirements would
# pull the registry's CUDA build (several GB).
$(STAMP): $(PY) pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install $(TORCH)
	$(PIP) install -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m scatter.demo --out out

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/filters.py

# run the notebooks and save their figures as PNG under out/docs (README's gallery comes from here),
# then build the API reference from the docstrings (warnings are errors) into out/docs/html
docs: $(STAMP)
	$(PY) notebooks/export_figures.py --out out/docs
	$(PY) -m sphinx -W --keep-going -b html docs out/docs/html

# the README's gallery (docs/images) from the notebooks and the demo: rerun after changing a figure
gallery: $(STAMP)
	$(PY) notebooks/export_figures.py --out out/docs --gallery

clean:
	rm -rf out .pytest_cache
