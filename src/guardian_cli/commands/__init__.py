"""One module per `guardian` subcommand. Each command is a function of typed values (parser.py turns the
command line into them) that prints its output and returns the exit status."""
