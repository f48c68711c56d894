"""One module per ``studio`` sub-command, each with ``add_parser(subparsers)`` (see ``studio.cli.COMMANDS``)."""
