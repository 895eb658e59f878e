"""Widgets of the chat app, each with its own DEFAULT_CSS."""
