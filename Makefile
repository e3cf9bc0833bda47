# The entry points of this project. Every target bootstraps first (idempotent and cached).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python
LOCALDEV := $(PY) -m pulumi_azbatch.localdev
STACK ?= local
PYTEST_ARGS ?=

.PHONY: help bootstrap test up down emulators stop-emulators lint bench bench-scale bench-check validate-stacks schema

help:
	@echo "make up               run the main job (stack '$(STACK)') on the local emulators and print a report"
	@echo "make down             destroy it (release tasks run), then stop the emulators"
	@echo "make test             bootstrap, then run the whole test suite"
	@echo "make emulators        start Azurite and the Batch emulator in the background"
	@echo "make stop-emulators   stop them"
	@echo "make lint             ruff (lint and format check) and mypy"
	@echo "make bench            run the benchmarks and print one table"
	@echo "make bench-scale      100,000-task jobs (B1, B2, B9; about 20 minutes)"
	@echo "make validate-stacks  validate every stack config in stacks/ offline"

bootstrap:
	@bash scripts/bootstrap.sh

test: bootstrap
	@bash scripts/install-browser.sh
	$(PY) -m pytest $(PYTEST_ARGS)

emulators: bootstrap
	@$(LOCALDEV) start

stop-emulators:
	@if [ -x $(PY) ]; then $(LOCALDEV) stop; fi

up: emulators
	@$(LOCALDEV) up --stack $(STACK)

down: bootstrap
	@$(LOCALDEV) down --stack $(STACK)
	@$(LOCALDEV) stop

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy pulumi_azbatch components dynamic_providers emulator/localbatch file_conventions/batch_file_conventions

bench: bootstrap
	$(PY) -m bench

bench-scale: bootstrap
	$(PY) -m bench --scale

bench-check: bootstrap
	$(PY) -m bench.check

validate-stacks: bootstrap
	$(PY) -m pulumi_azbatch.cli validate stacks

schema: bootstrap
	$(PY) -m pulumi_azbatch.cli schema > stacks/schema.json
