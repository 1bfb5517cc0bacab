# glmterm — the two commands people need:
#   make run    install what is missing, build, start glmterm (ARGS="..." passes arguments)
#   make test   install what is missing, build, run every test (also under ASan+UBSan)
# Other targets: build, install (PREFIX=/usr/local), format, format-check, lint-man, clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
CMAKE_GEN  ?= -G Ninja
CTEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all setup build run test test-fast install format format-check lint-man clean

all: build

setup:
	@bash scripts/setup

build: setup
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD)

run: build
	./$(BUILD)/glmterm $(ARGS)

# The full suite: the normal build's tests, the unit tests again with AddressSanitizer and
# UndefinedBehaviorSanitizer, then the format and man page checks.
test: build
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DGLMTERM_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD)
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(CTEST_JOBS) -L unit
	$(MAKE) --no-print-directory format-check lint-man

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run --Werror $(SOURCES) && echo "format-check: ok"

lint-man:
	@mandoc -T lint -W warning man/glmterm.1 && echo "lint-man: ok"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
