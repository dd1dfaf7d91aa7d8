"""WWS reaper: stops workspaces nobody has worked in for longer than their idle timeout."""

__version__ = "0.1.0"
