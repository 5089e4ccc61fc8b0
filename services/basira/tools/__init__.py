"""Developer tools run by the Makefile (code generation)."""
