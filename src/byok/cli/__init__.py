"""The ``byok`` command line."""
