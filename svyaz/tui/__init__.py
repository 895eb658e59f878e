"""Textual apps of Svyaz. Today: `svyaz chat`, an interactive messenger for the accounts on this device.

A client like any other: it talks to nodes through the client SDK (`svyaz.client`) and never imports
`svyaz.node`, the messaging internals, or opens the store. `state` is plain Python (no Textual, no
trio); `backend` is the small port the app uses; `messenger_backend` implements it over the trio SDK.
An admin TUI for security officers (`svyaz admin`) may join this package later, under the same rules.
"""
