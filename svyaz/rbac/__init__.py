"""Casbin RBAC with regions as domains; the one guard every action passes (issue: identity).

Policies are data in `policies/`; this package loads them and answers allow/deny.
"""
