"""Scheduled restic backups to a separate site and the restore drill (issue: backups).

Drives the Debian `restic` binary with `--json`; the stack installs it.
"""
