"""Development identity issuer: serves a Keycloak realm export with Keycloak's endpoints and token shapes."""

from basira.identity.server import DEFAULT_REALM_FILE, IssuerApp, issuer_in_thread, start_issuer

__all__ = ["DEFAULT_REALM_FILE", "IssuerApp", "issuer_in_thread", "start_issuer"]
