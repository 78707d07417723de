# Flint — build, test, benchmark. Every target installs the system packages it needs first
# (Debian/Ubuntu: apt-get, as root or through sudo).

SWIFT ?= swift
SYSTEM_PACKAGES := pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libopenblas-dev zlib1g-dev libdeflate0 python3 python3-venv openmpi-bin
RELEASE := $(SWIFT) build -c release
# Debug builds compile the C targets optimised: unoptimised, FlintCPU's own matrix product
# (Sources/CGemm) steps aside for OpenBLAS, and the tests must run it.
COPT := -Xcc -O2

.PHONY: deps build test docs interop-check interop tensorboard-check bench bench-peers gpu-check devices doctor demo fuzz sanitize soak clean

deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build $(COPT)

# The OpenCL half of the suite must never be skipped silently: no OpenCL device fails the run.
test: deps
	$(SWIFT) build $(COPT) --build-tests
	FLINT_REQUIRE_OPENCL=1 FLINT_REQUIRE_MPI=1 $(SWIFT) test $(COPT)
	@# The conformance suite again with the kernels' GPU variants (one work-item per element),
	@# so that code is checked on PoCL too and not only when a GPU is present.
	FLINT_OPENCL_PROFILE=gpu FLINT_REQUIRE_OPENCL=1 $(SWIFT) test $(COPT) --skip-build --filter Conformance
	$(MAKE) --no-print-directory interop-check

# Flint's files read and written by Python's safetensors and NumPy (small pip installs into a
# virtual environment under .build): PyTorch-layout weights converted into Flint must give the
# logits of a NumPy forward pass with PyTorch's definitions, and convert back bit for bit.
INTEROP_VENV := .build/interop-venv
interop-check: deps
	$(SWIFT) build $(COPT) --product flint
	@[ -x $(INTEROP_VENV)/bin/python ] || python3 -m venv $(INTEROP_VENV)
	@$(INTEROP_VENV)/bin/python -c "import numpy, safetensors" 2>/dev/null || $(INTEROP_VENV)/bin/pip install -q numpy safetensors
	$(INTEROP_VENV)/bin/python Tools/pytorch_interop.py numpy .build/debug/flint .build/interop-check

# The same against real PyTorch on MNIST (pip install torch into the same environment): Flint's
# trained MLP and CNN run in PyTorch with the same logits, and a PyTorch-trained CNN keeps its
# accuracy in Flint. DATA_DIR holds mnist/ (default: the shared data folder beside the checkout).
interop: deps
	$(SWIFT) build $(COPT) --product flint
	@[ -x $(INTEROP_VENV)/bin/python ] || python3 -m venv $(INTEROP_VENV)
	@$(INTEROP_VENV)/bin/python -c "import numpy, safetensors, torch" 2>/dev/null || \
		$(INTEROP_VENV)/bin/pip install -q numpy safetensors torch
	$(INTEROP_VENV)/bin/python Tools/pytorch_interop.py torch .build/debug/flint .build/interop $(or $(DATA_DIR),../shared/data)

# Flint's TensorBoard event files read by the real tensorboard package (installed from PyPI into
# a virtual environment under .build): a short MLP run, then every logged scalar must be found.
# Needs MNIST where Flint looks (or DATA_DIR=folder) and python3 with venv.
TB_CHECK := .build/tensorboard-check
TB_VENV := .build/tensorboard-venv
tensorboard-check: deps
	$(SWIFT) build $(COPT) --product flint
	@[ -x $(TB_VENV)/bin/python ] || python3 -m venv $(TB_VENV) || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv"; exit 1; }
	@$(TB_VENV)/bin/python -c "import tensorboard" 2>/dev/null || $(TB_VENV)/bin/pip install -q tensorboard
	rm -rf $(TB_CHECK)
	.build/debug/flint train --model mlp --epochs 2 $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --output $(TB_CHECK)/pictures \
		--tensorboard $(TB_CHECK)/logs --tensorboard-every 100 --log $(TB_CHECK)/run.jsonl
	$(TB_VENV)/bin/python Tools/check_tensorboard.py $(TB_CHECK)/logs $(TB_CHECK)/run.jsonl

devices: deps
	$(RELEASE) --product flint
	.build/release/flint devices

# Every primitive on each device against the CPU backend, with kernel build times and driver details.
doctor: deps
	$(RELEASE) --product flint
	.build/release/flint doctor

bench: deps
	$(RELEASE) --product flint-bench
	.build/release/flint-bench ops
	.build/release/flint-bench models --compare

# Flint beside PyTorch and scikit-learn (pip install torch scikit-learn) in one table.
# The peers (PyTorch, scikit-learn) live in a virtual environment under .build: benchmark tools,
# never dependencies of Flint. A failed scikit-learn install only drops its column.
PEERS_VENV := .build/peers-venv
# PEER_ROUNDS=3 runs Flint and the peers in turn three times and prints medians (a shared,
# noisy machine); each round takes about two minutes.
PEER_ROUNDS ?= 1
bench-peers: deps
	$(RELEASE) --product flint-bench
	@[ -x $(PEERS_VENV)/bin/python ] || python3 -m venv $(PEERS_VENV)
	@$(PEERS_VENV)/bin/python -c "import torch" 2>/dev/null || $(PEERS_VENV)/bin/pip install -q torch
	@$(PEERS_VENV)/bin/python -c "import sklearn" 2>/dev/null || $(PEERS_VENV)/bin/pip install -q scikit-learn || true
	$(PEERS_VENV)/bin/python Benchmarks/peers/compare.py --rounds $(PEER_ROUNDS)

# On a machine with an OpenCL GPU: build, conformance suite, GEMM tuning and kernel checks, `flint tune`,
# then `flint-bench ops` (GFLOP/s and share of the estimated peak) and `models` on the first GPU.
# GPU_CHECK_DEVICE=opencl:N chooses another device (see scripts/gpu-check.sh).
gpu-check: deps
	SWIFT="$(SWIFT)" scripts/gpu-check.sh

# The main job: train the MLP on Fashion-MNIST on the default device. Without the data files
# anywhere Flint looks, install Debian's dataset-fashion-mnist package first.
DATASET ?= fashion-mnist
EPOCHS ?= 5
demo: deps
	$(RELEASE) --product flint
	@found=""; \
	for root in "$$FLINT_DATA_DIR" /usr/share/datasets "$${XDG_CACHE_HOME:-$$HOME/.cache}/flint/datasets"; do \
		[ -n "$$root" ] && ls "$$root/$(DATASET)"/train-images-idx3-ubyte* >/dev/null 2>&1 && found=1; \
	done; \
	if [ -z "$$found" ] && [ "$(DATASET)" = fashion-mnist ]; then \
		echo "No Fashion-MNIST files found: installing Debian's dataset-fashion-mnist"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq dataset-fashion-mnist; \
	fi
	.build/release/flint train --model mlp --dataset $(DATASET) --epochs $(EPOCHS)

# libFuzzer on the IDX, gzip and CSV readers (with AddressSanitizer), FUZZ_SECONDS each (default 60),
# from the seeds in Fuzz/Corpus; builds into .build-fuzz. Fails if a reader crashes.
FUZZ_SECONDS ?= 60
fuzz: deps
	SWIFT="$(SWIFT)" FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/run.sh

# The test suite under AddressSanitizer and LeakSanitizer (separate build in .build-asan). Leaks
# are suppressed only where Sanitizers/lsan-suppressions.txt says why (libraries not ours).
# use_sigaltstack=0: ASan's own alternate signal stack per thread collides with the one the
# Swift runtime's backtracer installs, and ASan then dies unmapping a stack it does not own.
ASAN_TEST_ENV := ASAN_OPTIONS=detect_leaks=1:use_sigaltstack=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/Sanitizers/lsan-suppressions.txt:print_suppressions=0 FLINT_REQUIRE_OPENCL=1
sanitize: deps
	$(SWIFT) build $(COPT) --build-tests --scratch-path .build-asan -Xswiftc -sanitize=address
	$(ASAN_TEST_ENV) $(SWIFT) test $(COPT) --skip-build --scratch-path .build-asan

# Trains for SOAK_SECONDS (default an hour) sampling RSS; fails if memory grows more than 5%
# after the first epoch (see scripts/soak.sh for the knobs).
SOAK_SECONDS ?= 3600
soak: deps
	SWIFT="$(SWIFT)" SOAK_SECONDS=$(SOAK_SECONDS) scripts/soak.sh

# DocC for the modules users import (swift-docc-plugin): one archive each under
# .build/plugins/Swift-DocC/outputs. Any DocC warning fails the target; then the share of
# public declarations with a /// comment, per module.
DOCS_TARGETS := Flint FlintCore FlintNN FlintData
docs: deps
	@mkdir -p .build
	@status=0; $(SWIFT) package --disable-sandbox generate-documentation $(DOCS_TARGETS:%=--target %) \
		> .build/docs.log 2>&1 || status=$$?; cat .build/docs.log; exit $$status
	@if grep -n "warning:" .build/docs.log; then echo "make docs: the DocC warnings above must be fixed"; exit 1; fi
	@python3 scripts/doc_coverage.py

clean:
	rm -rf .build .build-fuzz .build-asan
