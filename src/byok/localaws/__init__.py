"""byok.localaws."""
