"""byok.aws."""
