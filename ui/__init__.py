"""Masterbox front panel (knobs, screens, display): see the panel issue."""
