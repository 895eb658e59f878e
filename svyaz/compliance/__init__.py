"""Lawful access, retention, legal hold and the audit log (issues: identity, lawful access).

Domain rules here stay free of I/O; they reach the store only through ports.
"""
