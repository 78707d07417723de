# Flint — build, test, benchmark. Every target installs the system packages it needs first
# (Debian/Ubuntu: apt-get, as root or through sudo).

SWIFT ?= swift
SYSTEM_PACKAGES := pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libopenblas-dev zlib1g-dev libdeflate0
RELEASE := $(SWIFT) build -c release

.PHONY: deps build test tensorboard-check bench bench-peers devices demo clean

deps:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

# The OpenCL half of the suite must never be skipped silently: no OpenCL device fails the run.
test: deps
	$(SWIFT) build --build-tests
	FLINT_REQUIRE_OPENCL=1 $(SWIFT) test
	@# The conformance suite again with the kernels' GPU variants (one work-item per element),
	@# so that code is checked on PoCL too and not only when a GPU is present.
	FLINT_OPENCL_PROFILE=gpu FLINT_REQUIRE_OPENCL=1 $(SWIFT) test --skip-build --filter Conformance

# Flint's TensorBoard event files read by the real tensorboard package (installed from PyPI into
# a virtual environment under .build): a short MLP run, then every logged scalar must be found.
# Needs MNIST where Flint looks (or DATA_DIR=folder) and python3 with venv.
TB_CHECK := .build/tensorboard-check
TB_VENV := .build/tensorboard-venv
tensorboard-check: deps
	$(SWIFT) build --product flint
	@[ -x $(TB_VENV)/bin/python ] || python3 -m venv $(TB_VENV) || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv"; exit 1; }
	@$(TB_VENV)/bin/python -c "import tensorboard" 2>/dev/null || $(TB_VENV)/bin/pip install -q tensorboard
	rm -rf $(TB_CHECK)
	.build/debug/flint train --model mlp --epochs 2 $(if $(DATA_DIR),--data-dir $(DATA_DIR)) --output $(TB_CHECK)/pictures \
		--tensorboard $(TB_CHECK)/logs --tensorboard-every 100 --log $(TB_CHECK)/run.jsonl
	$(TB_VENV)/bin/python Tools/check_tensorboard.py $(TB_CHECK)/logs $(TB_CHECK)/run.jsonl

devices: deps
	$(RELEASE) --product flint
	.build/release/flint devices

bench: deps
	$(RELEASE) --product flint-bench
	.build/release/flint-bench ops
	.build/release/flint-bench models --compare

# Flint beside PyTorch and scikit-learn (pip install torch scikit-learn) in one table.
bench-peers: deps
	$(RELEASE) --product flint-bench
	python3 Benchmarks/peers/compare.py

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

clean:
	rm -rf .build
