"""One module per `c5desk` command, each with add_arguments(parser) and run(args) -> int."""
