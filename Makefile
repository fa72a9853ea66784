# The gateway: plain Makefile + pkg-config. See README.md.
#   make            build build/gateway (and the mock provider)
#   make run        install what is missing, build, start with the example config
#   make test       install what is missing, build, run unit + integration tests
#   make asan       the same tests with AddressSanitizer + UBSan (build in build/asan)
#   make bench      wrk load figures (README "Performance")

BUILD   ?= build
CC      ?= cc
WERROR  ?= 1
PKGS     = libmicrohttpd libcurl libhs libjwt jansson libpcre2-8 libcrypto gnutls
DEB_PKGS = build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libpcre2-dev \
           libhyperscan-dev libjansson-dev libssl-dev libjwt-dev libgnutls28-dev \
           curl wrk python3 openssl

WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef \
          -Wvla -Wwrite-strings -Wcast-qual -Wimplicit-fallthrough
ifeq ($(WERROR),1)
WARN   += -Werror
endif
HARDEN  = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fPIE
HARDLD  = -pie -Wl,-z,relro,-z,now
SANFL   = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     ?= -O2

ifeq ($(SAN),1)
HARDEN  = -fPIE
OPT     = -O1
XFLAGS  = $(SANFL)
endif

# Deferred (=, not :=): on a fresh machine the packages arrive with the deps target, after
# this file is read, so the flags are asked for when a recipe runs.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS  = -std=c11 $(OPT) -g -D_GNU_SOURCE $(WARN) $(HARDEN) $(XFLAGS) -I. $(PKG_CFLAGS)
LDFLAGS = $(HARDLD) $(XFLAGS)
LDLIBS  = $(PKG_LIBS) -lpthread -lm

COMMON_SRC = $(wildcard common/*.c)
POL_SRC    = $(wildcard policy/*.c)
RED_SRC    = $(wildcard redaction/*.c)
GW_SRC     = $(filter-out gateway/gw_main.c,$(wildcard gateway/*.c))
LIB_SRC    = $(COMMON_SRC) $(POL_SRC) $(RED_SRC) $(GW_SRC)
LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_MODS  = $(notdir $(wildcard tests/unit/*))
UNIT_MODS := $(filter-out check.h,$(UNIT_MODS))
UNIT_BINS  = $(UNIT_MODS:%=$(BUILD)/unit_%)
BENCH_BINS = $(patsubst tests/bench/bench_%.c,$(BUILD)/bench_%,$(wildcard tests/bench/bench_*.c))

.PHONY: all deps run test unit integration asan bench soak certs clean lint format eval
all: deps-check $(BUILD)/gateway $(BUILD)/mock_provider

# Install missing Debian packages (root, or sudo when available).
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

deps-check:
	@pkg-config --exists $(PKGS) || $(MAKE) --no-print-directory deps
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run make deps"; exit 1; }

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/gateway: $(LIB_OBJ) $(BUILD)/obj/gateway/gw_main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/mock_provider: $(wildcard tests/mock/*.c) $(wildcard tests/mock/*.h)
	@mkdir -p $(BUILD)
	$(CC) -std=c11 $(OPT) -g -D_GNU_SOURCE $(WARN) $(XFLAGS) -o $@ $(filter %.c,$^) \
	  $(shell pkg-config --cflags --libs libmicrohttpd jansson) -lpthread

$(BUILD)/unit_%: $(wildcard tests/unit/*/*.c) tests/unit/check.h $(LIB_OBJ)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $(wildcard tests/unit/$*/*.c) $(LIB_OBJ) $(LDLIBS)

$(BUILD)/bench_%: tests/bench/bench_%.c $(LIB_OBJ)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

unit: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

integration: all
	@GW_BIN=$(BUILD)/gateway MOCK_BIN=$(BUILD)/mock_provider tests/integration/run.sh

test: deps all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration
	@echo "make test: all passed"

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test

run: deps all
	@./scripts/run.sh $(BUILD)

bench: deps all $(BENCH_BINS)
	@./tests/bench/bench.sh $(BUILD)

# Long mixed load watched for leaks (SOAK_SECONDS, default 300; SOAK_WORKERS, default 12).
soak: deps all
	@GW_BIN=$(BUILD)/gateway MOCK_BIN=$(BUILD)/mock_provider python3 tests/bench/soak.py

# Redaction quality on the engine's corpus and on the independent holdout (a report; the
# gating corpus test is part of the unit tests).
eval: all
	@python3 tests/corpus/eval_corpus.py tests/corpus/corpus.jsonl --gateway $(BUILD)/gateway --report-only
	@python3 tests/corpus/eval_corpus.py tests/corpus/holdout/holdout.jsonl --gateway $(BUILD)/gateway --report-only

certs: deps
	@./certs/make-certs.sh

lint:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|strtok|alloca|system)\s*\(' \
	  $(LIB_SRC) gateway/gw_main.c tests/mock/*.c || { echo "banned call"; exit 1; }

format:
	clang-format -i $(LIB_SRC) gateway/*.h policy/*.h redaction/*.h common/*.h

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
