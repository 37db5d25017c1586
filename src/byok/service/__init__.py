"""byok.service."""
