# Set-up, demo and checks. Every target makes its own virtual environment first.
# torch is installed before the project so that the project's own torch range is already
# satisfied and pip does not pull a multi-GB CUDA build on CPU machines.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
EXTRAS ?= dev,lingua,ct2,ray
TINY ?= .tiny
OUT ?= out

.PHONY: setup demo demo-plan demo-full demo-offline tiny test lint typecheck docs unit e2e storage pytest bench soak soak-ray clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

setup: $(VENV)/.installed

## The demo: samples/ summarized by the XL-Sum mT5 model in every language and translated to English
## by one multilingual opus-mt model: two downloads, about 2.6 GB (see docs/index.md, Getting started).
DEMO_MODELS ?= --summary-model csebuetnlp/mT5_multilingual_XLSum --translation-model Helsinki-NLP/opus-mt-mul-en

demo: setup
	$(VENV)/bin/summarize run samples/articles.jsonl --out $(OUT)/demo --to en $(DEMO_MODELS) --overwrite

## What the demo and the full run will use, without loading (or downloading) any model.
demo-plan: setup
	$(VENV)/bin/summarize models plan samples/articles.jsonl --to en $(DEMO_MODELS)
	$(VENV)/bin/summarize models plan samples/articles.jsonl --to en

## The next step: the same job routed through the registry, the best model per language and pair
## (for samples/: 18 models, about 8.9 GB).
demo-full: setup
	$(VENV)/bin/summarize run samples/articles.jsonl --out $(OUT)/demo-full --to en --overwrite

## The same job with tiny random-weight local models: works with no network.
$(TINY)/.built: $(VENV)/.installed $(wildcard summarize/testing/*.py summarize/testing/corpus/*.jsonl)
	HF_HUB_OFFLINE=1 $(PY) -m summarize.testing.tiny $(TINY)
	touch $@

tiny: $(TINY)/.built

demo-offline: setup tiny
	HF_HUB_OFFLINE=1 $(VENV)/bin/summarize run samples/articles.jsonl --out $(OUT)/demo-offline \
		--summary-model $(TINY)/mt5 --translation-model $(TINY)/m2m100 --to en,fr --translate summary,title \
		--max-new-tokens 32 --beams 2 --overwrite
	$(VENV)/bin/summarize report $(OUT)/demo-offline --html $(OUT)/demo-offline/report.html

lint: setup
	$(VENV)/bin/ruff check .

typecheck: setup
	$(VENV)/bin/mypy

## The documentation site (docs/, mkdocs.yml) into site/; strict, so a broken link or anchor fails.
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

## Tests in three rooms. `make unit` is the developer's fast loop (no models, no servers: under a
## minute on 2 cores); `e2e` builds the tiny models (cached in $(TINY) across runs); `storage` starts
## SeaweedFS, Delta and Ray. `make test` runs all three, as CI does.
## pytest-xdist spreads them over JOBS processes; the model-backed rooms keep each file on one worker
## (--dist loadfile) so a module's fixtures (a run, a server, a cluster) are built once. JOBS=0 runs serially.
JOBS ?= 2
PYTEST := HF_HUB_OFFLINE=1 $(VENV)/bin/pytest -q -n $(JOBS)
unit: setup
	$(PYTEST) tests/unit

e2e: setup tiny
	SUMMARIZE_TINY_DIR=$(abspath $(TINY)) $(PYTEST) --dist loadfile tests/e2e

storage: setup tiny
	SUMMARIZE_TINY_DIR=$(abspath $(TINY)) $(PYTEST) --dist loadfile tests/storage

pytest: setup tiny
	SUMMARIZE_TINY_DIR=$(abspath $(TINY)) $(PYTEST) --dist loadfile --durations=25 tests

test: lint typecheck docs pytest

bench: setup
	$(PY) benchmarks/langid.py
	$(PY) benchmarks/close_pairs.py
	$(PY) benchmarks/extract.py
	$(PY) benchmarks/segment_speed.py
	$(PY) benchmarks/translate_batching.py --quick
	$(PY) benchmarks/throughput.py --quick
	$(PY) benchmarks/memory.py
	$(PY) benchmarks/ray_scaling.py

## End to end through the real `summarize run` (not in CI; long: minutes per path on 2 cores): prints
## one JSON document. E2E_ARGS="--quick" for a smoke run, e.g. make bench-e2e E2E_ARGS=--quick
.PHONY: bench-e2e
bench-e2e: setup
	$(PY) benchmarks/e2e.py $(E2E_ARGS)

## Kill/resume loop (not in CI): prints how many SIGKILLs it survived with nothing lost.
soak: setup
	$(PY) benchmarks/soak.py

## Distributed soak (not in CI; about 4 minutes for 10,000 articles on 2 quiet cores, the sample texts coming from the reuse memory): a 3-node Ray cluster
## on this machine, a worker node killed and replaced every SOAK_EVERY shards; prints its figures and checks.
SOAK_ARTICLES ?= 10000
SOAK_EVERY ?= 20
soak-ray: setup
	HF_HUB_OFFLINE=1 $(PY) benchmarks/soak_ray.py --articles $(SOAK_ARTICLES) --every $(SOAK_EVERY)

clean:
	rm -rf $(OUT) $(TINY) site .pytest_cache .mypy_cache .ruff_cache
