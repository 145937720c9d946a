"""`python -m actlab` runs the command-line interface."""

from actlab.cli import main

main()
