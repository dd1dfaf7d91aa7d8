"""WWS authorization: ``authorize(subject, action, resource)`` decides every request."""

from wws_authz.policy import ACTIONS, Action, Decision, Resource, Subject, authorize, scope_for, workspace_access

__all__ = ["ACTIONS", "Action", "Decision", "Resource", "Subject", "authorize", "scope_for", "workspace_access"]
