module ark.dev/hack/bench/loadgen

go 1.22
