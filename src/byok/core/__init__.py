"""The pure core: format, key derivation, encryption context, policies.

Nothing under ``byok.core`` imports boto3, a database driver or a web framework
(STYLE.md guideline 1); ``tests/unit/test_core_is_pure.py`` checks it.
"""
