"""The policy service: Rego policies behind OPA's REST Data API, on an embedded regorus engine."""
