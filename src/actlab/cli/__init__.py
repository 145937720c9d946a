"""The `actlab` command line (typer + rich, from the ``cli`` extra).

Checked here, before any command module imports them, so a missing extra says which to install.
"""

from actlab.core.extras import require

require("typer", "the actlab command line", "cli")
require("rich", "the actlab command line", "cli")
