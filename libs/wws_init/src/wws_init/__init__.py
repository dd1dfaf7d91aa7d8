"""WWS in-workspace init.

Runs inside every workspace container at each start, as the workspace user, with only
the Python standard library (the host agent bind-mounts this package read-only at
``/run/wws/init`` and runs ``python3 -m wws_init``). It clones the repository, applies
dotfiles, runs bootstrap scripts and devcontainer lifecycle commands, starts the IDE, and
reports every step as a JSON line the host agent turns into events.
"""

__version__ = "0.1.0"
