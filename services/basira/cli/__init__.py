"""The `basira` command line: one entry point, a subcommand per area."""
