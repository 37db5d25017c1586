"""byok.core.policy."""
