"""Offline checks of the Bicep under infra/ (the Bicep compiler cannot be installed here)."""
