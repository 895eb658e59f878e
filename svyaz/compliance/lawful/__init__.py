"""Lawful access (issue 6; docs/compliance.md): requests of authorities under a four-eyes
workflow, scoped and signed exports, retention with legal hold, the transparency report.

  model      the request, its legal basis, its states and steps (pure)
"""
