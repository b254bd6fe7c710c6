# Swell — common tasks. `make demo` and `make test` are the two to know.
SWIFT ?= swift

.PHONY: all setup build demo test bench clean

all: build

## setup: install system packages and the demo model (idempotent)
setup:
	hack/setup.sh

## build: debug build of everything
build:
	$(SWIFT) build

## demo: start a server, apply the examples, inspect them, shut down cleanly
demo: setup
	hack/demo.sh

## test: build everything (the integration tests run the real executables), then run every test
test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test

## bench: engine throughput and serving against llama.cpp, memory per replica, the router, control-plane and autoscaler reaction
bench: setup
	hack/setup-bench.sh
	hack/bench-engine.sh
	hack/bench-serving.sh
	hack/bench-memory.sh
	hack/bench-router.sh
	hack/bench-controlplane.sh

## clean: remove build products and local server data
clean:
	$(SWIFT) package clean
	rm -rf .swell
