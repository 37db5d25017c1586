"""byok.store."""
