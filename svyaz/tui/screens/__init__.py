"""Screens of the chat app: the main chat screen and its small dialogs."""
