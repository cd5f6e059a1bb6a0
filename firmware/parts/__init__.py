"""The firmware's parts, each with the narrow interface the runner's loop calls."""
