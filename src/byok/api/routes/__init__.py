"""The API's routers: tenants (onboarding, tokens), documents, service (audit, probes)."""
