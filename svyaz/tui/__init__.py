"""The Textual admin TUI for security officers (`svyaz admin`).

A client of the node's admin API like any other: it never imports node internals or opens the store.
"""
