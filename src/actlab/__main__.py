"""`python -m actlab` runs the command-line interface."""

from actlab.cli.main import main

main()
