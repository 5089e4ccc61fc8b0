"""Generated gRPC stubs for the basira.v1 contracts: run `make proto`, never edit by hand."""
