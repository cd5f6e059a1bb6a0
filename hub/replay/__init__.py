"""What if: recorded readings run through the live hub's own rules and alert lifecycle."""
