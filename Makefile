# The kit's commands. Every target depends on `setup`, which is idempotent.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Everything the tools keep between runs stays in this checkout, not in $HOME: Ansible's
# temporary files and SSH control sockets, molecule's scenario state (its ephemeral
# directories), ansible-lint's and pip's caches. A clone never sees another's state.
export ANSIBLE_HOME := $(CURDIR)/.ansible
export XDG_CACHE_HOME := $(CURDIR)/.cache
PYTHON := $(VENV)/bin/python
LAB := $(PYTHON) -m lab

.PHONY: help setup lab-up lab-down lab-status lab-fault lab-clear demo detect remediate mitigate test test-unit test-flow test-integration test-molecule test-faults test-vm setup-vm vm-up vm-down lint bench bench-workers bench-health yaml-metrics

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

setup: ## Install Debian packages, start dockerd, create .venv (idempotent)
	@bash lab/setup.sh

lab-up: setup ## Build images if needed and bring up (or adopt) the lab
	@$(LAB) up

lab-down: setup ## Remove the lab's containers, network and volumes (images stay cached)
	@$(LAB) down

lab-status: setup ## Show the lab's containers, kernels and etcd members
	@$(LAB) status

lab-fault: setup ## Inject a fault: make lab-fault HOST=master2 FAULT=stuck_after_boot
	@$(LAB) fault $(HOST) $(FAULT)

lab-clear: setup ## Clear a fault (or all with FAULT=all): make lab-clear HOST=master2 FAULT=all
	@$(LAB) clear $(HOST) $(FAULT)

demo: lab-up ## Set up, bring up the lab, run the remediation, show the report
	@ansible-playbook remediate.yml; status=$$?; \
	  echo; echo "=== $$(ls -t reports/2*.md | head -n 1)"; cat "$$(ls -t reports/2*.md | head -n 1)"; \
	  exit $$status

remediate: lab-up ## ansible-playbook remediate.yml against the lab
	@ansible-playbook remediate.yml

mitigate: lab-up ## Restart stuck etcd members one at a time (the temporary fix)
	@ansible-playbook playbooks/mitigate.yml

detect: lab-up ## Read-only report: kernels, etcd state, symptoms, plan (reports/)
	@ansible-playbook playbooks/detect.yml

bench: lab-up ## Rollout benchmark: kit vs kit without leader handoff vs naive (reports/bench.json)
	@$(PYTHON) -m bench.rollout

bench-workers: lab-up ## Worker-phase benchmark: 10 and 20 workers at batch 1, 2 and 25%, kit vs naive (reports/bench-workers.json)
	@$(PYTHON) -m bench.workers

yaml-metrics: setup ## How much the role's YAML decides: tasks, run-state reads, Jinja characters, inline if/else, constants' homes
	@$(PYTHON) bench/yaml_metrics.py

bench-health: lab-up ## Median time of one etcd health check per backend, vs etcdctl
	@$(PYTHON) -m bench.health_check

lint: setup ## ansible-lint (production profile, no skip list), ansible-test sanity (offline tests), changelog fragments
	@ansible-lint
	@tests/sanity/run.sh
	@antsibull-changelog lint

test-unit: setup ## Unit tests (no docker)
	@bash tests/run_aside.sh $(PYTHON) -m pytest tests/unit -q

# Two workers (pytest-xdist): a flow test mostly waits on its own cluster (boots, etcd's
# timings, Ansible's polls), so two side by side keep both cores busy; each test has its
# own cluster and each worker its own loopback block.
test-flow: setup ## The flow tier: the real playbooks against local host aliases and a local etcd cluster (no docker)
	@bash tests/run_aside.sh $(PYTHON) -m pytest tests/flow -q -n 2 --durations=10

test-integration: lab-up ## Integration tests against the lab
	@$(PYTHON) -m pytest tests/integration -q --durations=25

test-faults: lab-up ## The whole fault matrix and every refusal (CI runs a subset)
	@$(PYTHON) -m pytest tests/integration/test_fault_matrix.py tests/integration/test_remediate_refusals.py \
	  -q -m "faults_full or not faults_full"

setup-vm: ## setup, plus qemu, OVMF and the disk tools for the real-kernel VM
	@bash lab/setup.sh vm

vm-up: setup-vm ## Build the VM image if needed (cached) and start the VM (inventory/vm)
	@$(LAB) vm up

vm-down: ## Stop the VM and drop its disk overlay (the image stays cached)
	@$(LAB) vm down

test-vm: setup-vm ## The kit on a real kernel: detect and remediate a Debian VM under qemu
	@$(PYTHON) -m pytest tests/vm -q

test-molecule: lab-up ## Molecule scenarios (default, host_layout, abort, paramiko) against the lab, each timed
	@set -e; for scenario in $$(cd extensions/molecule && ls -d */molecule.yml | cut -d/ -f1); do \
	  started=$$(date +%s); molecule test -s "$$scenario"; \
	  echo "[test] molecule scenario $$scenario passed in $$(( $$(date +%s) - started )) s"; done

test: setup ## Everything CI runs (each stage's time is printed; the stages that need no lab run beside the lab's)
	@bash tests/run_stages.sh
	@echo "make test leaves out make test-vm (the kit on a real kernel): under qemu's software emulation it takes"
	@echo "about 15 minutes more than CI's budget allows beside the rest; run it on demand: make test-vm"
