"""One folder per supervised service: its program (if ours) and its supervisor.conf template."""
