"""The code the functions share. Never imports azure.functions."""

__version__ = "0.1.0"
