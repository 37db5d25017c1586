"""The narrated end-to-end demo (``byok demo``, ``make demo``)."""
