# Build, test and run the Wave to Pipedrive sync service on Debian 12.
#
#   make run    start PostgreSQL, the Pipedrive sandbox and the server
#   make test   build and run every test against a private PostgreSQL
#   make bench  the import benchmark (BENCH_ARGS passes flags to it)
#
# Both install the Debian packages they need first (make deps).

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

DEBIAN_PACKAGES := \
  build-essential cmake ninja-build pkg-config python3 \
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc protobuf-compiler \
  libprotobuf-dev libabsl-dev libpqxx-dev libpq-dev libcurl4-openssl-dev \
  nlohmann-json3-dev libssl-dev libspdlog-dev libfmt-dev libcpp-httplib-dev \
  libgtest-dev libgmock-dev googletest \
  postgresql-15 postgresql-client-15 grpc-proto curl

BENCH_ARGS ?= --contacts=2000 --burst_limit=80 --latency_ms=50

.PHONY: all deps configure build test bench run clean

all: build

# Installs only what is missing, so it is quick when everything is there.
deps:
	@missing=""; \
	for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null \
	    | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	tests/with_postgres.sh ctest --test-dir $(BUILD_DIR) --output-on-failure \
	  --timeout 300 -j$(JOBS)

bench: build
	tests/with_postgres.sh $(BUILD_DIR)/bench/import_bench $(BENCH_ARGS)

run: build
	deploy/local/run.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
