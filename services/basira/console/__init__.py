"""The web console's backend-for-frontend: OIDC sign-in, sessions, and the gRPC APIs as the user."""
