"""byok: bring-your-own-key envelope encryption rooted in each tenant's AWS KMS key."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
