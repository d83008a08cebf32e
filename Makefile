# The two commands in README.md. Both set up everything a fresh machine needs.
.PHONY: demo test setup lint down

demo: ## a disaster-recovery cycle on a local control plane
	hack/demo

test: ## lint, type-check and run the test suite against real servers
	hack/test

setup: ## install the Python environment and build the local servers (once)
	hack/setup

lint:
	uv run ruff format --check . && uv run ruff check . && uv run mypy && uv run lint-imports

down: ## stop every local server hack/ started
	-hack/cluster down --all
	-hack/objstore down --all
